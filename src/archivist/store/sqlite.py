"""SQLite (through sqlite-utils): articles, passages with their vectors, and FTS5. The truth.

`Store` is the one interface; its reads live beside it (`articles`, `lookup`, `passages`), its
checks and repair in `integrity`, its writes here, where each batch is one transaction that
decides duplicates itself and moves the term counts with the full text (`passages.count_terms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sqlite_utils

from archivist.store import migrations
from archivist.store.articles import ArticleReads
from archivist.store.connection import chunks
from archivist.store.integrity import Integrity
from archivist.store.lookup import ArticleLookup
from archivist.store.passages import (
    FtsRow,
    PassageReads,
    collection_token,
    count_passages_moved,
    count_terms,
)
from archivist.store.rows import Inserted, NewArticle, now_iso


def _bump(db: sqlite_utils.Database, collection: str) -> tuple[int, int]:
    """Inside a write transaction: (generation before, generation after)."""
    row = db.execute(
        "SELECT generation FROM collection_state WHERE collection = ?", [collection]
    ).fetchone()
    before = row[0] if row else 0
    db.execute(
        "INSERT OR REPLACE INTO collection_state (collection, generation) VALUES (?, ?)",
        [collection, before + 1],
    )
    return before, before + 1


def _next_passage_id(db: sqlite_utils.Database) -> int:
    """Inside a write transaction: the first id never handed out (`m005_passage_sequence`);
    past every stored passage too, should something have stored one without it."""
    row = db.execute(
        "SELECT max(coalesce((SELECT next_id FROM passage_sequence), 1),"
        " coalesce((SELECT max(id) FROM passages), 0) + 1)"
    ).fetchone()
    return int(row[0])


def _insert_article(
    db: sqlite_utils.Database,
    collection: str,
    item: NewArticle,
    ids: Sequence[int],
    added_at: str,
    added_by: str | None,
) -> list[FtsRow]:
    """Inside a write transaction: the article, its passages and their full-text rows, which
    it hands back for the batch's term counts."""
    a = item.article
    cursor = db.execute(
        "INSERT INTO articles"
        " (id, collection, title, source, url, date, category, agency,"
        " content_hash, added_at, added_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            item.article_id,
            collection,
            a.title,
            a.source,
            a.url,
            a.date,
            a.category,
            a.agency,
            item.content_hash,
            added_at,
            added_by,
        ],
    )
    article_pk = cursor.lastrowid
    token = collection_token(collection)
    stems: Sequence[str | None] = item.stems or [None] * len(item.passages)
    db.conn.executemany(
        "INSERT INTO passages (id, article, collection, position, heading, text, stems)"
        " VALUES (?,?,?,?,?,?,?)",
        [
            (pid, article_pk, collection, passage.position, passage.heading, passage.text, stem)
            for pid, passage, stem in zip(ids, item.passages, stems, strict=True)
        ],
    )
    db.conn.executemany(
        "INSERT INTO passage_vectors (id, vector) VALUES (?,?)",
        [
            (pid, np.asarray(vector, dtype=np.float32).tobytes())
            for pid, vector in zip(ids, item.vectors, strict=True)
        ],
    )
    fts: list[FtsRow] = [(a.title, p.heading or "", p.text) for p in item.passages]
    db.conn.executemany(
        "INSERT INTO passages_fts (rowid, title, heading, text, coll) VALUES (?,?,?,?,?)",
        [(pid, *row, token) for pid, row in zip(ids, fts, strict=True)],
    )
    return fts


def _fts_rows(db: sqlite_utils.Database, ids: Sequence[int]) -> list[FtsRow]:
    """The full-text rows of `ids` as indexed (a damaged store may lack some): what their
    removal takes out of the term counts."""
    rows: list[FtsRow] = []
    for chunk in chunks(ids):
        rows += db.execute(
            "SELECT title, heading, text FROM passages_fts"
            f" WHERE rowid IN ({','.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
    return rows


class Store(ArticleReads, ArticleLookup, PassageReads, Integrity):
    """The archive's SQLite file, migrated to the newest schema (feed tables included) at open."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        with self.transaction() as db:
            migrations.apply(db)

    # -- meta --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    # -- writes ------------------------------------------------------------------------------
    def generation(self, collection: str) -> int:
        row = self.db.execute(
            "SELECT generation FROM collection_state WHERE collection = ?", [collection]
        ).fetchone()
        return row[0] if row else 0

    def find_duplicate(self, collection: str, digest: str) -> str | None:
        row = self.db.execute(
            "SELECT id FROM articles WHERE collection = ? AND content_hash = ?",
            [collection, digest],
        ).fetchone()
        return row[0] if row else None

    def id_taken(self, collection: str, article_id: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM articles WHERE collection = ? AND id = ?", [collection, article_id]
            ).fetchone()
            is not None
        )

    def insert_articles(
        self, collection: str, items: Sequence[NewArticle], added_by: str | None
    ) -> Inserted:
        """Store a batch in one transaction. Whether each article is new is decided here, under
        the write lock, since another ingest (a thread or a process) may have stored the same
        text or taken the same id since the caller's cheap check: those are handed back, not
        stored, and the rest of the batch is."""
        inserted = Inserted([], (0, 0), [], [])
        added_at = now_iso()
        fts: list[FtsRow] = []
        with self.transaction() as db:
            next_id = _next_passage_id(db)
            for item in items:
                existing = self.find_duplicate(collection, item.content_hash)
                if existing is not None:
                    inserted.duplicates.append((item, existing))
                elif self.id_taken(collection, item.article_id):
                    inserted.taken.append(item)
                else:
                    ids = list(range(next_id, next_id + len(item.passages)))
                    fts += _insert_article(db, collection, item, ids, added_at, added_by)
                    inserted.stored.append((item, ids))
                    next_id += len(ids)
            if inserted.stored:
                db.execute("UPDATE passage_sequence SET next_id = ?", [next_id])
                count_terms(db, fts, 1)
                count_passages_moved(db, len(fts))
                generations = _bump(db, collection)
            else:  # nothing written: other processes need not look again
                current = self.generation(collection)
                generations = (current, current)
        return inserted._replace(generations=generations)

    def delete_article(
        self, collection: str, article_id: str
    ) -> tuple[list[int], tuple[int, int]] | None:
        """Delete an article with its passages and FTS rows: the passage ids removed and the
        generations before and after (None when there is no such article)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT pk FROM articles WHERE collection = ? AND id = ?", [collection, article_id]
            ).fetchone()
            if row is None:
                return None
            generations = _bump(db, collection)
            ids = [r[0] for r in db.execute("SELECT id FROM passages WHERE article = ?", [row[0]])]
            count_terms(db, _fts_rows(db, ids), -1)
            count_passages_moved(db, -len(ids))
            db.conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
            db.execute("DELETE FROM passages WHERE article = ?", [row[0]])
            db.execute("DELETE FROM articles WHERE pk = ?", [row[0]])
        return ids, generations

"""PostgreSQL with pgvector: the second store, behind the same interface as SQLite's `Store`.

Chosen by `ARCHIVIST_DATABASE_URL=postgresql://…`. Articles, passages with their vectors
(`vector(dim)`, an HNSW index on inner product: `pg_index` searches it, no FAISS file), full
text as FTS5 makes it (`pg_text`), generations, feeds and community tables; migrations are
numbered apart (`pg_migrations`). Each batch is one transaction under the database's write lock,
so writers in several processes (or machines) decide duplicates as SQLite's one writer does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from archivist.store import pg_migrations, pg_text
from archivist.store.pg_connection import PgDb
from archivist.store.pg_reads import PgReads
from archivist.store.rows import Inserted, NewArticle, now_iso


def _bump(db: PgDb, collection: str) -> tuple[int, int]:
    """Inside a write transaction: (generation before, generation after)."""
    after = db.execute_pg(
        "INSERT INTO collection_state (collection, generation) VALUES (%s, 1)"
        " ON CONFLICT (collection) DO UPDATE SET generation = collection_state.generation + 1"
        " RETURNING generation",
        [collection],
    ).fetchone()[0]
    return int(after) - 1, int(after)


def _count_terms(db: PgDb, term_sets: Sequence[set[str]], rows: int, tokens: int) -> None:
    """Move FTS5's counts by a batch's passages (negative counts when deleting)."""
    terms, counts = pg_text.doc_counts(term_sets)
    sign = 1 if rows >= 0 else -1
    db.execute_pg(
        "INSERT INTO term_docs (term, docs) SELECT * FROM unnest(%s::text[], %s::bigint[])"
        " ON CONFLICT (term) DO UPDATE SET docs = term_docs.docs + excluded.docs",
        [terms, [sign * c for c in counts]],
    )
    if sign < 0:
        db.execute_pg("DELETE FROM term_docs WHERE term = ANY(%s) AND docs <= 0", [terms])
    db.execute_pg("UPDATE fts_stats SET rows = rows + %s, tokens = tokens + %s", [rows, tokens])


def _recount_terms(db: PgDb) -> None:
    """Inside a write transaction: the counts bm25 reads, made again from the tsvectors."""
    db.execute_pg("DELETE FROM term_docs")
    db.execute_pg(
        "INSERT INTO term_docs (term, docs) SELECT u.lexeme, count(*)"
        " FROM passages p, unnest(p.fts) AS u GROUP BY u.lexeme"
    )
    db.execute_pg(
        "UPDATE fts_stats SET rows = (SELECT count(*) FROM passages),"
        " tokens = (SELECT coalesce(sum(tokens), 0) FROM passages)"
    )


def _text(value: str | None) -> str | None:
    """PostgreSQL's text takes no NUL (SQLite's does); the readers drop them, callers of the
    library may not."""
    return value.replace("\x00", "") if value else value


def _insert_article(
    db: PgDb, collection: str, item: NewArticle, added_at: str, added_by: str | None
) -> tuple[list[int], list[set[str]], int]:
    """(the passage ids, each passage's distinct terms, the tokens stored)."""
    a = item.article
    article_pk = db.execute_pg(
        "INSERT INTO articles (id, collection, title, source, url, date, category, agency,"
        " content_hash, added_at, added_by) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " RETURNING pk",
        [
            item.article_id,
            collection,
            *map(_text, (a.title, a.source, a.url, a.date, a.category, a.agency)),
            item.content_hash,
            added_at,
            _text(added_by),
        ],
    ).fetchone()[0]
    ids = [
        int(r[0])
        for r in db.execute_pg(
            "SELECT nextval('passage_ids') FROM generate_series(1, %s)", [len(item.passages)]
        ).fetchall()
    ]
    stems: Sequence[str | None] = item.stems or [None] * len(item.passages)
    rows, term_sets, tokens = [], [], 0
    for pid, passage, vector, stem_text in zip(
        ids, item.passages, item.vectors, stems, strict=True
    ):
        fts, held, count = pg_text.tsvector(a.title, passage.heading, passage.text)
        term_sets.append(held)
        tokens += count
        rows.append(
            (
                pid,
                article_pk,
                collection,
                passage.position,
                _text(passage.heading),
                _text(passage.text),
                np.asarray(vector, dtype=np.float32),
                stem_text,
                fts,
                count,
            )
        )
    with db.conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO passages (id, article, collection, position, heading, text, vector,"
            " stems, fts, tokens) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s::tsvector,%s)",
            rows,
        )
    return ids, term_sets, tokens


class PostgresStore(PgReads):
    """The archive in a PostgreSQL database (pgvector installed or installable), migrated to
    the newest schema at open; `dim`: the vectors' dimension, fixed by the first open;
    `hnsw`: index the vectors (else every search reads the collection's partition)."""

    def __init__(self, url: str, dim: int = 384, *, hnsw: bool = True) -> None:
        super().__init__(url)
        self.dim = dim
        with self.transaction() as db:
            pg_migrations.apply(db, dim)
            if hnsw:
                pg_migrations.ensure_vector_index(db, dim)

    # -- meta --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = %s", [key])
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute_pg(
                "INSERT INTO meta (key, value) VALUES (%s, %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    def newest_date(self, collection: str) -> str | None:
        """As SQLite's `newest_date`: dates compare byte-wise here too (`COLLATE "C"`)."""
        rows = self._rows(
            "SELECT max(date) FROM articles WHERE collection = %s AND date >= '0' AND date < ':'",
            [collection],
        )
        return rows[0][0] if rows else None

    def article_ids(self, collection: str) -> list[str]:
        rows = self._rows("SELECT id FROM articles WHERE collection = %s ORDER BY pk", [collection])
        return [r[0] for r in rows]

    def count_passages(self, collection: str) -> int:
        rows = self._rows("SELECT count(*) FROM passages WHERE collection = %s", [collection])
        return int(rows[0][0])

    # -- writes ------------------------------------------------------------------------------
    def generation(self, collection: str) -> int:
        rows = self._rows(
            "SELECT generation FROM collection_state WHERE collection = %s", [collection]
        )
        return int(rows[0][0]) if rows else 0

    def find_duplicate(self, collection: str, digest: str) -> str | None:
        rows = self._rows(
            "SELECT id FROM articles WHERE collection = %s AND content_hash = %s",
            [collection, digest],
        )
        return rows[0][0] if rows else None

    def id_taken(self, collection: str, article_id: str) -> bool:
        return bool(
            self._rows(
                "SELECT 1 FROM articles WHERE collection = %s AND id = %s",
                [collection, article_id],
            )
        )

    def insert_articles(
        self, collection: str, items: Sequence[NewArticle], added_by: str | None
    ) -> Inserted:
        """Store a batch in one transaction; duplicates decided under the write lock (see
        `Store.insert_articles`)."""
        inserted = Inserted([], (0, 0), [], [])
        added_at = now_iso()
        term_sets: list[set[str]] = []
        tokens = 0
        with self.transaction() as db:
            for item in items:
                existing = self.find_duplicate(collection, item.content_hash)
                if existing is not None:
                    inserted.duplicates.append((item, existing))
                elif self.id_taken(collection, item.article_id):
                    inserted.taken.append(item)
                else:
                    ids, held, count = _insert_article(db, collection, item, added_at, added_by)
                    inserted.stored.append((item, ids))
                    term_sets += held
                    tokens += count
            if inserted.stored:
                _count_terms(db, term_sets, len(term_sets), tokens)
                generations = _bump(db, collection)
            else:
                current = self.generation(collection)
                generations = (current, current)
        return inserted._replace(generations=generations)

    def delete_article(
        self, collection: str, article_id: str
    ) -> tuple[list[int], tuple[int, int]] | None:
        """Delete an article with its passages: the passage ids removed and the generations
        before and after (None when there is no such article)."""
        with self.transaction() as db:
            row = db.execute_pg(
                "SELECT pk FROM articles WHERE collection = %s AND id = %s",
                [collection, article_id],
            ).fetchone()
            if row is None:
                return None
            generations = _bump(db, collection)
            passages: list[Any] = db.execute_pg(
                "DELETE FROM passages WHERE collection = %s AND article = %s"
                " RETURNING id, tokens, tsvector_to_array(fts)",
                [collection, row[0]],
            ).fetchall()
            db.execute_pg("DELETE FROM articles WHERE pk = %s", [row[0]])
            if passages:
                _count_terms(
                    db,
                    [set(p[2]) for p in passages],
                    -len(passages),
                    -sum(int(p[1]) for p in passages),
                )
        return sorted(int(p[0]) for p in passages), generations

    def repair_integrity(self) -> None:
        """In one transaction: passages without an article go, then articles without
        passages; passages missing from the full text get their tsvector again; the counts
        bm25 reads are made again from the tsvectors. Every collection's generation moves,
        so other processes drop the counts they keep, as this one does. A vector cannot be
        repaired here (the column's type holds the dimension): `check` reports it."""
        with self.transaction() as db:
            db.execute_pg(
                "DELETE FROM passages p"
                " WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.pk = p.article)"
            )
            db.execute_pg(
                "DELETE FROM articles a"
                " WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.article = a.pk)"
            )
            refilled = []
            for pid, collection, title, heading, text in self.unindexed_passages():
                fts, _, count = pg_text.tsvector(title, heading, text)
                refilled.append((fts, count, collection, pid))
            if refilled:
                with db.conn.cursor() as cursor:
                    cursor.executemany(
                        "UPDATE passages SET fts = %s::tsvector, tokens = %s"
                        " WHERE collection = %s AND id = %s",
                        refilled,
                    )
            _recount_terms(db)
            db.execute_pg("UPDATE collection_state SET generation = generation + 1")
        self.doc_freq_cache.clear()
        self.total_cache.clear()

"""What `maintenance.check` asks of the SQLite store, and its repair: the same named questions
the PostgreSQL store answers (`pg_reads`, `postgres`), so the check itself knows no SQL.

Every passage has a vector of the model's dimension and a full-text row (with its collection's
token); no full-text row, passage or article is left without its other half; no article is
stored twice in a collection; the term counts (`term_docs`, `fts_stats`) are the full text's.
"""

from __future__ import annotations

import numpy as np
import sqlite_utils

from archivist.store.connection import Connections
from archivist.store.passages import (
    COLLECTION_TOKEN_GLOB,
    collection_token,
    count_terms,
    recount_terms,
)

ORPHAN_ARTICLES = "NOT EXISTS (SELECT 1 FROM passages p WHERE p.article = a.pk)"
STRAY_PASSAGES = "NOT EXISTS (SELECT 1 FROM articles a WHERE a.pk = p.article)"
STRAY_FTS = "rowid NOT IN (SELECT id FROM passages)"


def fill_missing_fts(db: sqlite_utils.Database) -> int:
    """Inside a write transaction: index the passages the full text lacks, each with its
    collection's token (a row without one is never found), and count their terms: the
    repair's."""
    missing = db.execute(
        "SELECT p.id, a.title, coalesce(p.heading, ''), p.text, p.collection"
        " FROM passages p JOIN articles a ON a.pk = p.article"
        " WHERE p.id NOT IN (SELECT rowid FROM passages_fts)"
    ).fetchall()
    db.conn.executemany(
        "INSERT INTO passages_fts (rowid, title, heading, text, coll) VALUES (?,?,?,?,?)",
        [(*r[:4], collection_token(r[4])) for r in missing],
    )
    count_terms(db, [(r[1], r[2], r[3]) for r in missing], 1)
    return len(missing)


class Integrity(Connections):
    def orphan_articles(self) -> list[tuple[str, str]]:
        """(collection, article id) of the articles without a passage."""
        rows = self.db.execute(
            f"SELECT a.collection, a.id FROM articles a WHERE {ORPHAN_ARTICLES} ORDER BY a.pk"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def count_bad_vectors(self, dim: int) -> int:
        """Passages without a vector of `dim` dimensions (float32: 4 bytes each)."""
        row = self.db.execute(
            "SELECT count(*) FROM passages p LEFT JOIN passage_vectors v ON v.id = p.id"
            " WHERE v.vector IS NULL OR length(v.vector) != ?",
            [dim * 4],
        ).fetchone()
        return int(row[0])

    def count_stray_passages(self) -> int:
        """Passages whose article is gone."""
        row = self.db.execute(f"SELECT count(*) FROM passages p WHERE {STRAY_PASSAGES}").fetchone()
        return int(row[0])

    def count_duplicate_articles(self) -> int:
        """Texts stored more than once in one collection."""
        row = self.db.execute(
            "SELECT count(*) FROM (SELECT collection, content_hash FROM articles"
            " GROUP BY collection, content_hash HAVING count(*) > 1)"
        ).fetchone()
        return int(row[0])

    def count_stray_fts(self) -> int:
        """Full-text rows without their passage."""
        row = self.db.execute(f"SELECT count(*) FROM passages_fts WHERE {STRAY_FTS}").fetchone()
        return int(row[0])

    def count_fts_drift(self) -> int:
        """The counts idf reads (`term_docs`, `fts_stats`) that disagree with the full text
        (fts5vocab, every posting list walked) and the passages: the terms off, and 1 if the
        totals are."""
        row = self.db.execute(
            "SELECT count(*) FROM"
            " (SELECT term, doc FROM passages_fts_vocab WHERE term NOT GLOB ?) AS held"
            " FULL JOIN term_docs d ON d.term = held.term"
            " WHERE coalesce(held.doc, 0) != coalesce(d.docs, 0)",
            [COLLECTION_TOKEN_GLOB],
        ).fetchone()
        totals = self.db.execute(
            "SELECT coalesce((SELECT rows FROM fts_stats), -1) != (SELECT count(*) FROM passages)"
        ).fetchone()
        return int(row[0]) + int(totals[0])

    def vector_ids(self, collection: str, dim: int) -> np.ndarray:
        """The collection's passages with a vector of `dim` dimensions, by id."""
        rows = self.db.execute(
            "SELECT p.id FROM passages p JOIN passage_vectors v ON v.id = p.id"
            " WHERE p.collection = ? AND length(v.vector) = ? ORDER BY p.id",
            [collection, dim * 4],
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def repair_integrity(self) -> None:
        """In one transaction: passages without an article go, then full-text rows without
        a passage; passages without a full-text row get one; articles without passages go (an
        article is stored whole in one transaction, so none of these is a write in flight);
        the term counts are made again from the full text. The vector index is the caller's
        to rebuild."""
        with self.transaction() as db:
            db.execute(f"DELETE FROM passages AS p WHERE {STRAY_PASSAGES}")
            db.execute(f"DELETE FROM passages_fts WHERE {STRAY_FTS}")
            fill_missing_fts(db)
            db.execute(f"DELETE FROM articles AS a WHERE {ORPHAN_ARTICLES}")
            recount_terms(db)

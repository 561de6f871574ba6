"""What `maintenance.check` asks of the SQLite store, and its repair: the same named questions
the PostgreSQL store answers (`pg_reads`, `postgres`), so the check itself knows no SQL.

Every passage has a vector of the model's dimension and a full-text row (with its collection's
token); no full-text row, passage or article is left without its other half; no article is
stored twice in a collection.
"""

from __future__ import annotations

import numpy as np
import sqlite_utils

from archivist.store.cache import KeptCounts
from archivist.store.connection import Connections
from archivist.store.passages import collection_token

ORPHAN_ARTICLES = "NOT EXISTS (SELECT 1 FROM passages p WHERE p.article = a.pk)"
STRAY_PASSAGES = "NOT EXISTS (SELECT 1 FROM articles a WHERE a.pk = p.article)"
STRAY_FTS = "rowid NOT IN (SELECT id FROM passages)"


def fill_missing_fts(db: sqlite_utils.Database) -> int:
    """Inside a write transaction: index the passages the full text lacks, each with its
    collection's token (a row without one is never found): the repair's."""
    db.conn.create_function("collection_token", 1, collection_token, deterministic=True)
    cursor = db.execute(
        "INSERT INTO passages_fts (rowid, title, heading, text, coll)"
        " SELECT p.id, a.title, coalesce(p.heading, ''), p.text, collection_token(p.collection)"
        " FROM passages p JOIN articles a ON a.pk = p.article"
        " WHERE p.id NOT IN (SELECT rowid FROM passages_fts)"
    )
    return int(cursor.rowcount)


class Integrity(Connections, KeptCounts):  # `PassageReads`' kept counts: a repair outdates them
    def orphan_articles(self) -> list[tuple[str, str]]:
        """(collection, article id) of the articles without a passage."""
        rows = self.db.execute(
            f"SELECT a.collection, a.id FROM articles a WHERE {ORPHAN_ARTICLES} ORDER BY a.pk"
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def count_bad_vectors(self, dim: int) -> int:
        """Passages without a vector of `dim` dimensions (float32: 4 bytes each)."""
        row = self.db.execute(
            "SELECT count(*) FROM passages WHERE vector IS NULL OR length(vector) != ?", [dim * 4]
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
        """Term counts that disagree with the passages: none, FTS5 keeps its own."""
        return 0

    def vector_ids(self, collection: str, dim: int) -> np.ndarray:
        """The collection's passages with a vector of `dim` dimensions, by id."""
        rows = self.db.execute(
            "SELECT id FROM passages WHERE collection = ? AND length(vector) = ? ORDER BY id",
            [collection, dim * 4],
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def repair_integrity(self) -> None:
        """In one transaction: passages without an article go, then full-text rows without
        a passage; passages without a full-text row get one; articles without passages go (an
        article is stored whole in one transaction, so none of these is a write in flight).
        The vector index is the caller's to rebuild."""
        with self.transaction() as db:
            db.execute(f"DELETE FROM passages AS p WHERE {STRAY_PASSAGES}")
            db.execute(f"DELETE FROM passages_fts WHERE {STRAY_FTS}")
            fill_missing_fts(db)
            db.execute(f"DELETE FROM articles AS a WHERE {ORPHAN_ARTICLES}")
        self.forget_counts()

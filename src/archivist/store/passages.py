"""Passages as the question's path and the index read them: by id (always within a collection),
through the full text (FTS5), as vectors, and their stored analyses; and the term counts every
write keeps beside the full text (`term_docs`, `fts_stats`), which idf reads.

FTS5 can count a term's passages (fts5vocab), but only by walking its whole posting list over
every collection: 10.9 ms an ask at 6.4M passages, too slow for a question and too often
forgotten to be kept in memory on a bot with thousands of servers. So each write counts the
terms of the rows it adds or removes in its own transaction (`count_terms`), tokenized by FTS5
itself, and a question reads a primary key per term.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import sqlite_utils

from archivist.store.connection import Connections, chunks
from archivist.store.rows import PassageRow

# title, heading, text, and 0 for the collection token: it filters, it must not score
BM25_WEIGHTS = "2.0, 1.0, 1.0, 0.0"
FTS_TEXT_COLUMNS = "{title heading text}"
TOKENIZE = "porter unicode61 remove_diacritics 2"  # passages_fts's (m001, m008)
COLLECTION_TOKEN_GLOB = "c" + "[0-9]" * 15  # `is_collection_token` as SQL sees it
OPENING_CHARS = 64  # the length m007's `passages_opening` index keys on: the two change together


def collection_token(collection: str) -> str:
    """The one FTS5 token of `collection` in the `coll` column. Hashed, since a name (a
    guild id, "default") would be split or stemmed by the tokenizer; all digits after the
    "c", so the Porter stemmer (suffixes are letters) leaves it as it is."""
    digest = hashlib.sha1(collection.encode("utf-8")).hexdigest()[:12]
    return f"c{int(digest, 16):015d}"


def is_collection_token(term: str) -> bool:
    """Whether `term` has a collection token's shape: such a word is counted nowhere (a text
    may hold one, but its count would be the collection's, not the word's)."""
    return len(term) == 16 and term[0] == "c" and term[1:].isascii() and term[1:].isdigit()


def collection_match(match: str, collection: str) -> str:
    """`match` (over the text columns) within `collection`'s passages."""
    return f'coll : "{collection_token(collection)}" AND {FTS_TEXT_COLUMNS} : ({match})'


def _unpack(rows: Sequence[Any], dim: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
    return ids, vectors


# a passage's vector is in its own table (m010): `passages p` for the collection
SELECT_VECTORS = "SELECT p.id, v.vector FROM passages p JOIN passage_vectors v ON v.id = p.id"


# -- term counts: kept by every write, in its own transaction ---------------------------------
# (title, heading, text), as passages_fts holds a row
FtsRow = tuple[str | None, str | None, str | None]


def count_terms(db: sqlite_utils.Database, rows: Sequence[FtsRow], sign: int) -> None:
    """Inside a write transaction: the full-text rows `rows` were just added (`sign` 1) or are
    about to be removed (-1), and `term_docs` moves with them. FTS5 itself tokenizes them, in a
    TEMP table with passages_fts's tokenizer and no collection column, so each term is the one
    FTS5 indexed and a row holding it twice counts once, as fts5vocab counts."""
    if not rows:
        return
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.batch_fts USING fts5"
        f" (title, heading, text, content = '', tokenize = '{TOKENIZE}')"
    )
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.batch_fts_vocab"
        " USING fts5vocab (temp, batch_fts, row)"
    )
    db.conn.executemany("INSERT INTO temp.batch_fts (title, heading, text) VALUES (?, ?, ?)", rows)
    db.execute(
        "INSERT INTO term_docs (term, docs) SELECT term, ? * doc FROM temp.batch_fts_vocab"
        " WHERE term NOT GLOB ? ON CONFLICT (term) DO UPDATE SET docs = docs + excluded.docs",
        [sign, COLLECTION_TOKEN_GLOB],
    )
    if sign < 0:  # a term no passage holds any more is no row, as in fts5vocab
        db.execute(
            "DELETE FROM term_docs WHERE term IN (SELECT term FROM temp.batch_fts_vocab)"
            " AND docs <= 0"
        )
    db.execute("INSERT INTO temp.batch_fts (batch_fts) VALUES ('delete-all')")


def count_passages_moved(db: sqlite_utils.Database, passages: int) -> None:
    """Inside a write transaction: `passages` were stored (or removed, negative)."""
    db.execute("UPDATE fts_stats SET rows = rows + ?", [passages])


def recount_terms(db: sqlite_utils.Database) -> None:
    """Inside a write transaction: `term_docs` and `fts_stats` made again from what is stored,
    by walking every posting list (fts5vocab): the migration's and the repair's, never a
    question's."""
    db.execute("DELETE FROM term_docs")
    db.execute(
        "INSERT INTO term_docs (term, docs)"
        " SELECT term, doc FROM passages_fts_vocab WHERE term NOT GLOB ?",
        [COLLECTION_TOKEN_GLOB],
    )
    db.execute("DELETE FROM fts_stats")
    db.execute("INSERT INTO fts_stats (rows) SELECT count(*) FROM passages")


class PassageReads(Connections):
    def follow_generation(self, collection: str, generation: int) -> None:
        """Nothing to follow: the counts are read from their tables at every question, as of
        the question's own read (PostgreSQL's store keeps them a while, `cache.KeptCounts`)."""

    def passages_by_ids(self, ids: Sequence[int], collection: str | None) -> dict[int, PassageRow]:
        """The passages of `ids` that belong to `collection`. Every question passes it: an id
        from a stale or damaged index must never show another server's passage. None (every
        collection) is for tools that read the whole archive, and must be said."""
        out: dict[int, PassageRow] = {}
        for chunk in chunks(ids):
            for r in self._select_ids(
                "SELECT p.id, a.id, a.title, a.source, a.date, a.url, p.position, p.heading,"
                " p.text, p.stems FROM passages p JOIN articles a ON a.pk = p.article",
                chunk,
                collection,
            ):
                out[r[0]] = PassageRow(*r)
        return out

    def _select_ids(self, select: str, ids: list[int], collection: str | None) -> list[Any]:
        """`select` (over `passages p`) for `ids`, only `collection`'s unless it is None."""
        sql = f"{select} WHERE p.id IN ({','.join('?' * len(ids))})"
        if collection is None:
            return self.db.execute(sql, ids).fetchall()
        return self.db.execute(sql + " AND p.collection = ?", [*ids, collection]).fetchall()

    def unanalysed(self, limit: int, version: str) -> list[tuple[int, str]]:
        """(id, text) of up to `limit` passages without a stored analysis of `version` (its
        first line): stored before m004, or by an older analysis."""
        return [
            (int(r[0]), r[1])
            for r in self.db.execute(
                "SELECT id, text FROM passages WHERE stems IS NULL"
                " OR stems || char(10) NOT LIKE ? || char(10) || '%' ORDER BY id LIMIT ?",
                [version, limit],
            )
        ]

    def set_stems(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Store analyses made later (`unanalysed`); a passage deleted meanwhile is skipped."""
        with self.transaction() as db:
            db.conn.executemany(
                "UPDATE passages SET stems = ? WHERE id = ?", [(s, i) for i, s in pairs]
            )

    def articles_opening(self, collection: str, openings: Sequence[str], before: int) -> list[str]:
        """The article id of each stored passage below passage id `before` whose first
        `OPENING_CHARS` characters are one of `openings`: a seek each on `passages_opening`."""
        if not openings:
            return []
        marks = ",".join("?" * len(openings))
        rows = self.db.execute(
            "SELECT a.id FROM passages p JOIN articles a ON a.pk = p.article"
            f" WHERE p.collection = ? AND substr(p.text, 1, {OPENING_CHARS}) IN ({marks})"
            " AND p.id < ? LIMIT 200",
            [collection, *openings, before],
        )
        return [r[0] for r in rows]

    def passage_filter(
        self, ids: Sequence[int], collection: str, source: str | None, since: str | None
    ) -> set[int]:
        """The ids among `ids` that belong to `collection` and pass the filters."""
        if not ids:
            return set()
        sql = (
            "SELECT p.id FROM passages p JOIN articles a ON a.pk = p.article"
            f" WHERE p.id IN ({','.join('?' * len(ids))}) AND p.collection = ?"
        )
        params: list[Any] = [*ids, collection]
        if source:
            sql += " AND a.source = ? COLLATE NOCASE"
            params.append(source)
        if since:
            sql += " AND a.date >= ?"
            params.append(since)
        return {r[0] for r in self.db.execute(sql, params)}

    # -- full text ---------------------------------------------------------------------------
    def fts_search(self, match: str, collection: str, limit: int) -> list[tuple[int, float]]:
        """(passage id, bm25 score; higher is better) for an already-sanitized MATCH string,
        among `collection`'s passages only: FTS5 intersects the terms with the collection's
        token (`collection_token`), so one server's question never ranks another's matches."""
        rows = self.db.execute(
            f"SELECT rowid, -bm25(passages_fts, {BM25_WEIGHTS}) FROM passages_fts"
            f" WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, {BM25_WEIGHTS}) LIMIT ?",
            [collection_match(match, collection), limit],
        ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def fts_top(self, match: str, collection: str, limit: int) -> list[tuple[int, float]]:
        """`fts_search`: kept as the name the ranking calls (the PostgreSQL store's too)."""
        return self.fts_search(match, collection, limit)

    def doc_freqs(self, terms: Sequence[str]) -> dict[str, int]:
        """Passages (of every collection) holding each FTS5 term (a Porter stem); a term none
        holds is left out, and so is a collection token: it is no word of any passage."""
        words = [t for t in dict.fromkeys(terms) if not is_collection_token(t)]
        found: dict[str, int] = {}
        for start in range(0, len(words), 500):  # SQLite binds a bounded number of values
            part = words[start : start + 500]
            found.update(
                self.db.execute(
                    f"SELECT term, docs FROM term_docs WHERE term IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
            )
        return {term: int(found[term]) for term in words if found.get(term, 0) > 0}

    def count_passages(self, collection: str) -> int:
        return int(
            self.db.execute(
                "SELECT count(*) FROM passages WHERE collection = ?", [collection]
            ).fetchone()[0]
        )

    def passage_total(self) -> int:
        """Passages of every collection (the document count for idf)."""
        row = self.db.execute("SELECT rows FROM fts_stats").fetchone()
        return int(row[0]) if row else 0

    def fts_ids(self, collection: str) -> np.ndarray:
        rows = self.db.execute(
            "SELECT f.rowid FROM passages_fts f JOIN passages p ON p.id = f.rowid"
            " WHERE p.collection = ? ORDER BY f.rowid",
            [collection],
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    # -- vectors -----------------------------------------------------------------------------
    def passage_ids(self, collection: str) -> np.ndarray:
        rows = self.db.execute(
            "SELECT id FROM passages WHERE collection = ? ORDER BY id", [collection]
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vectors_by_ids(
        self, ids: Sequence[int], dim: int, collection: str | None
    ) -> dict[int, np.ndarray]:
        """The stored vectors of `ids` that belong to `collection` (see `passages_by_ids`)."""
        out: dict[int, np.ndarray] = {}
        for chunk in chunks(ids):
            rows = self._select_ids(SELECT_VECTORS, chunk, collection)
            if not rows:
                continue
            pids, vectors = _unpack(rows, dim)
            for pid, vector in zip(pids.tolist(), vectors, strict=True):
                out[pid] = vector
        return out

    def iter_vectors(
        self,
        collection: str,
        dim: int,
        batch: int = 20_000,
        ids: Sequence[int] | np.ndarray | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of `collection` in batches, for building or repairing an index."""
        if ids is not None:
            for chunk in chunks(ids):
                rows = self._select_ids(SELECT_VECTORS, chunk, collection)
                if rows:
                    yield _unpack(rows, dim)
            return
        last = -1
        while True:
            rows = self.db.execute(
                f"{SELECT_VECTORS} WHERE p.collection = ? AND p.id > ? ORDER BY p.id LIMIT ?",
                [collection, last, batch],
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield _unpack(rows, dim)

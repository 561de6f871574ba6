"""The PostgreSQL store's reads: what `articles`, `lookup` and `passages` read from SQLite, with
the same answers (text compares byte-wise, source filters fold ASCII case as NOCASE does)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from archivist.models import Passage, StoredArticle
from archivist.store import pg_text
from archivist.store.cache import KeptCounts, TtlCache
from archivist.store.lookup import HINT_WORDS_MAX, _like_escape, _like_part, _word_start
from archivist.store.passages import OPENING_CHARS
from archivist.store.pg_connection import PgConnections
from archivist.store.rows import ArticleHint, PassageRow, SourceCount

ARTICLE_COLUMNS = (
    "a.id, a.collection, a.title, a.source, a.date, a.url, a.category, a.agency, a.added_at,"
    " a.added_by, (SELECT count(*) FROM passages p WHERE p.collection = a.collection"
    " AND p.article = a.pk)"
)
# the counts bm25 reads, kept a while (a round trip each); SQLite reads its tables every time
DOC_FREQ_TTL_S = 600.0
DOC_FREQ_MAX_TERMS = 200_000
TOTAL_TTL_S = 30.0
PASSAGE_COLUMNS = (
    "p.id, a.id, a.title, a.source, a.date, a.url, p.position, p.heading, p.text, p.stems"
)
_WORD = re.compile(r"\w+")
SAME_SOURCE = "lower(a.source) = lower(%s)"  # in the C locale lower() folds ASCII, as NOCASE


def _ints(ids: Sequence[int] | np.ndarray) -> list[int]:
    return [int(i) for i in ids]


def as_array(value: Any) -> np.ndarray:
    """A stored vector (pgvector's `Vector`) as float32."""
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, np.float32)


def stored_vector_bytes(dim: int) -> int:
    """A `vector(dim)` as pgvector stores it, never compressed (its type's storage is external):
    a varlena header, int16 dimensions, int16 unused, then the float32s."""
    return 8 + 4 * dim


def _vectors(rows: list[Any], dim: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    if not rows:
        return ids, np.zeros((0, dim), np.float32)
    return ids, np.stack([as_array(r[1]) for r in rows])


class PgReads(PgConnections, KeptCounts):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.doc_freq_cache: TtlCache[str, int] = TtlCache(DOC_FREQ_TTL_S, DOC_FREQ_MAX_TERMS)
        self.total_cache: TtlCache[str, int] = TtlCache(TOTAL_TTL_S, 1)

    def _rows(
        self, sql: str, params: Sequence[Any] | dict[str, Any], *, binary: bool = False
    ) -> list[Any]:
        return self.db.execute_pg(sql, params, binary=binary).fetchall()

    # -- articles ----------------------------------------------------------------------------
    def recent(
        self, collection: str, limit: int, offset: int = 0, source: str | None = None
    ) -> list[StoredArticle]:
        sql = f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.collection = %s"
        params: list[Any] = [collection]
        if source:
            sql += f" AND {SAME_SOURCE}"
            params.append(source)
        sql += " ORDER BY a.pk DESC LIMIT %s OFFSET %s"
        return [StoredArticle(*r) for r in self._rows(sql, [*params, limit, offset])]

    def count_articles(self, collection: str, source: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM articles a WHERE a.collection = %s", [collection]
        if source:
            sql += f" AND {SAME_SOURCE}"
            params.append(source)
        return int(self._rows(sql, params)[0][0])

    def articles_opening(self, collection: str, openings: Sequence[str], before: int) -> list[str]:
        """As SQLite's (`store.passages`): a seek each on `passages_opening` (m004)."""
        if not openings:
            return []
        rows = self._rows(
            "SELECT a.id FROM passages p JOIN articles a ON a.pk = p.article"
            f" WHERE p.collection = %s AND substr(p.text, 1, {OPENING_CHARS}) = ANY(%s)"
            " AND p.id < %s LIMIT 200",
            [collection, list(openings), before],
        )
        return [r[0] for r in rows]

    def get(self, collection: str, article_id: str) -> StoredArticle | None:
        rows = self._rows(
            f"SELECT {ARTICLE_COLUMNS}, a.pk FROM articles a WHERE a.collection = %s AND a.id = %s",
            [collection, article_id],
        )
        if not rows:
            return None
        passages = tuple(
            Passage(position=r[0], heading=r[1], text=r[2])
            for r in self._rows(
                "SELECT position, heading, text FROM passages WHERE collection = %s"
                " AND article = %s ORDER BY position",
                [collection, rows[0][-1]],
            )
        )
        return StoredArticle(*rows[0][:-1], passages=passages)  # type: ignore[misc]  # no row count

    def collections(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT DISTINCT collection FROM articles", [])]

    def stats(self, collection: str | None) -> dict[str, Any]:
        where, params = ("WHERE collection = %s", [collection]) if collection else ("", [])
        articles, last, sources = self._rows(
            f"SELECT count(*), max(added_at), count(DISTINCT source) FROM articles {where}",
            params,
        )[0]
        passages = self._rows(f"SELECT count(*) FROM passages {where}", params)[0][0]
        return {
            "articles": articles,
            "passages": passages,
            "sources": sources,
            "last_added_at": last,
        }

    # -- autocomplete (`lookup`) ---------------------------------------------------------------
    def suggest_articles(self, collection: str, text: str, limit: int) -> list[ArticleHint]:
        text = text.strip()
        sql = "SELECT id, title, source, date FROM articles WHERE collection = %s"
        if not text:
            rows = self._rows(sql + " ORDER BY pk DESC LIMIT %s", [collection, limit])
            return [ArticleHint(*r) for r in rows]
        by_id = self._rows(
            sql + " AND id >= %s AND id < %s ORDER BY pk DESC LIMIT %s",
            [collection, text, text + "\U0010ffff", limit],
        )
        found = {r[0]: ArticleHint(*r) for r in by_id}
        words = _WORD.findall(text)[:HINT_WORDS_MAX]
        if words and len(found) < limit:
            params: list[Any] = [collection]
            for part in filter(None, map(_like_part, words)):
                sql += " AND title ILIKE %s ESCAPE '\\'"
                params.append(f"%{_like_escape(part)}%")
            starts = [_word_start(w) for w in words]
            for row in self.db.execute_pg(sql + " ORDER BY pk DESC", params):
                if row[0] not in found and all(p.search(row[1]) for p in starts):
                    found[row[0]] = ArticleHint(*row)
                    if len(found) >= limit:
                        break
        return list(found.values())

    def sources(self, collection: str, prefix: str, limit: int) -> list[SourceCount]:
        sql = (
            "SELECT min(source), count(*) AS n FROM articles"
            " WHERE collection = %s AND source IS NOT NULL AND source != ''"
        )
        params: list[Any] = [collection]
        prefix = prefix.strip()
        if prefix:
            sql += " AND (source ILIKE %s ESCAPE '\\' OR source ILIKE %s ESCAPE '\\')"
            params += [f"{_like_escape(prefix)}%", f"% {_like_escape(prefix)}%"]
        sql += " GROUP BY lower(source) ORDER BY n DESC, min(source) LIMIT %s"
        return [SourceCount(name, n) for name, n in self._rows(sql, [*params, limit])]

    # -- passages ------------------------------------------------------------------------------
    def _by_ids(
        self, select: str, ids: Sequence[int], collection: str | None, binary: bool = False
    ) -> list[Any]:
        sql = f"{select} WHERE p.id = ANY(%s)"
        if collection is None:
            return self._rows(sql, [_ints(ids)], binary=binary)
        return self._rows(sql + " AND p.collection = %s", [_ints(ids), collection], binary=binary)

    def passages_by_ids(self, ids: Sequence[int], collection: str | None) -> dict[int, PassageRow]:
        """The passages of `ids` that belong to `collection` (None: every collection's)."""
        if not len(ids):
            return {}
        rows = self._by_ids(
            f"SELECT {PASSAGE_COLUMNS} FROM passages p JOIN articles a ON a.pk = p.article",
            ids,
            collection,
        )
        return {r[0]: PassageRow(*r) for r in rows}

    def unanalysed(self, limit: int, version: str) -> list[tuple[int, str]]:
        return [
            (int(r[0]), r[1])
            for r in self._rows(
                "SELECT id, text FROM passages WHERE stems IS NULL"
                " OR stems || chr(10) NOT LIKE %s || chr(10) || '%%' ORDER BY id LIMIT %s",
                [version, limit],
            )
        ]

    def set_stems(self, pairs: Sequence[tuple[int, str]]) -> None:
        with self.transaction() as db:
            with db.conn.cursor() as cursor:
                cursor.executemany(
                    "UPDATE passages SET stems = %s WHERE id = %s", [(s, i) for i, s in pairs]
                )

    def passage_filter(
        self, ids: Sequence[int], collection: str, source: str | None, since: str | None
    ) -> set[int]:
        if not ids:
            return set()
        sql = (
            "SELECT p.id FROM passages p JOIN articles a ON a.pk = p.article"
            " WHERE p.id = ANY(%s) AND p.collection = %s"
        )
        params: list[Any] = [_ints(ids), collection]
        if source:
            sql += f" AND {SAME_SOURCE}"
            params.append(source)
        if since:
            sql += " AND a.date >= %s"
            params.append(since)
        return {r[0] for r in self._rows(sql, params)}

    # -- full text (`pg_text`) -----------------------------------------------------------------
    def fts_search(self, match: str, collection: str, limit: int) -> list[tuple[int, float]]:
        """(passage id, bm25 as FTS5 scores it; higher is better) for a MATCH string."""
        query, terms = pg_text.parse_match(match)
        if query is None:
            return []
        rows = self._rows(
            pg_text.BM25_SQL,
            {"terms": terms, "query": query, "collection": collection, "limit": limit},
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def fts_top(self, match: str, collection: str, limit: int) -> list[tuple[int, float]]:
        """`fts_search`: the collection's partition is searched alone, so there is no
        cheaper way round as with FTS5's one table."""
        return self.fts_search(match, collection, limit)

    def doc_freqs(self, terms: Sequence[str]) -> dict[str, int]:
        """Passages (of every collection, as FTS5 counts) holding each term; none left out."""
        known, wanted = self.doc_freq_cache.get_many(dict.fromkeys(terms))
        if wanted:
            found = dict(
                self._rows("SELECT term, docs FROM term_docs WHERE term = ANY(%s)", [wanted])
            )
            self.doc_freq_cache.put_many({term: int(found.get(term, 0)) for term in wanted})
            known.update({t: int(n) for t, n in found.items()})
        return {term: n for term, n in known.items() if n}

    def passage_total(self) -> int:
        known, _ = self.total_cache.get_many(["passages"])
        if "passages" not in known:
            known["passages"] = int(self._rows("SELECT rows FROM fts_stats", [])[0][0])
            self.total_cache.put_many(known)
        return known["passages"]

    def fts_ids(self, collection: str) -> np.ndarray:
        """The collection's passages in the full text: their tsvector (in their own row)
        holds their terms, or they have none to hold."""
        ids = self.passage_ids(collection)
        missing = [r[0] for r in self.unindexed_passages(collection)]
        return np.setdiff1d(ids, missing) if missing else ids

    # -- vectors -------------------------------------------------------------------------------
    def passage_ids(self, collection: str) -> np.ndarray:
        rows = self._rows("SELECT id FROM passages WHERE collection = %s ORDER BY id", [collection])
        return np.array([r[0] for r in rows], dtype=np.int64)

    def vectors_by_ids(
        self, ids: Sequence[int], dim: int, collection: str | None
    ) -> dict[int, np.ndarray]:
        if not len(ids):
            return {}
        rows = self._by_ids("SELECT p.id, p.vector FROM passages p", ids, collection, True)
        pids, vectors = _vectors(rows, dim)
        return dict(zip(pids.tolist(), vectors, strict=True))

    def iter_vectors(
        self,
        collection: str,
        dim: int,
        batch: int = 20_000,
        ids: Sequence[int] | np.ndarray | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if ids is not None:
            rows = self._by_ids(
                "SELECT p.id, p.vector FROM passages p", _ints(ids), collection, True
            )
            if rows:
                yield _vectors(sorted(rows, key=lambda r: r[0]), dim)
            return
        last = -1
        while rows := self._rows(
            "SELECT id, vector FROM passages WHERE collection = %s AND id > %s"
            " ORDER BY id LIMIT %s",
            [collection, last, batch],
            binary=True,
        ):
            last = rows[-1][0]
            yield _vectors(rows, dim)

    # -- integrity (`maintenance.check`; SQLite's in `integrity`) --------------------------------
    def orphan_articles(self) -> list[tuple[str, str]]:
        """(collection, article id) of the articles without a passage."""
        rows = self._rows(
            "SELECT a.collection, a.id FROM articles a WHERE NOT EXISTS"
            " (SELECT 1 FROM passages p WHERE p.article = a.pk) ORDER BY a.pk",
            [],
        )
        return [(r[0], r[1]) for r in rows]

    def count_bad_vectors(self, dim: int) -> int:
        """Passages without a vector of `dim` dimensions."""
        return self._count("passages WHERE vector IS NULL OR vector_dims(vector) != %s", [dim])

    def count_stray_passages(self) -> int:
        """Passages whose article is gone (the foreign key should see to it that there are none)."""
        return self._count(
            "passages p WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.pk = p.article)"
        )

    def count_duplicate_articles(self) -> int:
        """Texts stored more than once in one collection."""
        return self._count(
            "(SELECT 1 FROM articles GROUP BY collection, content_hash HAVING count(*) > 1) d"
        )

    def count_stray_fts(self) -> int:
        """Full-text rows without their passage: none, each tsvector is in its passage's row."""
        return 0

    def count_fts_drift(self) -> int:
        """The counts bm25 reads (`term_docs`, `fts_stats`: FTS5 keeps its own) that disagree
        with the passages' tsvectors: the terms off, and 1 if the totals are."""
        terms = self._count(
            '(SELECT u.lexeme COLLATE "C" AS term, count(*) AS docs FROM passages p,'
            " unnest(p.fts) AS u GROUP BY 1) held FULL JOIN term_docs d ON d.term = held.term"
            " WHERE coalesce(held.docs, 0) != coalesce(d.docs, 0)"
        )
        totals = self._count(
            "fts_stats f, (SELECT count(*) AS n, coalesce(sum(tokens), 0) AS t FROM passages) p"
            " WHERE f.rows != p.n OR f.tokens != p.t"
        )
        return terms + totals

    def vector_ids(self, collection: str, dim: int) -> np.ndarray:
        """The collection's passages with a vector of `dim` dimensions, by id: the index."""
        rows = self._rows(
            "SELECT id FROM passages WHERE collection = %s AND vector_dims(vector) = %s"
            " ORDER BY id",
            [collection, dim],
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def unindexed_passages(self, collection: str | None = None) -> list[Any]:
        """(id, collection, title, heading, text) of the passages missing from the full text:
        an empty tsvector although their text has terms (of `collection`, or of all)."""
        sql = (
            "SELECT p.id, p.collection, a.title, p.heading, p.text FROM passages p"
            " JOIN articles a ON a.pk = p.article WHERE p.fts = ''::tsvector"
        )
        if collection is not None:
            rows = self._rows(sql + " AND p.collection = %s ORDER BY p.id", [collection])
        else:
            rows = self._rows(sql + " ORDER BY p.id", [])
        return [r for r in rows if pg_text.tsvector(r[2], r[3], r[4])[1]]

    def _count(self, relation: str, params: Sequence[Any] = ()) -> int:
        return int(self._rows(f"SELECT count(*) FROM {relation}", params)[0][0])

    # -- sizes (`Archive.stats`) -----------------------------------------------------------------
    def size_bytes(self) -> tuple[int, int]:
        """(the archive's tables with their indexes and TOAST: every table of its schema, the
        vector index's partitions: 0 without one)."""
        rows = self._rows(
            "SELECT (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace),"
            " (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)"
            " FROM pg_partition_tree(to_regclass('passages_vector')) t)",
            [],
        )
        return int(rows[0][0]), int(rows[0][1])

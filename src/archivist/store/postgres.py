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
        "INSERT INTO term_docs (term, docs) SELECT * FROM unnest(%b::text[], %b::bigint[])"
        " ON CONFLICT (term) DO UPDATE SET docs = term_docs.docs + excluded.docs",
        [terms, [sign * c for c in counts]],
    )
    if sign < 0:
        db.execute_pg("DELETE FROM term_docs WHERE term = ANY(%b::text[]) AND docs <= 0", [terms])
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


ARTICLE_FIELDS = ("id", "title", "source", "url", "date", "category", "agency", "content_hash")
# a passage row as `_passage_rows` makes it, in the table's column order
PASSAGE_FIELDS = "id, article, collection, position, heading, text, vector, stems, fts, tokens"


def _held(
    db: PgDb, collection: str, items: Sequence[NewArticle]
) -> tuple[dict[str, str], set[str]]:
    """Of the batch's content hashes and ids, those the collection holds: (hash -> the id of
    the article holding it, the ids). One query for the batch, not two an article."""
    rows = db.execute_pg(
        "SELECT id, content_hash FROM articles WHERE collection = %s"
        " AND (content_hash = ANY(%b::text[]) OR id = ANY(%b::text[]))",
        [collection, [i.content_hash for i in items], [i.article_id for i in items]],
    ).fetchall()
    return {r[1]: r[0] for r in rows}, {r[0] for r in rows}


def _decide(
    items: Sequence[NewArticle], db: PgDb, collection: str, inserted: Inserted
) -> list[NewArticle]:
    """The batch's articles to store; the others go to `inserted` as duplicates or taken ids,
    in order, as if each were looked up after the ones before it were stored."""
    hashes, ids = _held(db, collection, items)
    fresh = []
    for item in items:
        existing = hashes.get(item.content_hash)
        if existing is not None:
            inserted.duplicates.append((item, existing))
        elif item.article_id in ids:
            inserted.taken.append(item)
        else:
            fresh.append(item)
            hashes[item.content_hash] = item.article_id
            ids.add(item.article_id)
    return fresh


def _insert_articles(
    db: PgDb, collection: str, items: Sequence[NewArticle], added_at: str, added_by: str | None
) -> list[int]:
    """The articles' rows in one statement; their pks, in the batch's order (pks grow in it:
    `recent` lists by pk)."""
    columns: list[list[str | None]] = [[] for _ in ARTICLE_FIELDS]
    for item in items:
        a = item.article
        texts = map(_text, (a.title, a.source, a.url, a.date, a.category, a.agency))
        values = (item.article_id, *texts, item.content_hash)
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    arrays = ", ".join(["%b::text[]"] * len(ARTICLE_FIELDS))
    fields = ", ".join(ARTICLE_FIELDS)
    rows = db.execute_pg(
        f"INSERT INTO articles ({fields}, collection, added_at, added_by)"
        f" SELECT {', '.join('u.' + f for f in ARTICLE_FIELDS)}, %s, %s, %s"
        f" FROM unnest({arrays}) WITH ORDINALITY AS u({fields}, n) ORDER BY u.n"
        " RETURNING pk, id",
        [collection, added_at, _text(added_by), *columns],
    ).fetchall()
    pks = {r[1]: int(r[0]) for r in rows}
    return [pks[item.article_id] for item in items]


def _passage_ids(db: PgDb, count: int) -> list[int]:
    """`count` new passage ids, in increasing order, in one round trip."""
    rows = db.execute_pg(
        "SELECT nextval('passage_ids') FROM generate_series(1, %s)", [count]
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def _passage_rows(
    collection: str, item: NewArticle, article_pk: int, ids: Sequence[int]
) -> tuple[list[tuple[Any, ...]], list[set[str]], int]:
    """(an article's passage rows, each passage's distinct terms, the tokens stored)."""
    stems: Sequence[str | None] = item.stems or [None] * len(item.passages)
    rows, term_sets, tokens = [], [], 0
    for pid, passage, vector, stem_text in zip(
        ids, item.passages, item.vectors, stems, strict=True
    ):
        fts, held, count = pg_text.tsvector(item.article.title, passage.heading, passage.text)
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
    return rows, term_sets, tokens


def _write_passages(db: PgDb, rows: Sequence[tuple[Any, ...]]) -> None:
    """Every row of the batch in one pipeline (psycopg's `executemany`: one round trip, not
    one a row); vectors in binary, as pgvector sends them (parsing their text costs more).
    A binary COPY measured no faster: the server's time goes to the rows and their indexes."""
    with db.conn.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO passages ({PASSAGE_FIELDS})"
            " VALUES (%s, %s, %s, %s, %s, %s, %b, %s, %s::tsvector, %s)",
            rows,
        )


def _store_batch(
    db: PgDb, collection: str, items: Sequence[NewArticle], added_at: str, added_by: str | None
) -> tuple[list[list[int]], list[set[str]], int]:
    """(each article's passage ids, each passage's distinct terms, the tokens stored)."""
    pks = _insert_articles(db, collection, items, added_at, added_by)
    ids = iter(_passage_ids(db, sum(len(item.passages) for item in items)))
    rows: list[tuple[Any, ...]] = []
    term_sets: list[set[str]] = []
    tokens = 0
    out = []
    for item, pk in zip(items, pks, strict=True):
        own = [next(ids) for _ in item.passages]
        more, held, count = _passage_rows(collection, item, pk, own)
        rows += more
        term_sets += held
        tokens += count
        out.append(own)
    _write_passages(db, rows)
    return out, term_sets, tokens


class PostgresStore(PgReads):
    """The archive in a PostgreSQL database (pgvector installed or installable), migrated to
    the newest schema at open; `dim`: the vectors' dimension, fixed by the first open;
    `hnsw`: index the vectors (else every search reads the collection's partition)."""

    def __init__(self, url: str, dim: int = 384, *, hnsw: bool = True) -> None:
        super().__init__(url)
        self.dim = dim
        self.hnsw = hnsw
        with self.transaction() as db:
            pg_migrations.apply(db, dim)
            if hnsw:
                pg_migrations.ensure_vector_index(db, dim)

    def reindex(self) -> None:
        """`archivist reindex` here: the database is its own vector index (the vectors are its
        rows, nothing to rebuild from them), so the HNSW index is made if it is missing, when
        this store indexes its vectors (`hnsw`; never where pgvector cannot build one)."""
        if self.hnsw:
            with self.transaction() as db:
                pg_migrations.ensure_vector_index(db, self.dim)

    def analyze(self, collection: str) -> None:
        """ANALYZE the partition holding `collection`'s passages. Until autovacuum gets to it,
        a collection grown by one ingest reads to the planner as the few rows it had: its
        searches sort all its passages rather than walk the HNSW index."""
        rows = self._rows(
            "SELECT tableoid::regclass::text FROM passages WHERE collection = %s LIMIT 1",
            [collection],
        )
        if rows:  # a name the database gave, quoted as needed
            self.db.execute_pg(f"ANALYZE {rows[0][0]}")

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
        `Store.insert_articles`). The same ~10 round trips for one article or thousands (a
        round trip costs milliseconds to a loaded or distant server; there were ~5 an
        article)."""
        inserted = Inserted([], (0, 0), [], [])
        with self.transaction() as db:
            fresh = _decide(items, db, collection, inserted) if items else []
            if fresh:
                ids, term_sets, tokens = _store_batch(db, collection, fresh, now_iso(), added_by)
                inserted.stored.extend(zip(fresh, ids, strict=True))
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
        self.forget_counts()

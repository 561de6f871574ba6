"""The PostgreSQL store's numbered migrations (its own list: SQLite's are in `migrations`),
applied in order at open, each once, recorded by name in `_migrations`. A name, once released,
never changes.

Passages are hash-partitioned by collection, so one server's vector and full-text search reads
its partition's indexes, not every server's. Text compares byte-wise (`COLLATE "C"`), as in
SQLite, whatever the database's locale.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from archivist.store.pg_connection import PgDb
from archivist.store.rows import now_iso

log = logging.getLogger(__name__)

Migration = Callable[[PgDb, int], None]  # (the database, the vectors' dimension)
PARTITIONS = 16
T = 'TEXT COLLATE "C"'


def m001_create_tables(db: PgDb, dim: int) -> None:
    db.execute_pg("CREATE EXTENSION IF NOT EXISTS vector")
    db.execute_pg(
        f"""CREATE TABLE articles (
            pk BIGSERIAL PRIMARY KEY,
            id {T} NOT NULL,
            collection {T} NOT NULL,
            title {T} NOT NULL,
            source {T},
            url {T},
            date {T},
            category {T},
            agency {T},
            content_hash {T} NOT NULL,
            added_at {T} NOT NULL,
            added_by {T},
            UNIQUE (collection, id),
            UNIQUE (collection, content_hash)
        )"""
    )
    db.execute_pg("CREATE INDEX articles_recent ON articles (collection, pk DESC)")
    db.execute_pg("CREATE INDEX articles_by_date ON articles (collection, date)")
    # `tokens`: the passage's FTS5 token count (bm25's document length); `stems`: the
    # ranking's analysis (SQLite's m004)
    db.execute_pg(
        f"""CREATE TABLE passages (
            id BIGINT NOT NULL,
            article BIGINT NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
            collection {T} NOT NULL,
            position INTEGER NOT NULL,
            heading {T},
            text {T} NOT NULL,
            vector vector({int(dim)}) NOT NULL,
            stems {T},
            fts tsvector NOT NULL,
            tokens INTEGER NOT NULL,
            PRIMARY KEY (collection, id)
        ) PARTITION BY HASH (collection)"""
    )
    for i in range(PARTITIONS):
        db.execute_pg(
            f"CREATE TABLE passages_{i} PARTITION OF passages"
            f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {i})"
        )
    db.execute_pg("CREATE INDEX passages_id ON passages (id)")
    db.execute_pg("CREATE INDEX passages_article ON passages (article, position)")
    db.execute_pg("CREATE INDEX passages_fts ON passages USING gin (fts)")
    # the vector index (HNSW) is made at open, when wanted: `ensure_vector_index`
    # passage ids are index ids: never handed out twice (SQLite's m005), whatever is deleted
    db.execute_pg("CREATE SEQUENCE passage_ids")
    db.execute_pg(f"CREATE TABLE meta (key {T} PRIMARY KEY, value {T})")
    db.execute_pg(
        f"CREATE TABLE collection_state (collection {T} PRIMARY KEY, generation BIGINT NOT NULL)"
    )
    # FTS5 keeps these itself: passages holding each term, and the row and token totals
    db.execute_pg(f"CREATE TABLE term_docs (term {T} PRIMARY KEY, docs BIGINT NOT NULL)")
    db.execute_pg("CREATE TABLE fts_stats (rows BIGINT NOT NULL, tokens BIGINT NOT NULL)")
    db.execute_pg("INSERT INTO fts_stats VALUES (0, 0)")


def m002_feeds(db: PgDb, dim: int) -> None:
    """The feeds followed per collection and the items each has met (`store.feeds`)."""
    db.execute_pg(
        f"""CREATE TABLE feeds (
            id BIGSERIAL PRIMARY KEY,
            collection {T} NOT NULL,
            name {T} NOT NULL,
            url {T} NOT NULL,
            added_at {T} NOT NULL,
            added_by {T},
            last_polled_at {T},
            last_error {T},
            failures INTEGER NOT NULL DEFAULT 0,
            next_poll_at {T},
            disabled_at {T},
            added_in {T},
            UNIQUE (collection, url)
        )"""
    )
    db.execute_pg(
        f"""CREATE TABLE feed_items (
            feed BIGINT NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
            key {T} NOT NULL,
            link {T},
            status {T} NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            error {T},
            seen_at {T} NOT NULL,
            PRIMARY KEY (feed, key)
        )"""
    )


def m003_community(db: PgDb, dim: int) -> None:
    """Per server: its settings, the votes on answers and the question log (`community`)."""
    db.execute_pg(
        f"""CREATE TABLE server_settings (
            collection {T} PRIMARY KEY,
            admin_role_id BIGINT,
            default_source {T},
            threads BOOLEAN NOT NULL DEFAULT false,
            question_logging BOOLEAN NOT NULL DEFAULT true,
            announce_channel_id BIGINT,
            updated_at {T} NOT NULL
        )"""
    )
    db.execute_pg(
        f"""CREATE TABLE answer_votes (
            collection {T} NOT NULL,
            answer_id {T} NOT NULL,
            member_id {T} NOT NULL,
            vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
            voted_at {T} NOT NULL,
            PRIMARY KEY (collection, answer_id, member_id)
        )"""
    )
    db.execute_pg("CREATE INDEX answer_votes_recent ON answer_votes (collection, voted_at)")
    db.execute_pg(
        f"""CREATE TABLE question_log (
            collection {T} NOT NULL,
            answer_id {T} NOT NULL,
            question {T} NOT NULL,
            question_key {T} NOT NULL,
            answered INTEGER NOT NULL,
            asked_at {T} NOT NULL,
            PRIMARY KEY (collection, answer_id)
        )"""
    )
    db.execute_pg("CREATE INDEX question_log_recent ON question_log (collection, asked_at)")
    # `community` counts with sum(condition), as SQLite sums a comparison's 0 or 1
    db.execute_pg(
        "CREATE FUNCTION archivist_count_true(bigint, boolean) RETURNS bigint"
        " LANGUAGE sql IMMUTABLE AS 'SELECT $1 + CASE WHEN $2 THEN 1 ELSE 0 END'"
    )
    db.execute_pg(
        "CREATE AGGREGATE sum(boolean)"
        " (SFUNC = archivist_count_true, STYPE = bigint, INITCOND = '0')"
    )


def ensure_vector_index(db: PgDb, dim: int) -> None:
    """HNSW on inner product (the vectors are normalised: it is FAISS's cosine), over their
    half-precision copies: half the index's memory; the found are scored on the stored float32
    vectors (`pg_index`). Made if missing: a store opened without it gets it later."""
    db.execute_pg(
        "CREATE INDEX IF NOT EXISTS passages_vector ON passages"
        f" USING hnsw ((vector::halfvec({int(dim)})) halfvec_ip_ops)"
    )


def m004_passage_openings(db: PgDb, dim: int) -> None:
    """Passages by their opening (SQLite's m007): an article whose body is already stored under
    another headline or source is found by a seek a passage, not a read of the collection."""
    from archivist.store.passages import OPENING_CHARS

    db.execute_pg(
        "CREATE INDEX IF NOT EXISTS passages_opening"
        f" ON passages (collection, substr(text, 1, {OPENING_CHARS}))"
    )


MIGRATIONS: list[Migration] = [
    m001_create_tables,
    m002_feeds,
    m003_community,
    m004_passage_openings,
]


def apply(db: PgDb, dim: int, migrations: list[Migration] = MIGRATIONS) -> None:
    """Inside a write transaction: run the migrations not yet recorded in `_migrations`."""
    db.execute_pg("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute_pg("SELECT name FROM _migrations").fetchall()}
    for migration in migrations:
        if migration.__name__ not in done:
            log.info("applying PostgreSQL migration %s", migration.__name__)
            migration(db, dim)
            db.execute_pg(
                "INSERT INTO _migrations (name, applied_at) VALUES (%s, %s)",
                [migration.__name__, now_iso()],
            )

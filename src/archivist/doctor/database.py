"""The archive's database: whether it answers now (the bot's `/healthz`), and the doctor's checks
of a PostgreSQL archive (it connects, pgvector, the schema's migrations, its size and counts).

Nothing here writes. The checks read PostgreSQL's catalog and `_migrations` on a connection of
their own: opening the archive creates the extension and applies migrations. The archive is
opened (for `archivist check`) only once its schema is current, when opening writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archivist.config import Settings
from archivist.doctor.report import FAIL, OK, WARN, Check, checked_store, one_line
from archivist.errors import ArchivistError
from archivist.store import pg_migrations
from archivist.store.pg_connection import connect_plain, redacted
from archivist.store.postgres import PostgresStore

# a health check answers within about this: a scrape that hangs tells the operator nothing
HEALTH_TIMEOUT_S = 2.0
DOCTOR_TIMEOUT_S = 10.0
MIN_CONNECT_TIMEOUT_S = 2  # libpq's floor: under 2 it waits 2 all the same
CONNECT_FIX = (
    "check ARCHIVIST_DATABASE_URL (host, port, user, password, database) and that the server "
    'runs and lets this machine in: `pg_isready -d "$ARCHIVIST_DATABASE_URL"`'
)
NOT_CHECKED = ("pgvector", "schema", "store")


def store_answers(store: Any, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    """Raise, with a one-line reason, unless the archive's store answers (within about
    `timeout_s` on PostgreSQL). SQLite: its file is checked apart, as a thread's open
    connection keeps answering after the file's directory is gone."""
    if isinstance(store, PostgresStore):
        with connection(store.url, timeout_s) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
        if row is None:
            raise ArchivistError(f"{redacted(store.url)} holds no archive (no embedder recorded)")
        return
    if not Path(store.path).is_file():
        raise FileNotFoundError(f"no database at {store.path}")
    store.collections()


@contextmanager
def connection(url: str, timeout_s: float) -> Iterator[Any]:
    """A connection of its own (the store's may hang on a server gone silent): connecting and
    each statement's work bounded by `timeout_s` (a server that stops answering mid-statement
    is not: the caller bounds its own wait); every failure one ArchivistError line."""
    shown = redacted(url)
    # a missing driver or a refused connection: connect_plain's one line
    conn = connect_plain(url, connect_timeout=max(MIN_CONNECT_TIMEOUT_S, math.ceil(timeout_s)))
    import psycopg  # present: connect_plain checked

    with conn:
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", [f"{timeout_s}s"])
            yield conn
        except psycopg.Error as exc:
            raise ArchivistError(f"{shown} does not answer: {one_line(exc)}") from None


# ---- the doctor's checks of a PostgreSQL archive ------------------------------------------------


@dataclass(frozen=True)
class DatabaseFacts:
    server_version: str
    size_bytes: int
    user: str
    vector_installed: str | None  # its version
    vector_available: str | None  # the server's default version, when it has pgvector
    may_create_vector: bool  # superuser, or a trusted extension and CREATE on the database
    migrations: list[str] | None  # None: no archive's tables yet


def read_facts(conn: Any) -> DatabaseFacts:
    def one(sql: str) -> Any:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None

    has_log = one("SELECT to_regclass('_migrations') IS NOT NULL")
    return DatabaseFacts(
        server_version=str(one("SHOW server_version")),
        size_bytes=int(one("SELECT pg_database_size(current_database())")),
        user=str(one("SELECT current_user")),
        vector_installed=one("SELECT extversion FROM pg_extension WHERE extname = 'vector'"),
        vector_available=one(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        ),
        may_create_vector=bool(
            one(
                "SELECT r.rolsuper OR (coalesce(bool_or(v.trusted), false)"
                " AND has_database_privilege(current_database(), 'CREATE'))"
                " FROM pg_roles r LEFT JOIN pg_available_extension_versions v"
                " ON v.name = 'vector' WHERE r.rolname = current_user GROUP BY r.rolsuper"
            )
        ),
        migrations=(
            [r[0] for r in conn.execute("SELECT name FROM _migrations").fetchall()]
            if has_log
            else None
        ),
    )


def check_database(settings: Settings, embedder: Any) -> list[Check]:
    """The database, pgvector, schema and store lines of a PostgreSQL archive."""
    url = settings.database_url or ""
    try:
        with connection(url, DOCTOR_TIMEOUT_S) as conn:
            facts = read_facts(conn)
    except ArchivistError as exc:
        skipped = [
            Check(name, WARN, "not checked: the database does not answer", "see the database line")
            for name in NOT_CHECKED
        ]
        return [Check("database", FAIL, str(exc), CONNECT_FIX), *skipped]
    schema = check_schema(facts)
    return [
        Check(
            "database",
            OK,
            f"{redacted(url)} answers: PostgreSQL {facts.server_version}, "
            f"{facts.size_bytes / 1024**2:.1f} MB, as {facts.user}",
        ),
        check_pgvector(facts),
        schema,
        check_pg_store(settings, embedder, schema, fresh=facts.migrations is None),
    ]


def check_pgvector(facts: DatabaseFacts) -> Check:
    if facts.vector_installed:
        return Check("pgvector", OK, f"vector {facts.vector_installed} installed")
    if not facts.vector_available:
        return Check(
            "pgvector",
            FAIL,
            "this PostgreSQL server has no pgvector (the vector extension)",
            "install pgvector on the server (Debian: apt install postgresql-<version>-pgvector;"
            " a managed service: allow its vector extension), then run the doctor again",
        )
    if facts.may_create_vector:
        return Check(
            "pgvector",
            OK,
            f"vector {facts.vector_available} available: created in the database at the first "
            "start",
        )
    return Check(
        "pgvector",
        FAIL,
        f"vector {facts.vector_available} is not installed in the database and {facts.user} "
        "may not create it",
        "as the database's owner or a superuser: CREATE EXTENSION vector; in that database",
    )


def check_schema(facts: DatabaseFacts) -> Check:
    known = [m.__name__ for m in pg_migrations.MIGRATIONS]
    if facts.migrations is None:
        return Check("schema", OK, "no archive yet: its tables are made at the first start")
    applied = set(facts.migrations)
    unknown = sorted(applied - set(known))
    if unknown:
        return Check(
            "schema",
            FAIL,
            f"the database has migrations this archivist does not know ({', '.join(unknown)}): "
            "a newer archivist wrote it",
            "install that newer archivist here too (git pull && make install)",
        )
    pending = [name for name in known if name not in applied]
    if pending:
        return Check(
            "schema",
            WARN,
            f"{len(pending)} migrations not applied yet ({', '.join(pending)})",
            "back the database up (pg_dump), then restart the bot: it applies them at start",
        )
    return Check("schema", OK, f"current: {len(known)} migrations, the newest {known[-1]}")


def check_pg_store(settings: Settings, embedder: Any, schema: Check, fresh: bool) -> Check:
    """`archivist check` on the archive, opened as the bot opens it: only on a current schema
    (`schema`'s line ok), where opening writes nothing."""
    if fresh:
        return Check("store", OK, "no archive yet: created at the first start")
    if schema.status != OK:
        return Check("store", WARN, "not checked: see the schema line", "see the schema line")
    repair = (
        "stop the bot, run `archivist check --repair` with the bot's "
        "ARCHIVIST_DATABASE_URL, start it"
    )
    try:
        return checked_store(settings, embedder, repair)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Check("store", FAIL, one_line(exc), "see the message; docs/deploy.md has backups")

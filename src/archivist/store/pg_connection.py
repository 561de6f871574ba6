"""Connections to the PostgreSQL store: one per thread (as with SQLite), writers one at a time.

The feed table (`store.feeds`) and the community tables (`archivist.community`) write their SQL
for SQLite against `store.db` and `store.transaction()`. Rather than fork them, `PgDb` runs that
SQL on PostgreSQL: `?` placeholders, `INSERT OR REPLACE` (as an upsert on the table's key),
`lastrowid`, and the few statements PostgreSQL cannot read as written (`PG_VARIANTS`, found by
the tests running those modules on both backends). A statement neither covers fails loudly.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from archivist.errors import ArchivistError, ConfigError, DiskFull

# every writer of one database holds it for its transaction: a batch's duplicates are decided
# under it, as SQLite's one writer decides them (any key would do; this one spells "archv")
WRITE_LOCK_KEY = 0x6172636876

# table -> its key, for `INSERT OR REPLACE` (an upsert on that key in PostgreSQL)
CONFLICT_KEYS = {
    "meta": ("key",),
    "collection_state": ("collection",),
    "server_settings": ("collection",),
    "answer_votes": ("collection", "answer_id", "member_id"),
    "question_log": ("collection", "answer_id"),
}
RETURNING_ID = {"feeds": "id"}  # tables whose inserts give `lastrowid`

_INSERT_OR_REPLACE = re.compile(
    r"^\s*INSERT OR REPLACE INTO (\w+)\s*\(([^)]*)\)\s*VALUES", re.IGNORECASE | re.DOTALL
)
_INSERT = re.compile(r"^\s*INSERT INTO (\w+)", re.IGNORECASE)


def _squash(sql: str) -> str:
    return " ".join(sql.split())


# SQLite statements (whitespace squashed) -> PostgreSQL: SQLite takes a bare column beside an
# aggregate (from the row of the max) and an output name in HAVING; PostgreSQL takes neither.
PG_VARIANTS = {
    _squash(
        """WITH down AS (SELECT answer_id, count(*) AS n FROM answer_votes
                WHERE collection = ? AND voted_at >= ? AND vote < 0 GROUP BY answer_id)
            SELECT q.question, count(*), sum(q.answered = 0), coalesce(sum(d.n), 0) AS downs,
                max(q.asked_at)
            FROM question_log q LEFT JOIN down d ON d.answer_id = q.answer_id
            WHERE q.collection = ? AND q.asked_at >= ?
            GROUP BY q.question_key HAVING sum(q.answered = 0) > 0 OR downs > 0
            ORDER BY count(*) DESC, max(q.asked_at) DESC LIMIT ?"""
    ): """WITH down AS (SELECT answer_id, count(*) AS n FROM answer_votes
                WHERE collection = %s AND voted_at >= %s AND vote < 0 GROUP BY answer_id)
            SELECT (array_agg(q.question ORDER BY q.asked_at DESC))[1], count(*),
                sum(q.answered = 0), coalesce(sum(d.n), 0)::bigint, max(q.asked_at)
            FROM question_log q LEFT JOIN down d ON d.answer_id = q.answer_id
            WHERE q.collection = %s AND q.asked_at >= %s
            GROUP BY q.question_key HAVING sum(q.answered = 0) > 0 OR coalesce(sum(d.n), 0) > 0
            ORDER BY count(*) DESC, max(q.asked_at) DESC LIMIT %s""",
}


@lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, str | None]:
    """(PostgreSQL's statement, the id column it returns) for a statement written for SQLite."""
    variant = PG_VARIANTS.get(_squash(sql))
    if variant is not None:
        return variant, None
    out = sql.replace("%", "%%").replace("?", "%s")
    upsert = _INSERT_OR_REPLACE.match(out)
    if upsert:
        table, columns = upsert.group(1), [c.strip() for c in upsert.group(2).split(",")]
        keys = CONFLICT_KEYS.get(table)
        if keys is None:
            raise ConfigError(f"INSERT OR REPLACE INTO {table}: no key known for PostgreSQL")
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        out = out.replace("INSERT OR REPLACE", "INSERT", 1)
        out += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        return out, None
    insert = _INSERT.match(out)
    returning = RETURNING_ID.get(insert.group(1)) if insert else None
    if returning and "RETURNING" not in out.upper():
        out += f" RETURNING {returning}"
    return out, returning


class PgCursor:
    """A psycopg cursor with what callers of sqlite3's use: rows, `rowcount`, `lastrowid`."""

    def __init__(self, cursor: Any, returning: str | None) -> None:
        self.cursor = cursor
        self.lastrowid: int | None = None
        if returning:
            row = cursor.fetchone()
            self.lastrowid = int(row[0]) if row else None

    @property
    def rowcount(self) -> int:
        return int(self.cursor.rowcount)

    def fetchone(self) -> Any:
        return self.cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.cursor.fetchall())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.cursor)


class PgDb:
    """One thread's connection, taking SQL written for SQLite (`translate`) or for PostgreSQL
    (`execute_pg`)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.ef_search = 0  # the session's hnsw.ef_search, once `pg_index` sets it

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        statement, returning = translate(sql)
        # SQLite stores a NUL in text, PostgreSQL refuses it (a question typed with one)
        params = [p.replace("\x00", "") if isinstance(p, str) else p for p in params]
        return self.execute_pg(statement, params, returning)

    def execute_pg(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] = (),
        returning: str | None = None,
        *,
        binary: bool = False,
    ) -> PgCursor:
        """`binary` for vectors: parsing their text costs ~0.1 ms each."""
        import psycopg

        try:
            return PgCursor(self.conn.execute(sql, params, binary=binary), returning)
        except psycopg.IntegrityError as exc:
            # callers written for SQLite catch its error (a feed followed twice, say)
            raise sqlite3.IntegrityError(str(exc).splitlines()[0]) from exc
        except psycopg.errors.DiskFull as exc:
            raise disk_full(self.conn) from exc
        except psycopg.OperationalError as exc:
            if not self.conn.broken:
                raise
            # the server restarted or dropped us: this call fails, the next one reconnects
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no reason given"
            raise ArchivistError(f"the database connection was lost ({first}); try again") from None


def disk_full(conn: Any) -> DiskFull:
    """The server's disk is full (SQLSTATE 53100): named by the database, as SQLite's by its
    file; the transaction is rolled back by the server."""
    return DiskFull(f"the database {conn.info.dbname} on {conn.info.host}")


def redacted(url: str) -> str:
    """The URL without its password (for logs, lock names and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def first_line(exc: BaseException) -> str:
    """An error's first line (its type's name when it says nothing), for a one-line message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect_plain(url: str, **options: Any) -> Any:
    """An autocommit connection with nothing registered on it (`options` go to psycopg);
    a missing driver or a refused connection is a ConfigError naming the URL without its
    password."""
    try:
        import pgvector.psycopg  # noqa: F401  (the store's connections need it too)
        import psycopg
    except ImportError as exc:
        raise ConfigError(
            f"a postgresql:// database needs {exc.name}: pip install 'archivist[postgres]'"
        ) from None
    try:
        return psycopg.connect(url, autocommit=True, **options)
    except psycopg.Error as exc:
        raise ConfigError(f"cannot connect to {redacted(url)}: {first_line(exc)}") from None


def connect(url: str) -> Any:
    conn = connect_plain(url)
    import psycopg  # present: connect_plain checked
    from pgvector.psycopg import register_vector

    try:
        register_vector(conn)
    except psycopg.ProgrammingError:  # a new database: the extension comes with migration 1
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
    _load_vectors_as_arrays(conn)
    return conn


def _load_vectors_as_arrays(conn: Any) -> None:
    """Binary vectors straight to float32 arrays: pgvector's own loader makes a `Vector`
    first, ~55 us each (a question reads a hundred or more)."""
    import numpy as np
    from psycopg.adapt import Loader
    from psycopg.pq import Format
    from psycopg.types import TypeInfo

    class ArrayLoader(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> Any:
            # int16 dimensions, int16 unused, then big-endian float32s
            return np.frombuffer(bytes(data), dtype=">f4", offset=4).astype(np.float32)

    info = TypeInfo.fetch(conn, "vector")
    if info is not None:
        conn.adapters.register_loader(info.oid, ArrayLoader)


class PgConnections:
    """The database and this thread's connection to it; the base of `PostgresStore`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = redacted(url)  # what names this store (feed locks key on it)
        self._local = threading.local()
        self.write_lock = threading.RLock()

    @property
    def db(self) -> PgDb:
        """This thread's connection (made on first use)."""
        db = getattr(self._local, "db", None)
        if db is None or db.conn.broken:
            db = PgDb(connect(self.url))
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[PgDb]:
        """One write transaction: all of it lands, or none of it does."""
        import psycopg

        with self.write_lock:
            db = self.db
            try:
                with db.conn.transaction():
                    db.execute_pg("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK_KEY])
                    yield db
            except psycopg.errors.DiskFull as exc:  # at COMMIT (statements raise it themselves)
                raise disk_full(db.conn) from exc

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

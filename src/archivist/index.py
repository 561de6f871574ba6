"""FAISS over the stored vectors, one index per collection: derived from SQLite, disposable.

Ids are passage row ids; vectors are unit length, so inner product is cosine. The index type
follows the collection's size by itself:

- below `IVF_THRESHOLD` passages: exact search, `IndexIDMap2(IndexFlatIP)`;
- above it: `IndexIVFScalarQuantizer` (8 bits a dimension, on the residuals; inner product),
  trained on a sample of the stored vectors, with a hash-table direct map so deletes work. Its
  codes are a quarter of float32 vectors (384 MB at 1M passages), so a search reads a quarter of
  the memory: at 1M passages and nprobe 256, 6 ms instead of 12 (memory-mapped), for the same
  recall (0.956 against 0.960 at top-10). Its scores are approximate: rank from the stored
  vectors (`exact_scores` says which). Indexes saved as `IndexIVFFlat` keep working. `nprobe`
  is calibrated at build time so the dense top-k keeps >= 0.95 of exact search's results
  (`index_ivf`). It
  is rebuilt from the store when the collection has grown `RETRAIN_GROWTH` times past the size
  it was trained at (or has shrunk back under half the threshold, to exact search again).

A JSON sidecar records model, dimension, type, count and collection and is checked on load; at
open the index is reconciled with the store (missing rows added, stale ones removed) or rebuilt.
Writes are atomic. An IVF file is memory-mapped at load (ready in a fraction of a second at 1M
passages, pages read as searches touch them); the first write copies it into memory.

Saving is cheap below ~64 MB and done after every change; a large index is saved once enough
has changed (or enough time has passed) and on close. That keeps crash safety: SQLite is the
truth and whatever the file lacks is repaired from it at the next open.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from archivist import index_ivf
from archivist.index_files import file_lock, fingerprint, index_paths, store_fingerprint
from archivist.index_ivf import probe_floor
from archivist.store import Store

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
FLAT = "IDMap2,Flat,IP"
IVF_THRESHOLD = 50_000  # passages; below it exact search is fast enough (~3 ms on 2 cores)
RETRAIN_GROWTH = 4.0  # the ideal nlist grows with sqrt(n): 4x the passages, 2x the lists

SAVE_ALWAYS_BYTES = 64 * 2**20  # smaller indexes are saved at the end of every change ...
SAVE_INTERIM_S = 30.0  # ... and, within a long ingest, this often
SAVE_CHANGED_FRACTION = 0.02  # larger ones when this share of rows changed ...
SAVE_MAX_AGE_S = 600.0  # ... or this long after the first unsaved change


def _faiss():
    import faiss

    return faiss


class VectorIndex:
    """The FAISS index of one collection."""

    def __init__(
        self,
        directory: Path,
        collection: str,
        dim: int,
        model: str,
        ivf_threshold: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.collection = collection
        self.dim = dim
        self.model = model
        self.ivf_threshold = ivf_threshold or IVF_THRESHOLD
        self.path, self.sidecar = index_paths(self.directory, collection)
        self._lock = threading.RLock()
        self._rebuild_lock = threading.Lock()  # one rebuild at a time; searches go on
        self._index = self._empty()
        self.kind = FLAT
        self.trained_at = 0  # passages when the IVF was trained
        self.loaded = False
        self.mapped = False  # memory-mapped, read-only until the first write
        self._store: Store | None = None
        self._changes = 0  # rows added or removed since the last save
        self._fingerprint: list[int] | None = None  # of the ids, as loaded; None once changed
        self._first_change = 0.0
        self.dirty = False

    def _empty(self):
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def is_ivf(self) -> bool:
        return self.kind != FLAT

    @property
    def nprobe(self) -> int:
        """The inverted lists an IVF search probes (0 for exact search)."""
        return int(self._index.nprobe) if self.is_ivf else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        """Probe another number of lists (the benchmarks sweep it; calibration sets it)."""
        if self.is_ivf:
            self._index.nprobe = max(1, int(value))

    @property
    def nlist(self) -> int:
        """The IVF index's inverted lists (0 for exact search)."""
        return int(self._index.nlist) if self.is_ivf else 0

    @property
    def exact_scores(self) -> bool:
        """Whether search scores are exact cosines (not for 8-bit codes)."""
        return self.kind == FLAT or ",Flat," in self.kind

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of those `ids` an exact index holds, from memory: the same float32
        as the store's, which a cold page cache would read from disk. None from an IVF index
        (8-bit codes, or lists without a direct map): the caller reads the store."""
        if not ids or self.kind != FLAT:
            return {}
        keys = np.asarray(ids, dtype=np.int64)
        with self._lock:
            try:
                return dict(zip(keys.tolist(), self._index.reconstruct_batch(keys), strict=True))
            except RuntimeError:  # one not in the index (the store's reads are the truth)
                return {k: v for k in keys.tolist() if (v := self._one(k)) is not None}

    def _one(self, key: int) -> np.ndarray | None:
        try:
            return self._index.reconstruct(key)
        except RuntimeError:
            return None

    def ids(self) -> np.ndarray:
        faiss = _faiss()
        with self._lock:
            if not self.is_ivf:
                return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))
            return index_ivf.list_ids(self._index)

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, store: Store) -> str:
        """Load from disk (once) and reconcile with the store. Returns what was done.

        Called again when another process wrote to the collection: the index in memory is
        then reconciled in place, not re-read.
        """
        with self._lock:
            self._store = store
            action = "loaded" if self.loaded else self._load()
            if action != "loaded":
                log.info("building the index of %r from the store (%s)", self.collection, action)
                self.rebuild(store)
                return action
            if self._fingerprint is not None and self._fingerprint == store_fingerprint(
                store, self.collection
            ):  # the file holds exactly the stored ids: no need to list a million of them
                repaired = False
            else:
                repaired = self._reconcile(store, store.passage_ids(self.collection))
            self.checkpoint()  # saves a repair; retypes an index whose size calls for it
            return "repaired" if repaired else "loaded"

    def _reconcile(self, store: Store, stored: np.ndarray) -> bool:
        indexed = self.ids()
        if np.array_equal(indexed, stored):
            return False
        missing = np.setdiff1d(stored, indexed, assume_unique=True)
        extra = np.setdiff1d(indexed, stored, assume_unique=True)
        log.warning(
            "index of %r out of step with the store (%d missing, %d stale): repairing",
            self.collection,
            len(missing),
            len(extra),
        )
        if len(extra):
            self.remove(extra)
        for ids, vectors in store.iter_vectors(self.collection, self.dim, ids=missing):
            self.add(ids, vectors)
        return True

    def load_only(self) -> str:
        """Load the file as it is, without reconciling (for `archivist check`)."""
        with self._lock:
            return self._load()

    def _expected_meta(self) -> dict:
        return {
            "model": self.model,
            "dim": self.dim,
            "version": FORMAT_VERSION,
            "collection": self.collection,
        }

    def _load(self) -> str:
        if not self.path.exists() or not self.sidecar.exists():
            return "missing"
        faiss = _faiss()
        try:
            meta = json.loads(self.sidecar.read_text())
            if any(meta.get(k) != v for k, v in self._expected_meta().items()):
                return "mismatched"
            kind = meta.get("type")
            if kind == FLAT:
                index = faiss.read_index(str(self.path))
            elif isinstance(kind, str) and kind.startswith("IVF"):
                # mapped, not read: the bot is ready at once and the OS pages lists in on use
                index = faiss.read_index(str(self.path), faiss.IO_FLAG_MMAP)
                # an index saved before MIN_PROBE_SHARE existed gets the floor at once
                index.nprobe = max(int(meta["nprobe"]), probe_floor(index.nlist))
            else:
                return "mismatched"
            if index.d != self.dim or index.ntotal != meta.get("count"):
                return "mismatched"
        except Exception as exc:  # corrupt file: rebuild from the truth
            log.warning("index file %s unreadable (%s)", self.path, exc)
            return "corrupt"
        self._index = index
        self.kind = kind
        self.trained_at = int(meta.get("trained_at") or 0)
        self.mapped = kind != FLAT
        self._fingerprint = meta.get("ids")
        self.loaded = True
        self.dirty = False
        self._changes = 0
        return "loaded"

    def wanted_kind(self, n: int) -> str:
        """The type an index of n passages should have, given the current one (hysteresis)."""
        if not self.is_ivf:
            return "ivf" if n >= self.ivf_threshold else "flat"
        if n < self.ivf_threshold // 2:
            return "flat"
        if n >= self.trained_at * RETRAIN_GROWTH:
            return "retrain"
        return "ivf"

    def rebuild(self, store: Store) -> None:
        """A new index from the stored vectors (exact or IVF by size), swapped in when ready.

        Searches go on against the old index meanwhile; writes that land during the build
        are picked up by a reconcile with the store before the swap.
        """
        with self._rebuild_lock:
            self._rebuild(store)

    def _rebuild(self, store: Store) -> None:
        self._store = store
        n = len(store.passage_ids(self.collection))
        started = time.perf_counter()
        if n >= self.ivf_threshold:
            new, nprobe = index_ivf.build(
                lambda: store.iter_vectors(self.collection, self.dim), self.dim, n
            )
            kind = index_ivf.ivf_type(new.nlist)
        else:
            new, nprobe, kind = self._empty(), 0, FLAT
            for ids, vectors in store.iter_vectors(self.collection, self.dim):
                new.add_with_ids(vectors, ids)
        with self._lock:
            self._index, self.kind = new, kind
            self.trained_at = n if kind != FLAT else 0
            self.mapped = False
            self.loaded = True
            self._reconcile(store, store.passage_ids(self.collection))
            self._mark(self.ntotal)
            self.save()
        log.info(
            "index of %r rebuilt: %s, %d passages, nprobe %d, %.1fs",
            self.collection,
            kind,
            self.ntotal,
            nprobe,
            time.perf_counter() - started,
        )

    def calibrate(self, store: Store) -> int:
        """Choose nprobe again for the IVF index as it is (two passes over the stored
        vectors, no retraining); saved with the index. Returns the new nprobe."""
        if not self.is_ivf:
            return 0
        n = len(store.passage_ids(self.collection))
        with self._lock:
            self._index.nprobe = index_ivf.recalibrate(
                self._index, lambda: store.iter_vectors(self.collection, self.dim), n
            )
            self._mark(0)
            self.save()
        return self.nprobe

    def checkpoint(self, force: bool = False, interim: bool = False) -> None:
        """After a batch of changes: retype the index if its size calls for it, and save when
        due (see the module docstring). `interim`: more batches of the same ingest follow."""
        if self._store is not None and not interim:
            wanted = self.wanted_kind(self.ntotal)
            if (wanted == "ivf") != self.is_ivf or wanted == "retrain":
                self.rebuild(self._store)
                return
        with self._lock:
            if not self.dirty:
                return
            small = self.ntotal * self.dim * 4 <= SAVE_ALWAYS_BYTES
            age = time.monotonic() - self._first_change
            due = (
                force
                or (small and (not interim or age >= SAVE_INTERIM_S))
                or self._changes >= SAVE_CHANGED_FRACTION * self.ntotal
                or age >= SAVE_MAX_AGE_S
            )
            if due:
                self.save()

    def save(self) -> None:
        """Atomic: write to temp files, then rename over the old ones."""
        with self._lock:
            # a memory-mapped index must not be written as it is: faiss would serialize the
            # mapping (an on-disk list reference), not the lists
            self._writable()
            self.directory.mkdir(parents=True, exist_ok=True)
            unique = f"{os.getpid()}-{threading.get_ident()}"
            tmp_index = self.path.with_suffix(f".faiss.{unique}.tmp")
            tmp_meta = self.sidecar.with_suffix(f".json.{unique}.tmp")
            _faiss().write_index(self._index, str(tmp_index))
            meta = {
                **self._expected_meta(),
                "type": self.kind,
                "count": self.ntotal,
                "ids": fingerprint(self.ids()),
            }
            if self.is_ivf:
                meta.update(nprobe=self.nprobe, trained_at=self.trained_at)
            tmp_meta.write_text(json.dumps(meta, indent=2))
            for tmp in (tmp_index, tmp_meta):
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            # the sidecar goes last: a crash between the two renames leaves a count mismatch,
            # which the next open detects and repairs. Another process saving the same
            # collection waits, so a file and its sidecar always come from the same save.
            with file_lock(self.path.with_suffix(".lock")):
                os.replace(tmp_index, self.path)
                os.replace(tmp_meta, self.sidecar)
            self.dirty = False
            self._changes = 0
            self._fingerprint = meta["ids"]

    # -- changes -----------------------------------------------------------------------------
    def _writable(self) -> None:
        """Copy a memory-mapped IVF into memory before its first change."""
        if not self.mapped:
            return
        started = time.perf_counter()
        index_ivf.copy_into_memory(self._index)
        self.mapped = False
        log.info(
            "index of %r copied into memory for writing in %.1fs",
            self.collection,
            time.perf_counter() - started,
        )

    def _mark(self, changed: int) -> None:
        self._fingerprint = None
        if not self.dirty:
            self._first_change = time.monotonic()
        self.dirty = True
        self._changes += changed

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._writable()
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )
            self._mark(len(ids))

    def remove(self, ids) -> int:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            self._writable()
            removed = int(self._index.remove_ids(_faiss().IDSelectorArray(ids)))
            self._mark(removed)
            return removed

    def search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (ids, cosine scores) for one query vector."""
        if self.ntotal == 0 or n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        faiss = _faiss()
        # one query is too small to share between threads: OpenMP's hand-offs cost more than
        # the search (measured on 2 busy cores: a 3k flat search 5-16 ms with 2 threads,
        # 0.2 ms with 1). The setting is per calling thread; builds elsewhere keep theirs.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            with self._lock:
                scores, ids = self._index.search(
                    np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32),
                    min(n, self.ntotal),
                )
        finally:
            faiss.omp_set_num_threads(threads)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def file_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def memory_bytes(self) -> int:
        """What the index takes in memory once its pages are touched (an estimate from its
        size and type: a memory-mapped IVF is counted as if all of it were read in)."""
        return memory_estimate(self.ntotal, self.dim, self.nlist if self.is_ivf else 0)


# per vector besides its codes: the id (8 bytes) and its entry in the id -> slot hash map
# (IndexIDMap2's reverse map, or an IVF's hash-table direct map) of about 40 bytes
ID_OVERHEAD_BYTES = 48


def memory_estimate(ntotal: int, dim: int, nlist: int = 0) -> int:
    """Bytes an index of `ntotal` vectors takes: float32 codes when exact (nlist 0), 8-bit
    codes plus float32 centroids when IVF."""
    if nlist:
        return ntotal * (dim + ID_OVERHEAD_BYTES) + nlist * dim * 4
    return ntotal * (dim * 4 + ID_OVERHEAD_BYTES)

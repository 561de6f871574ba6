"""FAISS over the stored vectors, one index per collection: derived from SQLite, disposable.

`IndexIDMap2` over inner product on unit vectors; ids are passage row ids. A JSON sidecar records
model, dimension, index type, count and collection; at open the index is checked against the
store and repaired (missing rows added, stale ones removed) or rebuilt. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

from archivist.store import Store

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def _faiss():
    import faiss

    return faiss


def index_paths(directory: Path, collection: str) -> tuple[Path, Path]:
    key = hashlib.sha1(collection.encode()).hexdigest()[:16]
    return directory / f"{key}.faiss", directory / f"{key}.json"


class VectorIndex:
    """The FAISS index of one collection."""

    def __init__(self, directory: Path, collection: str, dim: int, model: str) -> None:
        self.directory = Path(directory)
        self.collection = collection
        self.dim = dim
        self.model = model
        self.path, self.sidecar = index_paths(self.directory, collection)
        self._lock = threading.RLock()
        self._index = self._empty()
        self.dirty = False

    def _empty(self):
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        faiss = _faiss()
        with self._lock:
            return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self, store: Store) -> str:
        """Load from disk and reconcile with the store. Returns what was done (for logs/tests)."""
        with self._lock:
            action = self._load()
            stored = store.passage_ids(self.collection)
            if action == "loaded":
                indexed = self.ids()
                if np.array_equal(indexed, stored):
                    return "loaded"
                missing = np.setdiff1d(stored, indexed, assume_unique=True)
                extra = np.setdiff1d(indexed, stored, assume_unique=True)
                log.warning(
                    "index of %r out of step with the store (%d missing, %d stale): repairing",
                    self.collection, len(missing), len(extra),
                )
                if len(extra):
                    self.remove(extra)
                for ids, vectors in store.iter_vectors(self.collection, self.dim, ids=missing):
                    self.add(ids, vectors)
                self.save()
                return "repaired"
            log.info("building the index of %r from the store (%s)", self.collection, action)
            self.rebuild(store)
            return action

    def load_only(self) -> str:
        """Load the file as it is, without reconciling (for `archivist check`)."""
        with self._lock:
            return self._load()

    def _load(self) -> str:
        if not self.path.exists() or not self.sidecar.exists():
            return "missing"
        try:
            meta = json.loads(self.sidecar.read_text())
            expected = {"model": self.model, "dim": self.dim, "type": "IDMap2,Flat,IP",
                        "version": FORMAT_VERSION, "collection": self.collection}
            if any(meta.get(k) != v for k, v in expected.items()):
                return "mismatched"
            index = _faiss().read_index(str(self.path))
            if index.d != self.dim or index.ntotal != meta.get("count"):
                return "mismatched"
        except Exception as exc:  # corrupt file: rebuild from the truth
            log.warning("index file %s unreadable (%s)", self.path, exc)
            return "corrupt"
        self._index = index
        return "loaded"

    def rebuild(self, store: Store) -> None:
        with self._lock:
            self._index = self._empty()
            for ids, vectors in store.iter_vectors(self.collection, self.dim):
                self._index.add_with_ids(vectors, ids)
            self.dirty = True
            self.save()

    def save(self) -> None:
        """Atomic: write to temp files, then rename over the old ones."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp_index = self.path.with_suffix(".faiss.tmp")
            tmp_meta = self.sidecar.with_suffix(".json.tmp")
            _faiss().write_index(self._index, str(tmp_index))
            meta = {"model": self.model, "dim": self.dim, "type": "IDMap2,Flat,IP",
                    "version": FORMAT_VERSION, "collection": self.collection,
                    "count": self.ntotal}
            tmp_meta.write_text(json.dumps(meta, indent=2))
            for tmp in (tmp_index, tmp_meta):
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            # the sidecar goes last: a crash between the two renames leaves a count mismatch,
            # which the next open detects and repairs
            os.replace(tmp_index, self.path)
            os.replace(tmp_meta, self.sidecar)
            self.dirty = False

    # -- changes -----------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )
            self.dirty = True

    def remove(self, ids) -> int:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return 0
        with self._lock:
            removed = int(self._index.remove_ids(_faiss().IDSelectorArray(ids)))
            self.dirty = True
            return removed

    def search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (ids, cosine scores) for one query vector."""
        if self.ntotal == 0 or n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        with self._lock:
            scores, ids = self._index.search(
                np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32), min(n, self.ntotal)
            )
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def file_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

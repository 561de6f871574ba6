"""The open FAISS indexes, one a collection, within a memory budget: a bot of ten thousand
servers keeps only the recently used ones open, so its memory follows the budget, not the
number of servers.

- Least recently used first out: an index asked for, written to or opened moves to the end; when
  the open indexes' memory (`VectorIndex.memory_bytes`) passes the budget, the oldest go (saved
  first when they hold unsaved changes). The one just used always stays, even alone over budget.
- An evicted index is never closed under its user: the cache only lets go of it. A question or
  an upload that still holds it goes on with it, and until the last of them lets go, asking for
  the collection again hands back that same index (no second copy, no write landing in a copy
  nobody reads). Its memory goes when the last holder drops it.
- Every index is checked against the store when it is opened and again after someone else's
  writes (the store's generation), so an evicted index reopened is as good as one kept.
- Opening one collection's index (a check; a rebuild at worst) is done outside the cache's
  lock: it holds up only the collections that share its lock stripe (one in OPEN_STRIPES).
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archivist.embedding import Embedder
from archivist.index import VectorIndex
from archivist.index_files import index_paths
from archivist.store import Store

log = logging.getLogger(__name__)

DEFAULT_BUDGET_MB = 512  # with the model, SQLite's cache and Python: well inside 2 GB
# a start checks these indexes at once, largest first (within the budget), since a lazy check
# of one would cost its first question a file read or a rebuild far past a cold ask's 50 ms;
# smaller ones (10k passages exact) are checked on first use in a few milliseconds
EAGER_MIN_FILE_BYTES = 16 * 2**20
OPEN_STRIPES = 64  # opens of collections in different stripes run side by side
MB = 2**20


@dataclass
class _Open:
    index: VectorIndex
    synced: int  # the store generation the index reflects
    size: int  # its memory_bytes() when last used


@dataclass(frozen=True)
class _Retired:
    """An index let go of, still alive while a question or an upload holds it."""

    ref: weakref.ref[VectorIndex]
    synced: int


@dataclass(frozen=True)
class CacheUse:
    """What the cache holds now."""

    open: int  # indexes open
    memory_bytes: int  # their memory (estimated)
    budget_bytes: int
    held_elsewhere: int  # evicted indexes still held by a running question or upload


class IndexCache:
    """Each collection's index, opened on demand and checked against the store, the least
    recently used evicted past `budget_mb`; thread-safe."""

    def __init__(
        self,
        store: Store,
        directory: Path,
        embedder: Embedder,
        budget_mb: float = DEFAULT_BUDGET_MB,
    ) -> None:
        self.store = store
        self.directory = directory
        self.dim, self.model = embedder.dim, embedder.name
        self.budget_bytes = int(budget_mb * MB)
        self._open: OrderedDict[str, _Open] = OrderedDict()  # least recently used first
        self._retired: dict[str, _Retired] = {}
        self._lock = threading.Lock()  # held for bookkeeping only, never for file work
        self._stripes = [threading.Lock() for _ in range(OPEN_STRIPES)]

    # -- use ---------------------------------------------------------------------------------
    def checked(self, collection: str) -> VectorIndex:
        """The index, checked against the store on first use and after others' writes."""
        generation = self.store.generation(collection)
        # the store's kept counts follow this read (the one a question makes): another
        # process's write is in them from the next question on
        self.store.follow_generation(collection, generation)
        with self._lock:
            entry, victims = self._use(collection)
        if entry is None or entry.synced != generation:
            with self._opening(collection):
                entry, more = self._open_checked(collection, generation)
            victims += more
        self._let_go(victims)
        return entry.index

    def _open_checked(self, collection: str, generation: int) -> tuple[_Open, list[_Open]]:
        """Under the collection's stripe: open (or reconcile) its index, outside the cache's
        lock, since that may read the whole collection from the store."""
        with self._lock:
            entry, victims = self._use(collection)  # opened by another thread meanwhile?
        if entry is None:
            index = VectorIndex(self.directory, collection, self.dim, self.model)
            log.debug("index %r: %s", collection, index.open(self.store))
            entry = _Open(index, generation, 0)
        elif entry.synced != generation:
            log.info("collection %r changed elsewhere: reconciling its index", collection)
            entry.index.open(self.store)
        with self._lock:
            # our own writes meanwhile may have moved it past `generation` (note_write)
            entry.synced = max(entry.synced, generation)
            entry.size = entry.index.memory_bytes()
            self._open[collection] = entry
            self._open.move_to_end(collection)
            self._retired.pop(collection, None)  # evicted while it was being reconciled
            victims += self._over_budget(keep=collection)
        return entry, victims

    def note_write(self, collection: str, generations: tuple[int, int]) -> None:
        """After our own write: stay in sync unless someone else wrote in between. A write is a
        use: an upload's index stays open while it runs."""
        before, after = generations
        self.store.follow_generation(collection, after)
        with self._lock:
            entry, victims = self._use(collection)
            if entry is not None:
                if entry.synced == before:
                    entry.synced = after
                entry.size = entry.index.memory_bytes()
                victims += self._over_budget(keep=collection)
        self._let_go(victims)

    def as_loaded(self, collection: str) -> VectorIndex:
        """The index as it is (open, or loaded from its file without any check, not kept)."""
        with self._lock:
            entry = self._open.get(collection)
            retired = self._retired.get(collection)
            held = entry.index if entry else (retired.ref() if retired else None)
        if held is not None:
            return held
        index = VectorIndex(self.directory, collection, self.dim, self.model)
        index.load_only()
        return index

    def save_dirty(self) -> None:
        """Save every index with unsaved changes (at close), those evicted but held included."""
        with self._lock:
            indexes = [e.index for e in self._open.values()]
            indexes += [i for r in self._retired.values() if (i := r.ref()) is not None]
        for index in indexes:
            if index.dirty:
                index.save()

    # -- start -------------------------------------------------------------------------------
    def check_large(self, collections: Iterable[str]) -> list[str]:
        """Check now the indexes whose first check would be slow (large files, or large
        collections without a file), largest first while they fit in the budget; the others
        are checked on first use. Returns the collections checked."""
        sizes = sorted(
            ((self._size_on_disk(c), c) for c in collections), key=lambda s: s[0], reverse=True
        )
        checked: list[str] = []
        total = 0
        for size, collection in sizes:
            if size < EAGER_MIN_FILE_BYTES:
                break
            if total + size > self.budget_bytes:
                continue
            self.checked(collection)
            checked.append(collection)
            total += size
        return checked

    def _size_on_disk(self, collection: str) -> int:
        """The index file's size, or for a missing file the size a rebuild would give."""
        path, _ = index_paths(self.directory, collection)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return self.store.count_passages(collection) * self.dim * 4

    def totals(self, collections: Iterable[str]) -> tuple[int, int]:
        """(vectors, bytes on disk) of these collections' indexes without opening any: an
        open index as it is, a closed one as its file was last saved (a scrape of the bot's
        metrics must not cycle ten thousand indexes through the cache)."""
        with self._lock:
            held = {c: e.index for c, e in self._open.items()}
        vectors = size = 0
        for collection in collections:
            index = held.get(collection)
            if index is not None:
                vectors += index.ntotal
                size += index.file_bytes()
                continue
            path, sidecar = index_paths(self.directory, collection)
            try:
                vectors += int(json.loads(sidecar.read_text()).get("count") or 0)
                size += path.stat().st_size
            except (OSError, ValueError):  # not built yet: its first use builds it
                continue
        return vectors, size

    # -- what is open ------------------------------------------------------------------------
    def open_collections(self) -> list[str]:
        """The collections whose index is open, the least recently used first."""
        with self._lock:
            return list(self._open)

    def use(self) -> CacheUse:
        with self._lock:
            self._prune()
            return CacheUse(
                open=len(self._open),
                memory_bytes=sum(e.size for e in self._open.values()),
                budget_bytes=self.budget_bytes,
                held_elsewhere=len(self._retired),
            )

    # -- bookkeeping (under self._lock) ------------------------------------------------------
    def _use(self, collection: str) -> tuple[_Open | None, list[_Open]]:
        """The open entry, moved to the recent end; an evicted index still held is taken back
        (the one index of its collection). With the evictions that this may call for."""
        entry = self._open.get(collection)
        if entry is not None:
            self._open.move_to_end(collection)
            return entry, []
        retired = self._retired.pop(collection, None)
        index = retired.ref() if retired else None
        if retired is None or index is None:
            return None, []
        entry = _Open(index, retired.synced, index.memory_bytes())
        self._open[collection] = entry
        return entry, self._over_budget(keep=collection)

    def _over_budget(self, keep: str) -> list[_Open]:
        """Take out the least recently used until within budget (never `keep`); the caller
        saves them outside the lock (`_let_go`)."""
        used = sum(e.size for e in self._open.values())
        victims: list[_Open] = []
        for collection in list(self._open):
            if used <= self.budget_bytes:
                break
            if collection == keep:
                continue
            entry = self._open.pop(collection)
            used -= entry.size
            self._retired[collection] = _Retired(weakref.ref(entry.index), entry.synced)
            victims.append(entry)
        if victims:
            self._prune()
        return victims

    def _prune(self) -> None:
        dead = [c for c, r in self._retired.items() if r.ref() is None]
        for collection in dead:
            del self._retired[collection]

    def _let_go(self, victims: list[_Open]) -> None:
        """Save what the evicted indexes hold unsaved, then drop our references to them."""
        for entry in victims:
            if entry.index.dirty:
                try:
                    entry.index.save()
                except OSError:  # the store is the truth: the next open repairs the file
                    log.exception("could not save the index of %r", entry.index.collection)
            log.debug("index %r evicted (%.1f MB)", entry.index.collection, entry.size / MB)
        victims.clear()

    @contextmanager
    def _opening(self, collection: str) -> Iterator[None]:
        with self._stripes[hash(collection) % OPEN_STRIPES]:
            yield

"""The PostgreSQL store's way of keeping a read for a while: values that move slowly and cost a
round trip to the server each (term counts, the passage total), shared by every thread of the
process. SQLite keeps none: its counts are tables read by primary key in-process (`passages`).

Kept values follow the collections' generations (`TtlCache.follow`): after another process's
write (or this one's) to a collection, seen when that collection's generation is next read,
every count under `RECOUNTED_UNDER` is read again, so a question never ranks with the rare
words' counts from before a write it can already see (a new article's own words are rare: a
count kept at 0 would hide it from idf). Larger counts are kept to their TTL: reading one again
is a round trip for every common word of every question, and a batch moves it by a few
percent at most. The TTL bounds the rest too: writes to collections this process has not
looked at since."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

MAX_FOLLOWED = 100_000  # collections whose generation is remembered; past it, forget them all
# a batch (32 articles, a few hundred passages) moves a count this large by ~3% at most
RECOUNTED_UNDER = 10_000


class TtlCache(Generic[K, V]):
    """Values kept `ttl_s` seconds each, and counts under `RECOUNTED_UNDER` only until a
    followed collection's generation moves; emptied whole when it holds more than `max_items`
    (cheaper than tracking which are oldest, and rare)."""

    def __init__(self, ttl_s: float, max_items: int) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[K, tuple[V, float]] = {}
        self._seen: dict[str, int] = {}  # collection -> the generation the values are after
        self._epoch = 0  # moves whenever counts are forgotten
        self._reading = threading.local()  # this thread's epoch at its last get_many
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[K]) -> tuple[dict[K, V], list[K]]:
        """(the values still fresh, the keys to read again)."""
        now = time.monotonic()
        fresh: dict[K, V] = {}
        stale: list[K] = []
        with self._lock:
            self._reading.epoch = self._epoch
            for key in keys:
                hit = self._items.get(key)
                if hit is not None and now - hit[1] < self.ttl_s:
                    fresh[key] = hit[0]
                else:
                    stale.append(key)
        return fresh, stale

    def put_many(self, values: dict[K, V]) -> None:
        """Keep values this thread read after its last `get_many`; dropped if a write was seen
        meanwhile (`follow`), since the read may have started before that write."""
        now = time.monotonic()
        with self._lock:
            if getattr(self._reading, "epoch", None) != self._epoch:
                return
            if len(self._items) > self.max_items:
                self._items.clear()
            for key, value in values.items():
                self._items[key] = (value, now)

    def follow(self, collection: str, generation: int) -> bool:
        """Called with a collection's generation as just read (or just written): forgets the
        small counts when it moved since last followed, or is the first seen of this
        collection (its writes may have landed after the counts were read). Whether it did."""
        with self._lock:
            if self._seen.get(collection) == generation:
                return False
            if len(self._seen) >= MAX_FOLLOWED:
                self._seen.clear()
            self._seen[collection] = generation
            self._items = {k: hit for k, hit in self._items.items() if _large(hit[0])}
            self._epoch += 1
            return True

    def clear(self) -> None:
        """Forget every value (after a repair, say: counts of any size may have moved)."""
        with self._lock:
            self._items.clear()
            self._epoch += 1


class KeptCounts:
    """What a store keeps of its counts (term document frequencies, the passage total), and
    the two ways they go stale: a collection's generation moved, or a repair rewrote them."""

    doc_freq_cache: TtlCache[str, int]
    total_cache: TtlCache[str, int]

    def follow_generation(self, collection: str, generation: int) -> None:
        """The collection's generation as just read or written (`TtlCache.follow`)."""
        self.doc_freq_cache.follow(collection, generation)
        self.total_cache.follow(collection, generation)

    def forget_counts(self) -> None:
        """Forget every kept count (after a repair: counts of any size may have moved)."""
        self.doc_freq_cache.clear()
        self.total_cache.clear()


def _large(value: object) -> bool:
    return isinstance(value, int) and value >= RECOUNTED_UNDER

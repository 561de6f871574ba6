"""The store's one way of keeping a read for a while: values that move slowly and cost a
query each (term counts, the passage total), shared by every thread of the process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept `ttl_s` seconds each; emptied whole when it holds more than `max_items`
    (cheaper than tracking which are oldest, and rare)."""

    def __init__(self, ttl_s: float, max_items: int) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[K]) -> tuple[dict[K, V], list[K]]:
        """(the values still fresh, the keys to read again)."""
        now = time.monotonic()
        fresh: dict[K, V] = {}
        stale: list[K] = []
        with self._lock:
            for key in keys:
                hit = self._items.get(key)
                if hit is not None and now - hit[1] < self.ttl_s:
                    fresh[key] = hit[0]
                else:
                    stale.append(key)
        return fresh, stale

    def put_many(self, values: dict[K, V]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._items) > self.max_items:
                self._items.clear()
            for key, value in values.items():
                self._items[key] = (value, now)

"""The feeds each collection follows and the items each has met, in the archive's store (their
tables come with the store's migrations: `m_feeds_*`). The polling policy is `archivist.feeds`'s;
this module only records what a poll found."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from archivist.errors import FeedError, FeedNotFound
from archivist.store.connection import Connections
from archivist.store.rows import now_iso

Outcome = tuple[str, str | None, str, str | None]  # an item's key, link, status and error


@dataclass(frozen=True)
class Feed:
    id: int
    collection: str
    name: str
    url: str
    added_at: str
    added_by: str | None
    last_polled_at: str | None
    last_error: str | None
    items_seen: int = 0
    failures: int = 0  # polls failed in a row (0 after a success)
    next_poll_at: str | None = None  # set while failing: the back-off's next try
    disabled_at: str | None = None  # set after too many failures: no longer polled
    added_in: str | None = None  # where it was added (the bot: a channel), told when disabled

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "added_at": self.added_at,
            "last_polled_at": self.last_polled_at,
            "last_error": self.last_error,
            "items_seen": self.items_seen,
            "failures": self.failures,
            "disabled": self.disabled,
        }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


FEED_COLUMNS = (
    "f.id, f.collection, f.name, f.url, f.added_at, f.added_by, f.last_polled_at,"
    " f.last_error, (SELECT count(*) FROM feed_items i WHERE i.feed = f.id),"
    " f.failures, f.next_poll_at, f.disabled_at, f.added_in"
)


class FeedTable:
    """The feeds of every collection and the items each has seen, in the archive's store."""

    def __init__(self, store: Connections) -> None:
        self.store = store

    def _query(self, where: str, params: Sequence[Any]) -> list[Feed]:
        rows = self.store.db.execute(
            f"SELECT {FEED_COLUMNS} FROM feeds f {where} ORDER BY f.id", list(params)
        ).fetchall()
        return [Feed(*r) for r in rows]

    def feeds(self, collection: str | None = None) -> list[Feed]:
        if collection is None:
            return self._query("", [])
        return self._query("WHERE f.collection = ?", [collection])

    def get(self, feed_id: int) -> Feed | None:
        found = self._query("WHERE f.id = ?", [feed_id])
        return found[0] if found else None

    def find(self, collection: str, ref: str) -> Feed:
        """A collection's feed by id, URL or name (case-insensitive)."""
        ref = ref.strip()
        feeds = self.feeds(collection)
        for match in (
            lambda f: ref.isdigit() and f.id == int(ref),
            lambda f: f.url == ref,
            lambda f: f.url.rstrip("/") == ref.rstrip("/"),
            lambda f: f.name.casefold() == ref.casefold(),
        ):
            found = [f for f in feeds if match(f)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise FeedNotFound(ref, ambiguous=True)
        raise FeedNotFound(ref)

    def insert(
        self,
        collection: str,
        name: str,
        url: str,
        added_by: str | None,
        *,
        polled: bool = False,
        added_in: str | None = None,
    ) -> Feed:
        """`polled`: about to be polled by its adder, so not due for the schedule yet."""
        now = now_iso()
        with self.store.transaction() as db:
            try:
                cursor = db.execute(
                    "INSERT INTO feeds (collection, name, url, added_at, added_by, last_polled_at,"
                    " added_in) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [collection, name, url, now, added_by, now if polled else None, added_in],
                )
            except sqlite3.IntegrityError:
                raise FeedError(url, "this feed is already followed here") from None
            feed_id = cursor.lastrowid
        feed = self.get(int(feed_id or 0))
        assert feed is not None
        return feed

    def delete(self, feed: Feed) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM feed_items WHERE feed = ?", [feed.id])
            db.execute("DELETE FROM feeds WHERE id = ?", [feed.id])

    def seen(self, feed_id: int) -> dict[str, tuple[str, int]]:
        """key -> (status, attempts) of the items this feed has already met."""
        rows = self.store.db.execute(
            "SELECT key, status, attempts FROM feed_items WHERE feed = ?", [feed_id]
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def resume(self, feed_id: int, added_in: str | None) -> None:
        """A disabled feed added again: polled on schedule again, from a clean slate."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE feeds SET failures = 0, next_poll_at = NULL, disabled_at = NULL,"
                " last_error = NULL, added_in = coalesce(?, added_in) WHERE id = ?",
                [added_in, feed_id],
            )

    def record_failure(
        self, feed_id: int, reason: str, *, wait_s: Callable[[int], float], max_failures: int
    ) -> None:
        """A poll that failed as a whole: the next waits `wait_s(failures in a row)`, or, after
        `max_failures`, the feed is disabled."""
        with self.store.transaction() as db:
            row = db.execute("SELECT failures FROM feeds WHERE id = ?", [feed_id]).fetchone()
            if row is None:
                return  # removed while it was being polled
            failures = row[0] + 1
            now = datetime.now(UTC)
            if failures >= max_failures:
                error = (
                    f"disabled after {failures} failed polls in a row (the last: {reason}); "
                    "remove it, or add it again to resume"
                )
                disabled_at: str | None = _iso(now)
            else:
                error, disabled_at = reason, None
            db.execute(
                "UPDATE feeds SET failures = ?, next_poll_at = ?, disabled_at = ?,"
                " last_polled_at = ?, last_error = ? WHERE id = ?",
                [
                    failures,
                    _iso(now + timedelta(seconds=wait_s(failures))),
                    disabled_at,
                    _iso(now),
                    error,
                    feed_id,
                ],
            )

    def record(self, feed_id: int, outcomes: Sequence[Outcome], error: str | None) -> None:
        """After a poll that worked (its items may have failed): each item's (key, link, status,
        error), and a summary of the items' failures; the feed's failure count starts over."""
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM feeds WHERE id = ?", [feed_id]).fetchone() is None:
                return  # removed while it was being polled; what was stored stays
            now = now_iso()
            for key, link, status, item_error in outcomes:
                db.execute(
                    "INSERT INTO feed_items (feed, key, link, status, attempts, error, seen_at)"
                    " VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (feed, key) DO UPDATE SET"
                    " status = excluded.status, error = excluded.error, link = excluded.link,"
                    " attempts = feed_items.attempts + 1",
                    [feed_id, key, link, status, item_error, now],
                )
            db.execute(
                "UPDATE feeds SET last_polled_at = ?, last_error = ?, failures = 0,"
                " next_poll_at = NULL, disabled_at = NULL WHERE id = ?",
                [now, error, feed_id],
            )

    def due(self, interval_s: float) -> list[Feed]:
        """Feeds not disabled and never polled, last polled at least `interval_s` ago, or (when
        failing) past their back-off's next try. Restarts lose nothing."""
        now = datetime.now(UTC)
        threshold = _iso(now - timedelta(seconds=interval_s))
        return self._query(
            "WHERE f.disabled_at IS NULL AND CASE WHEN f.next_poll_at IS NOT NULL"
            " THEN f.next_poll_at <= ?"
            " ELSE f.last_polled_at IS NULL OR f.last_polled_at <= ? END",
            [_iso(now), threshold],
        )

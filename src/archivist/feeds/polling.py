"""Polling one feed: fetch it, parse it in a reader worker, read the items it has not met, hand
their articles to the archive's ingest, and record the outcome on the feed and its items.

Nothing the feed serves makes a poll raise. A poll that fails as a whole is one more failure in
a row on the feed (`last_error`): its next poll waits longer each time (`backoff_s`), and too
many disable it. An item that fails is that item's failure, tried again at the next polls up to
`MAX_ITEM_ATTEMPTS`. Both are in the report's `failed`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from archivist.config import Limits
from archivist.errors import ArchivistError, DiskFull, ReadError
from archivist.feeds.items import read_item, unexpected_error
from archivist.feeds.parser import FeedItem, ParsedFeed, one_line, parse_feed
from archivist.models import Added, Article, Duplicate, Failed, IngestReport
from archivist.store import Store
from archivist.store.feeds import Feed, FeedTable, Outcome

log = logging.getLogger(__name__)
DISK_FULL = "the archive's disk is full: nothing was stored; its items are tried at the next poll"

MAX_ITEM_ATTEMPTS = 3  # a failing item is tried at this many polls, then left alone
POLL_DEADLINE_S = 300.0  # a poll stops starting new items after this; the rest wait a poll
DEFAULT_INTERVAL_S = 30 * 60.0  # Settings.feed_interval_min's default, for polls off the schedule
MAX_BACKOFF_S = 24 * 3600.0  # a failing feed is still tried once a day until it is disabled


class FeedArchive(Protocol):
    """What feeds need of an archive: its limits, the store its feed table lives in, and its
    ingest, to which new items go as articles (duplicates are the ingest's to decide)."""

    @property
    def limits(self) -> Limits: ...

    @property
    def store(self) -> Store: ...

    def add_articles(
        self,
        items: Sequence[tuple[str, Article]],
        *,
        collection: str,
        added_by: str | None = None,
    ) -> IngestReport: ...


def feed_table(archive: FeedArchive) -> FeedTable:
    return FeedTable(archive.store)


def backoff_s(interval_s: float, failures: int) -> float:
    """How long a feed that failed `failures` polls in a row waits for its next try."""
    if failures <= 0:
        return interval_s
    return min(interval_s * 2.0 ** min(failures - 1, 32), max(MAX_BACKOFF_S, interval_s))


_feed_locks: dict[tuple[str, int], threading.Lock] = {}
_feed_locks_guard = threading.Lock()


def feed_lock(table: FeedTable, feed_id: int) -> threading.Lock:
    """Held while a feed is polled: the scheduler and an adder never poll it at once."""
    with _feed_locks_guard:
        return _feed_locks.setdefault((str(table.store.path), feed_id), threading.Lock())


def read_feed(data: bytes, url: str, limits: Limits) -> ParsedFeed:
    """Parse a fetched feed in a reader worker, within the read budget (`archivist.sandbox`)."""
    from archivist import sandbox

    return sandbox.call(parse_feed, data, url, origin=url, size=len(data), limits=limits)


def poll(
    archive: FeedArchive,
    feed: Feed,
    *,
    allow_private: bool = False,
    parsed: ParsedFeed | None = None,
    cancel: threading.Event | None = None,
    deadline_s: float = POLL_DEADLINE_S,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> IngestReport:
    """Fetch the feed and store its new items (at most `limits.feed_items_per_poll`).

    A poll that fails as a whole (fetching, parsing or anything else) becomes the feed's
    `last_error` and one more failure in a row: its next poll waits
    `backoff_s(interval_s, failures)`, and `limits.feed_max_failures` disable it. An item that
    fails (no readable page and no usable summary, or an error while reading or storing it) is
    that item's failure, tried again at the next polls.
    """
    limits = archive.limits
    table = feed_table(archive)
    with feed_lock(table, feed.id):
        try:
            report, outcomes = poll_items(archive, feed, allow_private, parsed, cancel, deadline_s)
        except DiskFull as exc:
            # the host's problem, not the feed's nor its items': nothing is counted against
            # them (nor could be written), and the next poll meets the items as new
            log.error("feed %d (%s): %s", feed.id, feed.url, exc)
            return IngestReport.failure(feed.url, DISK_FULL)
        except Exception as exc:  # noqa: BLE001 - whatever it was, it stays with this feed
            reason = failure_reason(feed, exc)
            table.record_failure(
                feed.id,
                reason,
                wait_s=lambda failures: backoff_s(interval_s, failures),
                max_failures=limits.feed_max_failures,
            )
            return IngestReport.failure(feed.url, reason)
        table.record(feed.id, outcomes, items_problem(outcomes))
    log.info(
        "feed %d (%s): %d added, %d duplicates, %d failed",
        feed.id,
        feed.name,
        len(report.added),
        len(report.duplicates),
        len(report.failed),
    )
    return report


def poll_all(
    archive: FeedArchive,
    *,
    collection: str | None = None,
    allow_private: bool = False,
    cancel: threading.Event | None = None,
) -> list[tuple[Feed, IngestReport]]:
    """Poll every feed (of one collection, or of all) once, now. A disabled feed is not fetched:
    its report says why it is disabled."""
    out = []
    for feed in feed_table(archive).feeds(collection):
        if cancel is not None and cancel.is_set():
            break
        if feed.disabled:
            why = feed.last_error or "disabled"
            out.append((feed, IngestReport.failure(feed.url, why)))
            continue
        out.append((feed, poll(archive, feed, allow_private=allow_private, cancel=cancel)))
    return out


def poll_items(
    archive: FeedArchive,
    feed: Feed,
    allow_private: bool,
    parsed: ParsedFeed | None,
    cancel: threading.Event | None,
    deadline_s: float,
) -> tuple[IngestReport, list[Outcome]]:
    """The poll's report and its items' outcomes, recorded by the caller; raises when the feed
    itself fails (`parsed`: the feed as its adder just fetched it)."""
    from archivist.fetch import fetch

    limits = archive.limits
    if parsed is None:
        final_url, _, data = fetch(feed.url, limits, allow_private=allow_private)
        parsed = read_feed(data, final_url, limits)
    new = _new_items(feed_table(archive), feed, parsed, limits)
    report = IngestReport()
    outcomes: dict[str, Outcome] = {}
    started = time.monotonic()
    to_store: list[tuple[str, Article]] = []
    owner: dict[str, FeedItem] = {}  # origin -> its item
    for item in new:
        if (cancel is not None and cancel.is_set()) or time.monotonic() - started > deadline_s:
            break  # the items left are still new at the next poll
        origin = item.link or f"{feed.url}#{item.key}"
        if origin in owner:  # two items sharing a link: their reports must not mix
            origin = f"{origin}#{item.key}"
        article, error = _read_item_safely(item, feed, limits, allow_private)
        if article is None:
            error = error or "could not be read"
            report.failed.append(Failed(origin, error))
            outcomes[item.key] = (item.key, item.link, "failed", error)
            continue
        owner[origin] = item
        to_store.append((origin, article))

    if to_store:
        stored = _store(archive, feed, to_store)
        done: set[str] = set()
        kept: list[Added | Duplicate] = [*stored.added, *stored.duplicates]
        for entry in kept:
            item = owner[entry.origin]
            done.add(item.key)
            outcomes[item.key] = (item.key, item.link, "stored", None)
        for failure in stored.failed:
            found = owner.get(failure.path)
            if found is not None and found.key not in done:
                outcomes[found.key] = (found.key, found.link, "failed", failure.error)
        report.merge(stored)
    return report, list(outcomes.values())


def _new_items(table: FeedTable, feed: Feed, parsed: ParsedFeed, limits: Limits) -> list[FeedItem]:
    seen = table.seen(feed.id)
    new: list[FeedItem] = []
    keys: set[str] = set()
    for item in parsed.items:
        status, attempts = seen.get(item.key, ("", 0))
        if status == "stored" or attempts >= MAX_ITEM_ATTEMPTS or item.key in keys:
            continue
        keys.add(item.key)
        new.append(item)
    if len(new) > limits.feed_items_per_poll:
        log.info(
            "feed %d: %d new items, %d of them wait for the next poll",
            feed.id,
            len(new),
            len(new) - limits.feed_items_per_poll,
        )
        new = new[: limits.feed_items_per_poll]
    return new


def _read_item_safely(
    item: FeedItem, feed: Feed, limits: Limits, allow_private: bool
) -> tuple[Article | None, str | None]:
    try:
        return read_item(item, feed, limits, allow_private)
    except Exception as exc:  # noqa: BLE001 - one item's problem, never its feed's
        return None, unexpected_error(f"feed {feed.id}: item {item.link or item.key}", exc)


def _store(archive: FeedArchive, feed: Feed, to_store: list[tuple[str, Article]]) -> IngestReport:
    """Hand the items' articles to the ingest; when the batch fails, each one on its own, so an
    article that cannot be stored fails only its own item."""
    try:
        # duplicates are decided inside the store's write transaction: no lock needed here
        return archive.add_articles(
            to_store, collection=feed.collection, added_by=f"feed:{feed.id}"
        )
    except DiskFull:  # no item's fault: the whole poll stops (`poll`)
        raise
    except Exception as exc:  # noqa: BLE001 - reported per item below
        if len(to_store) == 1:
            origin = to_store[0][0]
            unforeseen = not isinstance(exc, ArchivistError)
            log.warning(
                "feed %d: %s could not be stored: %s", feed.id, origin, exc, exc_info=unforeseen
            )
            error = f"could not be stored ({one_line(exc)})"
            return IngestReport.failure(origin, error)
        log.warning(
            "feed %d: storing %d articles failed; storing each on its own",
            feed.id,
            len(to_store),
            exc_info=exc,
        )
    report = IngestReport()
    for pair in to_store:
        report.merge(_store(archive, feed, [pair]))
    return report


def failure_reason(feed: Feed, exc: Exception) -> str:
    """A failed poll as one line for the feed's `last_error`."""
    if isinstance(exc, ReadError):
        log.info("feed %d (%s): %s", feed.id, feed.url, exc.reason)
        return exc.reason
    if isinstance(exc, ArchivistError):
        log.info("feed %d (%s): %s", feed.id, feed.url, exc)
        return str(exc)
    return unexpected_error(f"feed {feed.id} ({feed.url})", exc)


def items_problem(outcomes: Sequence[Outcome]) -> str | None:
    """After a poll that worked: the items that failed, in short, as the feed's `last_error`."""
    failed = [(link or key, error) for key, link, status, error in outcomes if status == "failed"]
    if not failed:
        return None
    where, error = failed[0]
    if len(failed) == 1:
        return f"1 item failed: {where}: {error}"
    return f"{len(failed)} items failed; the first: {where}: {error}"

"""RSS and Atom feeds: followed per collection, polled for new items, each stored as an article.

A poll fetches the feed with the safe fetcher, then each item it has not seen yet: the item's page
is fetched (safe fetcher again) and read as HTML. When the page cannot be fetched or read, the
item's own content or summary from the feed is stored instead if it is long enough to answer
from; otherwise the item is reported as failed (and tried again at the next polls, up to
`MAX_ITEM_ATTEMPTS`). Nothing is dropped silently. Articles get the feed's name as `source` and
the item's link as `url`; `Archive.add_articles` skips duplicates.

The feeds and the items seen live in two tables of the archive's SQLite file, created by this
module's own migrations (recorded in the store's `_migrations` table like the store's).

`FeedScheduler` polls the due feeds every few minutes from an asyncio program (the bot), doing the
fetching, parsing and embedding in worker threads; `poll_all` is the one-shot for the CLI.

One bad feed never hurts the others: whatever goes wrong while polling a feed (fetching, parsing,
one item, storing) is recorded on that feed (`last_error`) or that item, and the round goes on.
A feed failing poll after poll is tried less and less often (the interval doubles each time, up
to `MAX_BACKOFF_S`) and disabled after `limits.feed_max_failures` failures in a row; adding it
again resumes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from archivist.config import Limits
from archivist.errors import ArchivistError, FeedError, FeedNotFound, ReadError
from archivist.feeds.parser import (
    MAX_NAME_CHARS,
    FeedItem,
    ParsedFeed,
    clean_text,
    discover_feed_link,
    looks_like_html,
    one_line,
    parse_feed,
    text_paragraphs,
)
from archivist.models import AddReport, Article, Paragraph
from archivist.store import Store, now_iso

log = logging.getLogger(__name__)

MAX_ITEM_ATTEMPTS = 3  # a failing item is tried at this many polls, then left alone
FALLBACK_MIN_WORDS = 50  # a feed summary shorter than this is a teaser, not worth answering from
PREFER_FEED_TEXT_RATIO = 1.5  # the feed's text wins when this much longer than the page's
POLL_DEADLINE_S = 300.0  # a poll stops starting new items after this; the rest wait a poll
DEFAULT_INTERVAL_S = 30 * 60.0  # Settings.feed_interval_min's default, for polls off the schedule
MAX_BACKOFF_S = 24 * 3600.0  # a failing feed is still tried once a day until it is disabled


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

    def to_json(self) -> dict:
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


# ---- tables ------------------------------------------------------------------------------------


def m_feeds_001_tables(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            name TEXT NOT NULL,
            url TEXT NOT NULL,
            added_at TEXT NOT NULL,
            added_by TEXT,
            last_polled_at TEXT,
            last_error TEXT,
            UNIQUE (collection, url)
        )"""
    )
    # status: 'stored' (added or already there) or 'failed' (tried `attempts` times)
    db.execute(
        """CREATE TABLE feed_items (
            feed INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            link TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (feed, key)
        )"""
    )


def m_feeds_002_failures(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE feeds ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE feeds ADD COLUMN next_poll_at TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN disabled_at TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN added_in TEXT")


FEED_MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    m_feeds_001_tables,
    m_feeds_002_failures,
]


class FeedTable:
    """The feeds of every collection and the items each has seen, in the archive's store."""

    _COLUMNS = (
        "f.id, f.collection, f.name, f.url, f.added_at, f.added_by, f.last_polled_at,"
        " f.last_error, (SELECT count(*) FROM feed_items i WHERE i.feed = f.id),"
        " f.failures, f.next_poll_at, f.disabled_at, f.added_in"
    )

    def __init__(self, store: Store) -> None:
        self.store = store
        self._migrate()

    def _migrate(self) -> None:
        done = {r[0] for r in self.store.db.execute("SELECT name FROM _migrations").fetchall()}
        if all(m.__name__ in done for m in FEED_MIGRATIONS):
            return
        self.store.apply_migrations(FEED_MIGRATIONS)

    def _query(self, where: str, params: Sequence[Any]) -> list[Feed]:
        rows = self.store.db.execute(
            f"SELECT {self._COLUMNS} FROM feeds f {where} ORDER BY f.id", list(params)
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
        self, feed_id: int, reason: str, interval_s: float, max_failures: int
    ) -> None:
        """A poll that failed as a whole: the next waits longer, or the feed is disabled."""
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
                    _iso(now + timedelta(seconds=backoff_s(interval_s, failures))),
                    disabled_at,
                    _iso(now),
                    error,
                    feed_id,
                ],
            )

    def record(
        self,
        feed_id: int,
        outcomes: Sequence[tuple[str, str | None, str, str | None]],
        error: str | None,
    ) -> None:
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


def backoff_s(interval_s: float, failures: int) -> float:
    """How long a feed that failed `failures` polls in a row waits for its next try."""
    if failures <= 0:
        return interval_s
    return min(interval_s * 2.0 ** min(failures - 1, 32), max(MAX_BACKOFF_S, interval_s))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- polling -----------------------------------------------------------------------------------

_feed_locks: dict[tuple[str, int], threading.Lock] = {}
_feed_locks_guard = threading.Lock()

Outcome = tuple[str, str | None, str, str | None]  # an item's key, link, status and error


def _feed_lock(store: Store, feed_id: int) -> threading.Lock:
    with _feed_locks_guard:
        return _feed_locks.setdefault((str(store.path), feed_id), threading.Lock())


def add_feed(
    archive: Any,
    url: str,
    *,
    collection: str,
    name: str | None = None,
    added_by: str | None = None,
    added_in: str | None = None,
    allow_private: bool = False,
    poll_now: bool = True,
    cancel: threading.Event | None = None,
) -> tuple[Feed, AddReport]:
    """Follow a feed: fetched once to check it is RSS or Atom (a web page announcing a feed is
    followed to it), stored, then polled at once (unless `poll_now` is false).

    A first poll that fails as a whole leaves nothing followed and raises; items that fail are in
    the report and the feed is kept. Adding a disabled feed again resumes it.
    """
    limits: Limits = archive.limits
    table = FeedTable(archive.store)
    url = url.strip()
    followed = table.feeds(collection)
    resumed = _disabled_match(url, followed)  # before fetching anything
    if resumed is None and len(followed) >= limits.max_feeds_per_collection:
        raise FeedError(
            url,
            f"this archive already follows {limits.max_feeds_per_collection} feeds, the most "
            "it may; remove one first",
        )
    url, parsed = _check_feed(url, limits, allow_private)
    resumed = resumed or _disabled_match(url, followed)
    if resumed is None:
        chosen = clean_text(name, MAX_NAME_CHARS) or parsed.title or _host(parsed.url) or url
        feed = table.insert(collection, chosen, url, added_by, polled=poll_now, added_in=added_in)
    else:
        table.resume(resumed.id, added_in)
        feed = table.get(resumed.id) or resumed
    report = AddReport()
    if poll_now:
        report = _first_poll(archive, feed, parsed, allow_private, cancel, new=resumed is None)
        feed = table.get(feed.id) or feed
    return feed, report


def _disabled_match(url: str, followed: Sequence[Feed]) -> Feed | None:
    """The disabled feed of this URL (added again, it resumes); refuses one still polled."""
    for existing in followed:
        if existing.url == url:
            if existing.disabled:
                return existing
            raise FeedError(
                url, f"this feed is already followed here (feed {existing.id}, “{existing.name}”)"
            )
    return None


def read_feed(data: bytes, url: str, limits: Limits) -> ParsedFeed:
    """Parse a fetched feed in a reader worker, within the read budget (`archivist.sandbox`)."""
    from archivist import sandbox

    return sandbox.call(parse_feed, data, url, origin=url, size=len(data), limits=limits)


def _check_feed(url: str, limits: Limits, allow_private: bool) -> tuple[str, ParsedFeed]:
    """(the feed's URL, the feed): a web page is followed to the feed it announces. Whatever goes
    wrong is a one-line ReadError naming the URL."""
    from archivist.fetch import fetch

    try:
        final_url, _, data = fetch(url, limits, allow_private=allow_private)
        if looks_like_html(data) and (found := discover_feed_link(data, final_url)):
            log.info("%s announces the feed %s", url, found)
            url = found
            final_url, _, data = fetch(url, limits, allow_private=allow_private)
        return url, read_feed(data, final_url, limits)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed address, say: the adder's error
        raise FeedError(url, _unexpected(f"feed {url}", exc, address=True)) from None


def _first_poll(
    archive: Any,
    feed: Feed,
    parsed: ParsedFeed,
    allow_private: bool,
    cancel: threading.Event | None,
    *,
    new: bool,
) -> AddReport:
    table = FeedTable(archive.store)
    with _feed_lock(archive.store, feed.id):
        try:
            report, outcomes = _poll(archive, feed, allow_private, parsed, cancel, POLL_DEADLINE_S)
            table.record(feed.id, outcomes, _items_problem(outcomes))
        except Exception as exc:  # noqa: BLE001 - reported to the adder, one line
            reason = _failure_reason(feed, exc)
            if new:
                table.delete(feed)
            else:
                table.record_failure(
                    feed.id, reason, DEFAULT_INTERVAL_S, archive.limits.feed_max_failures
                )
            raise FeedError(feed.url, reason) from None
    return report


def remove_feed(archive: Any, ref: str, *, collection: str) -> Feed:
    """Stop following a feed (by id, URL or name). The articles it brought stay."""
    table = FeedTable(archive.store)
    feed = table.find(collection, ref)
    table.delete(feed)
    return feed


def list_feeds(archive: Any, *, collection: str) -> list[Feed]:
    return FeedTable(archive.store).feeds(collection)


def poll(
    archive: Any,
    feed: Feed,
    *,
    allow_private: bool = False,
    parsed: ParsedFeed | None = None,
    cancel: threading.Event | None = None,
    deadline_s: float = POLL_DEADLINE_S,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> AddReport:
    """Fetch the feed and store its new items (at most `limits.feed_items_per_poll`).

    Nothing the feed serves makes this raise. A poll that fails as a whole (fetching, parsing or
    anything else) becomes the feed's `last_error` and one more failure in a row: its next poll
    waits `backoff_s(interval_s, failures)`, and too many disable it. An item that fails (no
    readable page and no usable summary, or an error while reading or storing it) is that
    item's failure, tried again at the next polls. Both are in the report's `failed`.
    """
    limits: Limits = archive.limits
    table = FeedTable(archive.store)
    with _feed_lock(archive.store, feed.id):
        try:
            report, outcomes = _poll(archive, feed, allow_private, parsed, cancel, deadline_s)
        except Exception as exc:  # noqa: BLE001 - whatever it was, it stays with this feed
            reason = _failure_reason(feed, exc)
            table.record_failure(feed.id, reason, interval_s, limits.feed_max_failures)
            return AddReport(failed=[{"path": feed.url, "error": reason}])
        table.record(feed.id, outcomes, _items_problem(outcomes))
    log.info(
        "feed %d (%s): %d added, %d duplicates, %d failed",
        feed.id,
        feed.name,
        len(report.added),
        len(report.duplicates),
        len(report.failed),
    )
    return report


def _poll(
    archive: Any,
    feed: Feed,
    allow_private: bool,
    parsed: ParsedFeed | None,
    cancel: threading.Event | None,
    deadline_s: float,
) -> tuple[AddReport, list[Outcome]]:
    """The poll's report and its items' outcomes; raises when the feed itself fails."""
    from archivist.fetch import fetch

    limits: Limits = archive.limits
    if parsed is None:
        final_url, _, data = fetch(feed.url, limits, allow_private=allow_private)
        parsed = read_feed(data, final_url, limits)
    new = _new_items(FeedTable(archive.store), feed, parsed, limits)
    report = AddReport()
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
            report.failed.append({"path": origin, "error": error})
            outcomes[item.key] = (item.key, item.link, "failed", error)
            continue
        owner[origin] = item
        to_store.append((origin, article))

    if to_store:
        stored = _store(archive, feed, to_store)
        done: set[str] = set()
        for entry in stored.added + stored.duplicates:
            item = owner[entry["origin"]]
            done.add(item.key)
            outcomes[item.key] = (item.key, item.link, "stored", None)
        for entry in stored.failed:
            found = owner.get(entry["path"])
            if found is not None and found.key not in done:
                outcomes[found.key] = (found.key, found.link, "failed", entry["error"])
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
        return None, _unexpected(f"feed {feed.id}: item {item.link or item.key}", exc)


def _store(archive: Any, feed: Feed, to_store: list[tuple[str, Article]]) -> AddReport:
    """Store the items' articles; when the batch fails, each one on its own, so an article that
    cannot be stored fails only its own item."""
    try:
        # duplicates are decided inside the store's write transaction: no lock needed here
        return archive.add_articles(
            to_store, collection=feed.collection, added_by=f"feed:{feed.id}"
        )
    except Exception as exc:  # noqa: BLE001 - reported per item below
        if len(to_store) == 1:
            origin = to_store[0][0]
            unforeseen = not isinstance(exc, ArchivistError)
            log.warning(
                "feed %d: %s could not be stored: %s", feed.id, origin, exc, exc_info=unforeseen
            )
            error = f"could not be stored ({one_line(exc)})"
            return AddReport(failed=[{"path": origin, "error": error}])
        log.warning(
            "feed %d: storing %d articles failed; storing each on its own",
            feed.id,
            len(to_store),
            exc_info=exc,
        )
    report = AddReport()
    for pair in to_store:
        report.merge(_store(archive, feed, [pair]))
    return report


def _failure_reason(feed: Feed, exc: Exception) -> str:
    """A failed poll as one line for the feed's `last_error`."""
    if isinstance(exc, ReadError):
        log.info("feed %d (%s): %s", feed.id, feed.url, exc.reason)
        return exc.reason
    if isinstance(exc, ArchivistError):
        log.info("feed %d (%s): %s", feed.id, feed.url, exc)
        return str(exc)
    return _unexpected(f"feed {feed.id} ({feed.url})", exc)


def _unexpected(what: str, exc: Exception, *, address: bool = False) -> str:
    """An error nothing foresaw, as one line for a user; its traceback goes to the log, once.
    `address`: it came from fetching a URL, where a ValueError means a malformed address."""
    log.warning("%s failed", what, exc_info=exc)
    if address and isinstance(exc, ValueError):  # urlsplit's and IDNA's among them
        return f"is not a valid web address ({one_line(exc)})"
    return f"could not be read (an unexpected error: {one_line(exc)})"


def _items_problem(outcomes: Sequence[Outcome]) -> str | None:
    """After a poll that worked: the items that failed, in short, as the feed's `last_error`."""
    failed = [(link or key, error) for key, link, status, error in outcomes if status == "failed"]
    if not failed:
        return None
    where, error = failed[0]
    if len(failed) == 1:
        return f"1 item failed: {where}: {error}"
    return f"{len(failed)} items failed; the first: {where}: {error}"


def read_item(
    item: FeedItem, feed: Feed, limits: Limits, allow_private: bool
) -> tuple[Article | None, str | None]:
    """The item's article from its page, else from the feed's own text; or why neither."""
    fallback = _feed_text_article(item, feed)
    page_error = "the item has no link to fetch"
    if item.link:
        page, page_error = _read_page(item.link, feed, limits, allow_private)
        if page is not None:
            if fallback is not None and len(fallback.text.split()) > (
                PREFER_FEED_TEXT_RATIO * len(page.text.split())
            ):
                return fallback, None  # the page held a teaser; the feed the whole text
            return dataclasses.replace(
                page,
                title=item.title or page.title,
                source=feed.name,
                url=item.link,
                date=item.date or page.date,
            ), None
    if fallback is not None:
        log.info("feed %d: %s: %s; kept the feed's own text", feed.id, item.link, page_error)
        return fallback, None
    words = _words(text_paragraphs(item.text, item.text_is_html)) if item.text else 0
    if words:
        return (
            None,
            f"{page_error}; the feed's summary ({words} words) is too short to keep instead",
        )
    return None, f"{page_error}; the feed gives no text to keep instead"


def _read_page(
    link: str, feed: Feed, limits: Limits, allow_private: bool
) -> tuple[Article | None, str]:
    """The one article an item's link holds, or why there is none."""
    from archivist.fetch import read_url

    try:
        result = read_url(link, limits, allow_private=allow_private)
    except ReadError as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - a malformed link (http://xn--/) is this item's
        return None, _unexpected(f"feed {feed.id}: {link}", exc, address=True)
    if len(result.articles) > 1:  # a ZIP or JSON Lines file: not one item's article
        return None, (
            f"links to a bundle of {len(result.articles)} articles (a ZIP or JSON file), "
            "not one article; a feed item stores at most one"
        )
    if result.articles:
        return result.articles[0][1], ""
    return None, (result.failures[0].error if result.failures else "no article in the page")


def _feed_text_article(item: FeedItem, feed: Feed) -> Article | None:
    if not item.text:
        return None
    paragraphs = text_paragraphs(item.text, item.text_is_html)
    if _words(paragraphs) < FALLBACK_MIN_WORDS:
        return None
    title = item.title or paragraphs[0].text[:120]
    return Article(
        title=title, paragraphs=tuple(paragraphs), source=feed.name, date=item.date, url=item.link
    )


def _words(paragraphs: Sequence[Paragraph]) -> int:
    return sum(len(p.text.split()) for p in paragraphs)


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    return (host[4:] if host.startswith("www.") else host) or None


def poll_all(
    archive: Any,
    *,
    collection: str | None = None,
    allow_private: bool = False,
    cancel: threading.Event | None = None,
) -> list[tuple[Feed, AddReport]]:
    """Poll every feed (of one collection, or of all) once, now. A disabled feed is not fetched:
    its report says why it is disabled."""
    out = []
    for feed in FeedTable(archive.store).feeds(collection):
        if cancel is not None and cancel.is_set():
            break
        if feed.disabled:
            out.append((feed, AddReport(failed=[{"path": feed.url, "error": feed.last_error}])))
            continue
        out.append((feed, poll(archive, feed, allow_private=allow_private, cancel=cancel)))
    return out


# ---- the schedule ------------------------------------------------------------------------------

Runner = Callable[..., Awaitable[Any]]
Collections = Callable[[], "set[str] | None"]
OnDisabled = Callable[[Feed], Awaitable[Any]]


class FeedScheduler:
    """Polls the feeds that are due, every `interval_s`, from an asyncio program.

    Each feed is polled in a worker thread through `run` (the bot passes its `offload`, so a
    shutdown waits for a running poll); `stop()` asks a running poll to stop between items.
    `collections`, asked at each round, names the collections whose feeds this process polls
    (None: all), so several processes (shards) never poll the same feed. `on_disabled` is
    awaited with a feed just disabled by too many failures.
    """

    def __init__(
        self,
        archive: Any,
        *,
        interval_s: float = 30 * 60.0,
        allow_private: bool = False,
        run: Runner | None = None,
        tick_s: float | None = None,
        collections: Collections | None = None,
        on_disabled: OnDisabled | None = None,
    ) -> None:
        self.archive = archive
        self.interval_s = interval_s
        self.allow_private = allow_private
        self.run: Runner = run or asyncio.to_thread
        self.tick_s = tick_s if tick_s is not None else min(interval_s, 60.0)
        self.collections = collections
        self.on_disabled = on_disabled
        self.cancel = threading.Event()
        self.polls = 0  # finished feed polls, for logs and tests
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self.cancel.clear()
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="feeds")

    async def stop(self) -> None:
        self.cancel.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def poll_due(self) -> list[tuple[Feed, AddReport]]:
        wanted = self.collections() if self.collections is not None else None
        table = await self.run(FeedTable, self.archive.store)
        out = []
        for feed in await self.run(table.due, self.interval_s):
            if self.cancel.is_set():
                break
            if wanted is not None and feed.collection not in wanted:
                continue  # another process's
            try:
                report = await self.run(
                    poll,
                    self.archive,
                    feed,
                    allow_private=self.allow_private,
                    cancel=self.cancel,
                    interval_s=self.interval_s,
                )
            except Exception:  # noqa: BLE001 - the store could not record it; go on
                log.exception("feed %d (%s): the poll could not be recorded", feed.id, feed.url)
                continue
            self.polls += 1
            out.append((feed, report))
            if report.failed and self.on_disabled is not None:
                await self._tell_if_disabled(table, feed)
        return out

    async def _tell_if_disabled(self, table: FeedTable, feed: Feed) -> None:
        assert self.on_disabled is not None
        try:
            after = await self.run(table.get, feed.id)
            if after is not None and after.disabled:  # it was not at the round's start
                await self.on_disabled(after)
        except Exception:  # noqa: BLE001 - the feed is disabled all the same
            log.exception("feed %d: could not tell that it was disabled", feed.id)

    async def _loop(self) -> None:
        while not self.cancel.is_set():
            try:
                await self.poll_due()
            except asyncio.CancelledError:
                raise
            except ArchivistError as exc:  # shutting down, or the store is busy: next tick
                log.info("feed polling paused: %s", exc)
            except Exception:  # noqa: BLE001 - one bad poll must not end the schedule
                log.exception("feed polling failed")
            await asyncio.sleep(self.tick_s)


def scheduler_for(
    archive: Any,
    settings: Any,
    run: Runner | None = None,
    *,
    collections: Collections | None = None,
    on_disabled: OnDisabled | None = None,
) -> FeedScheduler:
    return FeedScheduler(
        archive,
        interval_s=settings.feed_interval_min * 60.0,
        allow_private=settings.allow_private_urls,
        run=run,
        collections=collections,
        on_disabled=on_disabled,
    )

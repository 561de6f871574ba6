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
from archivist.feed_parser import (
    MAX_NAME_CHARS,
    FeedItem,
    ParsedFeed,
    clean_text,
    discover_feed_link,
    looks_like_html,
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

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "added_at": self.added_at,
            "last_polled_at": self.last_polled_at,
            "last_error": self.last_error,
            "items_seen": self.items_seen,
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


FEED_MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [m_feeds_001_tables]


class FeedTable:
    """The feeds of every collection and the items each has seen, in the archive's store."""

    _COLUMNS = (
        "f.id, f.collection, f.name, f.url, f.added_at, f.added_by, f.last_polled_at,"
        " f.last_error, (SELECT count(*) FROM feed_items i WHERE i.feed = f.id)"
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
                raise FeedNotFound(f"{ref} (several feeds have that name; give its id)")
        raise FeedNotFound(ref)

    def insert(
        self, collection: str, name: str, url: str, added_by: str | None, *, polled: bool = False
    ) -> Feed:
        """`polled`: about to be polled by its adder, so not due for the schedule yet."""
        now = now_iso()
        with self.store.transaction() as db:
            try:
                cursor = db.execute(
                    "INSERT INTO feeds (collection, name, url, added_at, added_by, last_polled_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [collection, name, url, now, added_by, now if polled else None],
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

    def record(
        self,
        feed_id: int,
        outcomes: Sequence[tuple[str, str | None, str, str | None]],
        error: str | None,
    ) -> None:
        """After a poll: each item's (key, link, status, error), and the feed's own error."""
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
                "UPDATE feeds SET last_polled_at = ?, last_error = ? WHERE id = ?",
                [now, error, feed_id],
            )

    def due(self, interval_s: float) -> list[Feed]:
        """Feeds never polled, or last polled at least `interval_s` ago (restarts lose nothing)."""
        threshold = (datetime.now(UTC) - timedelta(seconds=interval_s)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        return self._query("WHERE f.last_polled_at IS NULL OR f.last_polled_at <= ?", [threshold])


# ---- polling -----------------------------------------------------------------------------------

_feed_locks: dict[tuple[str, int], threading.Lock] = {}
_feed_locks_guard = threading.Lock()
# Stores from feeds go one at a time: two polls storing the same article at once would both pass
# the duplicate check.
_store_lock = threading.Lock()


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
    allow_private: bool = False,
    poll_now: bool = True,
    cancel: threading.Event | None = None,
) -> tuple[Feed, AddReport]:
    """Follow a feed: fetched once to check it is RSS or Atom (a web page announcing a feed is
    followed to it), stored, then polled at once (unless `poll_now` is false)."""
    from archivist.fetch import fetch

    limits: Limits = archive.limits
    table = FeedTable(archive.store)
    url = url.strip()
    followed = table.feeds(collection)
    _refuse_followed(url, followed)  # before fetching anything
    if len(followed) >= limits.max_feeds_per_collection:
        raise FeedError(
            url,
            f"this archive already follows {limits.max_feeds_per_collection} feeds, the most "
            "it may; remove one first",
        )
    final_url, _, data = fetch(url, limits, allow_private=allow_private)
    if looks_like_html(data) and (found := discover_feed_link(data, final_url)):
        log.info("%s announces the feed %s", url, found)
        url = found
        final_url, _, data = fetch(url, limits, allow_private=allow_private)
    parsed = parse_feed(data, final_url)
    _refuse_followed(url, followed)
    chosen = clean_text(name, MAX_NAME_CHARS) or parsed.title or _host(final_url) or url
    feed = table.insert(collection, chosen, url, added_by, polled=poll_now)
    report = AddReport()
    if poll_now:
        report = poll(archive, feed, allow_private=allow_private, parsed=parsed, cancel=cancel)
        feed = table.get(feed.id) or feed
    return feed, report


def _refuse_followed(url: str, followed: Sequence[Feed]) -> None:
    for existing in followed:
        if existing.url == url:
            raise FeedError(
                url, f"this feed is already followed here (feed {existing.id}, “{existing.name}”)"
            )


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
) -> AddReport:
    """Fetch the feed and store its new items (at most `limits.feed_items_per_poll`).

    Failures (the feed itself, or an item with no readable page and no usable summary) are in
    the report's `failed`, never dropped; the feed's `last_error` records a feed-level one.
    """
    with _feed_lock(archive.store, feed.id):
        return _poll(archive, feed, allow_private, parsed, cancel, deadline_s)


def _poll(archive, feed, allow_private, parsed, cancel, deadline_s) -> AddReport:
    from archivist.fetch import fetch

    limits: Limits = archive.limits
    table = FeedTable(archive.store)
    report = AddReport()
    if parsed is None:
        try:
            final_url, _, data = fetch(feed.url, limits, allow_private=allow_private)
            parsed = parse_feed(data, final_url)
        except ReadError as exc:
            log.info("feed %d (%s): %s", feed.id, feed.url, exc.reason)
            table.record(feed.id, [], exc.reason)
            report.failed.append({"path": feed.url, "error": exc.reason})
            return report

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

    started = time.monotonic()
    to_store: list[tuple[str, Article]] = []
    owner: dict[str, FeedItem] = {}  # origin -> its item
    outcomes: dict[str, tuple[str, str | None, str, str | None]] = {}
    for item in new:
        if (cancel is not None and cancel.is_set()) or time.monotonic() - started > deadline_s:
            break  # the items left are still new at the next poll
        origin = item.link or f"{feed.url}#{item.key}"
        if origin in owner:  # two items sharing a link: their reports must not mix
            origin = f"{origin}#{item.key}"
        articles, error = read_item(item, feed, limits, allow_private)
        if error is not None:
            report.failed.append({"path": origin, "error": error})
            outcomes[item.key] = (item.key, item.link, "failed", error)
            continue
        for n, article in enumerate(articles):
            item_origin = origin if n == 0 else f"{origin}#{n + 1}"
            owner[item_origin] = item
            to_store.append((item_origin, article))

    if to_store:
        try:
            with _store_lock:
                stored = archive.add_articles(
                    to_store, collection=feed.collection, added_by=f"feed:{feed.id}"
                )
        except (ArchivistError, sqlite3.IntegrityError) as exc:  # another process, same article
            stored = AddReport(
                failed=[{"path": o, "error": f"could not be stored ({exc})"} for o, _ in to_store]
            )
        done: set[str] = set()
        for entry in stored.added + stored.duplicates:
            item = owner[entry["origin"]]
            done.add(item.key)
            outcomes[item.key] = (item.key, item.link, "stored", None)
        for entry in stored.failed:
            item = owner.get(entry["path"])
            if item is not None and item.key not in done:
                outcomes[item.key] = (item.key, item.link, "failed", entry["error"])
        report.merge(stored)
    table.record(feed.id, list(outcomes.values()), None)
    log.info(
        "feed %d (%s): %d added, %d duplicates, %d failed",
        feed.id,
        feed.name,
        len(report.added),
        len(report.duplicates),
        len(report.failed),
    )
    return report


def read_item(
    item: FeedItem, feed: Feed, limits: Limits, allow_private: bool
) -> tuple[list[Article], str | None]:
    """The item's article(s) from its page, else from the feed's own text; or why neither."""
    from archivist.fetch import read_url

    fallback = _feed_text_article(item, feed)
    page_error = "the item has no link to fetch"
    if item.link:
        try:
            result = read_url(item.link, limits, allow_private=allow_private)
        except ReadError as exc:
            page_error = exc.reason
        else:
            if result.articles:
                if len(result.articles) > 1:  # a link to a bundle (ZIP, JSON): keep each as is
                    return [
                        dataclasses.replace(a, source=feed.name) for _, a in result.articles
                    ], None
                page = result.articles[0][1]
                if fallback is not None and len(fallback.text.split()) > (
                    PREFER_FEED_TEXT_RATIO * len(page.text.split())
                ):
                    return [fallback], None  # the page held a teaser; the feed the whole text
                return [
                    dataclasses.replace(
                        page,
                        title=item.title or page.title,
                        source=feed.name,
                        url=item.link,
                        date=item.date or page.date,
                    )
                ], None
            page_error = result.failures[0].error if result.failures else "no article in the page"
    if fallback is not None:
        log.info("feed %d: %s: %s; kept the feed's own text", feed.id, item.link, page_error)
        return [fallback], None
    words = _words(text_paragraphs(item.text, item.text_is_html)) if item.text else 0
    if words:
        return [], f"{page_error}; the feed's summary ({words} words) is too short to keep instead"
    return [], f"{page_error}; the feed gives no text to keep instead"


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
    host = urlsplit(url).hostname or ""
    return (host[4:] if host.startswith("www.") else host) or None


def poll_all(
    archive: Any,
    *,
    collection: str | None = None,
    allow_private: bool = False,
    cancel: threading.Event | None = None,
) -> list[tuple[Feed, AddReport]]:
    """Poll every feed (of one collection, or of all) once, now."""
    out = []
    for feed in FeedTable(archive.store).feeds(collection):
        if cancel is not None and cancel.is_set():
            break
        out.append((feed, poll(archive, feed, allow_private=allow_private, cancel=cancel)))
    return out


# ---- the schedule ------------------------------------------------------------------------------

Runner = Callable[..., Awaitable[Any]]


class FeedScheduler:
    """Polls the feeds that are due, every `interval_s`, from an asyncio program.

    Each feed is polled in a worker thread through `run` (the bot passes its `offload`, so a
    shutdown waits for a running poll); `stop()` asks a running poll to stop between items.
    """

    def __init__(
        self,
        archive: Any,
        *,
        interval_s: float = 30 * 60.0,
        allow_private: bool = False,
        run: Runner | None = None,
        tick_s: float | None = None,
    ) -> None:
        self.archive = archive
        self.interval_s = interval_s
        self.allow_private = allow_private
        self.run: Runner = run or asyncio.to_thread
        self.tick_s = tick_s if tick_s is not None else min(interval_s, 60.0)
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
        table = await self.run(FeedTable, self.archive.store)
        out = []
        for feed in await self.run(table.due, self.interval_s):
            if self.cancel.is_set():
                break
            report = await self.run(
                poll, self.archive, feed, allow_private=self.allow_private, cancel=self.cancel
            )
            self.polls += 1
            out.append((feed, report))
        return out

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


def scheduler_for(archive: Any, settings: Any, run: Runner | None = None) -> FeedScheduler:
    return FeedScheduler(
        archive,
        interval_s=settings.feed_interval_min * 60.0,
        allow_private=settings.allow_private_urls,
        run=run,
    )

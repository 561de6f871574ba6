"""Following feeds: add one (checked to be RSS or Atom, then polled at once), list, remove."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from archivist.config import Limits
from archivist.errors import FeedError, ReadError
from archivist.feeds.items import unexpected_error
from archivist.feeds.parser import (
    MAX_NAME_CHARS,
    ParsedFeed,
    clean_text,
    discover_feed_link,
    looks_like_html,
)
from archivist.feeds.polling import (
    DEFAULT_INTERVAL_S,
    POLL_DEADLINE_S,
    FeedArchive,
    backoff_s,
    failure_reason,
    feed_lock,
    feed_table,
    items_problem,
    poll_items,
    read_feed,
)
from archivist.models import IngestReport
from archivist.store.feeds import Feed

log = logging.getLogger(__name__)


def add_feed(
    archive: FeedArchive,
    url: str,
    *,
    collection: str,
    name: str | None = None,
    added_by: str | None = None,
    added_in: str | None = None,
    allow_private: bool = False,
    poll_now: bool = True,
    cancel: threading.Event | None = None,
) -> tuple[Feed, IngestReport]:
    """Follow a feed: fetched once to check it is RSS or Atom (a web page announcing a feed is
    followed to it), stored, then polled at once (unless `poll_now` is false).

    A first poll that fails as a whole leaves nothing followed and raises; items that fail are in
    the report and the feed is kept. Adding a disabled feed again resumes it.
    """
    limits = archive.limits
    table = feed_table(archive)
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
    report = IngestReport()
    if poll_now:
        report = _first_poll(archive, feed, parsed, allow_private, cancel, new=resumed is None)
        feed = table.get(feed.id) or feed
    return feed, report


def remove_feed(archive: FeedArchive, ref: str, *, collection: str) -> Feed:
    """Stop following a feed (by id, URL or name). The articles it brought stay."""
    table = feed_table(archive)
    feed = table.find(collection, ref)
    table.delete(feed)
    return feed


def list_feeds(archive: FeedArchive, *, collection: str) -> list[Feed]:
    return feed_table(archive).feeds(collection)


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
        raise FeedError(url, unexpected_error(f"feed {url}", exc, address=True)) from None


def _first_poll(
    archive: FeedArchive,
    feed: Feed,
    parsed: ParsedFeed,
    allow_private: bool,
    cancel: threading.Event | None,
    *,
    new: bool,
) -> IngestReport:
    table = feed_table(archive)
    with feed_lock(table, feed.id):
        try:
            report, outcomes = poll_items(
                archive, feed, allow_private, parsed, cancel, POLL_DEADLINE_S
            )
            table.record(feed.id, outcomes, items_problem(outcomes))
        except Exception as exc:  # noqa: BLE001 - reported to the adder, one line
            reason = failure_reason(feed, exc)
            if new:
                table.delete(feed)
            else:
                table.record_failure(
                    feed.id,
                    reason,
                    wait_s=lambda failures: backoff_s(DEFAULT_INTERVAL_S, failures),
                    max_failures=archive.limits.feed_max_failures,
                )
            raise FeedError(feed.url, reason) from None
    return report


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    return (host[4:] if host.startswith("www.") else host) or None

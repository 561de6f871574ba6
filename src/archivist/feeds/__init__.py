"""RSS and Atom feeds: followed per collection, polled for new items, each stored as an article.

A poll fetches the feed with the safe fetcher and parses it in a reader worker (`parser`), then
reads each item it has not met (`items`: the item's page, else the feed's own text for it) and
hands the articles to the archive's ingest, which skips duplicates. Articles get the feed's
name as `source` and the item's link as `url`. Nothing is dropped silently.

One bad feed never hurts the others: whatever goes wrong while polling a feed is recorded on that
feed (`last_error`) or that item, and the round goes on; a feed failing poll after poll is tried
less and less often, then disabled, and adding it again resumes it (`polling`).

`follow` adds, lists and removes feeds; `scheduler` polls the due ones from an asyncio program
(the bot); `poll_all` is the CLI's one-shot. Feeds never run SQL: their table is the store's
(`archivist.store.feeds`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archivist.feeds.follow import add_feed, list_feeds, remove_feed
    from archivist.feeds.polling import (
        DEFAULT_INTERVAL_S,
        MAX_BACKOFF_S,
        MAX_ITEM_ATTEMPTS,
        POLL_DEADLINE_S,
        FeedArchive,
        backoff_s,
        poll,
        poll_all,
    )
    from archivist.feeds.scheduler import FeedScheduler, scheduler_for
    from archivist.store.feeds import Feed, FeedTable

__all__ = [
    "DEFAULT_INTERVAL_S",
    "MAX_BACKOFF_S",
    "MAX_ITEM_ATTEMPTS",
    "POLL_DEADLINE_S",
    "Feed",
    "FeedArchive",
    "FeedScheduler",
    "FeedTable",
    "add_feed",
    "backoff_s",
    "list_feeds",
    "poll",
    "poll_all",
    "remove_feed",
    "scheduler_for",
]


if not TYPE_CHECKING:  # mypy sees the imports above, and so flags a name that is not there

    def __getattr__(name: str) -> Any:
        # Loaded on first use: a reader worker imports `feeds.parser`, which runs this file
        # first, and must not pull in SQLite, numpy and the fetcher with it.
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from archivist.feeds import follow, polling, scheduler
        from archivist.store import feeds as table

        for home in (follow, polling, scheduler, table):
            if name in vars(home):
                return vars(home)[name]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""`FeedScheduler`: polls the feeds that are due, every few minutes, from an asyncio program
(the bot), each poll in a worker thread; `archivist.feeds.poll_all` is the CLI's one-shot."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from archivist.config import Settings
from archivist.errors import ArchivistError
from archivist.feeds.polling import DEFAULT_INTERVAL_S, FeedArchive, feed_table, poll
from archivist.models import IngestReport
from archivist.store.feeds import Feed, FeedTable

log = logging.getLogger(__name__)

Runner = Callable[..., Awaitable[Any]]
Collections = Callable[[], "set[str] | None"]
OnDisabled = Callable[[Feed], Awaitable[Any]]
OnAdded = Callable[[Feed, IngestReport], Awaitable[Any]]


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
        archive: FeedArchive,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
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
        self.on_added: OnAdded | None = None  # awaited with a poll's report when it stored some
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

    async def poll_due(self) -> list[tuple[Feed, IngestReport]]:
        wanted = self.collections() if self.collections is not None else None
        table = feed_table(self.archive)
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
            if report.added and self.on_added is not None:
                await self._tell_added(feed, report)
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

    async def _tell_added(self, feed: Feed, report: IngestReport) -> None:
        assert self.on_added is not None
        try:
            await self.on_added(feed, report)
        except Exception:  # noqa: BLE001 - the articles are stored all the same
            log.exception("feed %d: could not tell of its new articles", feed.id)

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
    archive: FeedArchive,
    settings: Settings,
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

"""Feeds over time: the cap on items per poll, the scheduler, and a failing feed's back-off
until it is disabled."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from feed_helpers import BREAKS_THE_PARSER, failures, limited_archive, server, timestamp
from feed_server import Item

from archivist import feeds
from archivist.archive import Archive
from archivist.config import Limits
from archivist.embedding import HashingEmbedder

FIXTURES = (server,)  # pytest finds it by its name in this module


def test_items_per_poll_cap(tmp_path, server):

    archive = Archive(
        tmp_path / "capped",
        embedder=HashingEmbedder(),
        limits=replace(Limits(), feed_items_per_poll=2),
    )
    try:
        topics = ["ferry", "library", "wind", "bridge", "school"]
        server.serve_pages(*topics)
        url = server.set_rss("/rss.xml", "Gazette", [Item(t, f"/news/{t}") for t in topics])
        feed, report = feeds.add_feed(archive, url, collection="g", allow_private=True)
        assert len(report.added) == 2
        assert len(feeds.poll(archive, feed, allow_private=True).added) == 2
        assert len(feeds.poll(archive, feed, allow_private=True).added) == 1
        assert archive.count(collection="g") == 5
    finally:
        archive.close()


def test_scheduler_polls_due_feeds_in_worker_threads(fake_archive, server):
    server.serve_pages("ferry", "wind")
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
    feeds.add_feed(fake_archive, url, collection="g1", allow_private=True, poll_now=False)

    async def scenario():
        scheduler = feeds.FeedScheduler(
            fake_archive, interval_s=0.3, allow_private=True, tick_s=0.05
        )
        scheduler.start()
        try:
            for _ in range(200):
                if fake_archive.count(collection="g1") == 1:
                    break
                await asyncio.sleep(0.05)
            assert fake_archive.count(collection="g1") == 1
            server.set_rss(
                "/rss.xml", "Gazette", [Item("wind", "/news/wind"), Item("ferry", "/news/ferry")]
            )
            for _ in range(200):
                if fake_archive.count(collection="g1") == 2:
                    break
                await asyncio.sleep(0.05)
            assert fake_archive.count(collection="g1") == 2
        finally:
            await scheduler.stop()
        polls = scheduler.polls
        await asyncio.sleep(0.5)
        assert scheduler.polls == polls  # stopped means stopped

    asyncio.run(scenario())


def test_scheduler_settings(monkeypatch):
    from archivist.config import load_settings
    from archivist.errors import ConfigError

    monkeypatch.setenv("ARCHIVIST_FEED_INTERVAL_MIN", "5")
    settings = load_settings(dotenv=False)
    assert settings.feed_interval_min == 5.0 and settings.allow_private_urls is False
    assert feeds.scheduler_for(object(), settings).interval_s == 300.0
    shards = feeds.scheduler_for(object(), settings, collections=lambda: {"42"})
    assert shards.collections() == {"42"} and shards.on_disabled is None
    monkeypatch.setenv("ARCHIVIST_FEED_INTERVAL_MIN", "0")
    with pytest.raises(ConfigError, match="positive"):
        load_settings(dotenv=False)
    monkeypatch.delenv("ARCHIVIST_FEED_INTERVAL_MIN")
    monkeypatch.setenv("ARCHIVIST_ALLOW_PRIVATE_URLS", "1")
    assert load_settings(dotenv=False).allow_private_urls is True


def test_failing_feed_waits_longer_each_time_is_disabled_and_resumes(tmp_path, server):
    archive = limited_archive(tmp_path / "a", feed_max_failures=4)
    try:
        server.serve_pages("ferry", "library")
        url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
        feed, _ = feeds.add_feed(archive, url, collection="g", allow_private=True)
        table = feeds.FeedTable(archive.store)
        server.routes["/rss.xml"] = (500, "text/plain", b"oops")
        error = "the server answered 500 Internal Server Error"

        interval = 10 * 3600.0
        waits = []
        for n in (1, 2, 3):
            report = feeds.poll(archive, feed, allow_private=True, interval_s=interval)
            assert failures(report) == [{"path": url, "error": error}]
            (listed,) = feeds.list_feeds(archive, collection="g")
            assert (listed.failures, listed.disabled, listed.last_error) == (n, False, error)
            waits.append(timestamp(listed.next_poll_at) - timestamp(listed.last_polled_at))
            assert table.due(0.0) == []  # the back-off outweighs any interval
        # 10 h, 20 h, then the cap (not 40 h)
        assert [round(w) for w in waits] == [interval, 2 * interval, feeds.MAX_BACKOFF_S]

        # One success starts the count over.
        server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
        assert feeds.poll(archive, feed, allow_private=True).failed == []
        (listed,) = feeds.list_feeds(archive, collection="g")
        assert (listed.failures, listed.next_poll_at, listed.last_error) == (0, None, None)

        server.routes["/rss.xml"] = (500, "text/plain", b"oops")
        for _ in range(4):
            feeds.poll(archive, feed, allow_private=True, interval_s=0.0)
        (listed,) = feeds.list_feeds(archive, collection="g")
        assert listed.disabled and listed.failures == 4
        assert listed.last_error == (
            f"disabled after 4 failed polls in a row (the last: {error}); "
            "remove it, or add it again to resume"
        )
        assert table.due(0.0) == []
        hits = server.hits["/rss.xml"]
        ((_, report),) = feeds.poll_all(archive, allow_private=True)
        assert failures(report) == [{"path": url, "error": listed.last_error}]
        assert server.hits["/rss.xml"] == hits  # a disabled feed is not fetched

        # Added again, it resumes: same feed, a clean slate, its new item stored.
        server.set_rss(
            "/rss.xml", "Gazette", [Item("library", "/news/library"), Item("ferry", "/news/ferry")]
        )
        again, report = feeds.add_feed(archive, url, collection="g", allow_private=True)
        assert (again.id, again.disabled, again.failures, again.last_error) == (
            feed.id,
            False,
            0,
            None,
        )
        assert [a.title for a in report.added] == ["Library opens on Sundays"]
        assert [f.id for f in table.due(0.0)] == [feed.id]
    finally:
        archive.close()


def test_scheduler_tells_once_when_a_feed_is_disabled(tmp_path, server):
    archive = limited_archive(tmp_path / "a", feed_max_failures=3)
    try:
        server.serve_pages("ferry")
        bad_url = server.set_rss("/bad.xml", "Bad", [Item("ferry", "/news/ferry")])
        good_url = server.set_rss("/good.xml", "Good", [Item("ferry", "/news/ferry")])
        bad, _ = feeds.add_feed(archive, bad_url, collection="g", allow_private=True)
        feeds.add_feed(archive, good_url, collection="g", allow_private=True)
        server.routes["/bad.xml"] = (200, "application/rss+xml", BREAKS_THE_PARSER)
        told = []

        async def on_disabled(feed):
            told.append(feed)

        async def rounds():
            scheduler = feeds.FeedScheduler(
                archive, interval_s=0.0, allow_private=True, on_disabled=on_disabled
            )
            return [await scheduler.poll_due() for _ in range(5)]

        polled = asyncio.run(rounds())
        assert [(f.id, f.disabled, f.failures) for f in told] == [(bad.id, True, 3)]
        assert told[0].last_error.startswith("disabled after 3 failed polls in a row")
        assert [len(r) for r in polled] == [2, 2, 2, 1, 1]  # the good one goes on alone
        assert server.hits["/bad.xml"] == 1 + 3  # the add, then three failed polls
    finally:
        archive.close()


def test_scheduler_polls_only_the_collections_it_is_given(fake_archive, server):
    server.serve_pages("ferry")
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
    a, _ = feeds.add_feed(fake_archive, url, collection="a", allow_private=True, poll_now=False)
    b, _ = feeds.add_feed(fake_archive, url, collection="b", allow_private=True, poll_now=False)
    c, _ = feeds.add_feed(fake_archive, url, collection="c", allow_private=True, poll_now=False)
    mine = {"a"}
    scheduler = feeds.FeedScheduler(
        fake_archive, interval_s=3600.0, allow_private=True, collections=lambda: set(mine)
    )
    assert [f.id for f, _ in asyncio.run(scheduler.poll_due())] == [a.id]
    assert [fake_archive.count(collection=x) for x in "abc"] == [1, 0, 0]
    assert {
        f.collection: f.last_polled_at is None for f in feeds.FeedTable(fake_archive.store).feeds()
    } == {"a": False, "b": True, "c": True}
    mine.add("b")  # a server joined one of this process's shards: asked again each round
    assert [f.id for f, _ in asyncio.run(scheduler.poll_due())] == [b.id]
    everyone = feeds.FeedScheduler(
        fake_archive, interval_s=3600.0, allow_private=True, collections=lambda: None
    )
    assert [f.id for f, _ in asyncio.run(everyone.poll_due())] == [c.id]

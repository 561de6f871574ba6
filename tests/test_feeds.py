"""Feeds: RSS and Atom polled from a local server whose feeds change between polls."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from html import escape

import pytest
from feed_server import TOPICS, Item, feed_server, long_summary

from archivist import feeds
from archivist.archive import Archive
from archivist.config import Limits, Settings
from archivist.embedding import HashingEmbedder
from archivist.errors import FeedError, FeedNotFound, FetchError, ReadError
from archivist.feeds import polling
from archivist.feeds.parser import (
    DISCOVER_MAX_BYTES,
    discover_feed_link,
    parse_feed,
    text_paragraphs,
)


@pytest.fixture
def server():
    with feed_server() as s:
        yield s


def _titles(archive, collection):
    return sorted(a.title for a in archive.recent(collection=collection, limit=100))


def _raw_rss(title: str, items: list[tuple[str, str, str]]) -> bytes:
    """RSS whose items' (title, link, summary) go in as given: links a feed server never makes."""
    body = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>item-{n}</guid>"
        f"<description>{escape(summary)}</description></item>"
        for n, (t, link, summary) in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title>{body}</channel></rss>"
    ).encode()


# feedparser's loose parser raises on a character reference past U+10FFFF
BREAKS_THE_PARSER = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken &#x110000; feed</title>'
    b"<item><title>One</title><link>http://127.0.0.1/one</link></item></channel></rss>"
)


def _archive(path, **limits) -> Archive:
    return Archive(path, embedder=HashingEmbedder(), limits=replace(Limits(), **limits))


def failures(report) -> list[dict[str, str]]:
    """The report's failures as `--json` shows them."""
    return [f.to_json() for f in report.failed]


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_rss_first_poll_then_only_the_new_item(fake_archive, server):
    server.serve_pages("ferry", "library", "wind")
    items = [Item("ferry", "/news/ferry"), Item("library", "/news/library")]
    url = server.set_rss("/rss.xml", "Harbour Gazette", items)

    feed, report = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    assert feed.name == "Harbour Gazette" and feed.url == url and feed.last_error is None
    assert [a.title for a in report.added] == [
        "Ferry timetable changes",
        "Library opens on Sundays",
    ]
    assert not report.failed
    stored = {a.title: a for a in fake_archive.recent(collection="g1")}
    ferry = stored["Ferry timetable changes"]
    assert ferry.source == "Harbour Gazette"
    assert ferry.url == server.base + "/news/ferry"
    assert ferry.date == "2024-05-06"
    assert "half an hour earlier" in fake_archive.get(ferry.id, collection="g1").passages[0].text

    # Nothing new: nothing fetched but the feed itself.
    before = dict(server.hits)
    again = feeds.poll(fake_archive, feed, allow_private=True)
    assert (again.added, again.duplicates, again.failed) == ([], [], [])
    assert server.hits["/news/ferry"] == before["/news/ferry"]

    # The feed changes: only the new item is fetched and stored.
    server.set_rss("/rss.xml", "Harbour Gazette", [Item("wind", "/news/wind"), *items])
    third = feeds.poll(fake_archive, feed, allow_private=True)
    assert [a.title for a in third.added] == ["Wind farm approved"]
    assert fake_archive.count(collection="g1") == 3
    assert server.hits["/news/library"] == 1
    (listed,) = feeds.list_feeds(fake_archive, collection="g1")
    assert listed.items_seen == 3 and listed.last_polled_at is not None


def test_atom_feed_and_given_name(fake_archive, server):
    server.serve_pages("bridge", "school")
    url = server.set_atom("/atom.xml", "Valley Times", [Item("bridge", "/news/bridge")])
    feed, report = feeds.add_feed(
        fake_archive, url, collection="g1", name="Valley", allow_private=True
    )
    assert feed.name == "Valley" and len(report.added) == 1
    server.set_atom(
        "/atom.xml",
        "Valley Times",
        [Item("school", "/news/school", date="2024-05-07"), Item("bridge", "/news/bridge")],
    )
    report = feeds.poll(fake_archive, feed, allow_private=True)
    assert [a.title for a in report.added] == ["Free school lunches"]
    newest = fake_archive.recent(collection="g1", limit=1)[0]
    assert (newest.source, newest.url, newest.date) == (
        "Valley",
        server.base + "/news/school",
        "2024-05-07",
    )


def test_broken_page_falls_back_to_feed_text_or_is_reported(fake_archive, server):
    items = [
        Item("ferry", "/news/gone-long", content=long_summary("ferry")),
        Item("library", "/news/gone-short", summary="Opening hours change."),
    ]
    url = server.set_rss("/rss.xml", "Harbour Gazette", items)
    feed, report = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    assert [a.title for a in report.added] == ["Ferry timetable changes"]
    kept = fake_archive.recent(collection="g1")[0]
    assert kept.source == "Harbour Gazette" and kept.url == server.base + "/news/gone-long"
    assert "sentence 7 of the summary" in " ".join(
        p.text for p in fake_archive.get(kept.id, collection="g1").passages
    )
    (failed,) = report.failed
    assert failed.path == server.base + "/news/gone-short"
    assert "404" in failed.error and "too short" in failed.error

    # A failed item is tried again at the next polls (the page may come back), then left alone.
    server.serve_pages("library")
    server.routes["/news/gone-short"] = server.routes["/news/library"]
    retry = feeds.poll(fake_archive, feed, allow_private=True)
    assert [a.title for a in retry.added] == ["Library opens on Sundays"]


def test_failing_item_is_given_up_after_a_few_polls(fake_archive, server):
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/missing")])
    feed, report = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    assert len(report.failed) == 1
    for _ in range(feeds.MAX_ITEM_ATTEMPTS - 1):
        assert len(feeds.poll(fake_archive, feed, allow_private=True).failed) == 1
    assert feeds.poll(fake_archive, feed, allow_private=True).failed == []
    assert server.hits["/news/missing"] == feeds.MAX_ITEM_ATTEMPTS


def test_page_with_a_teaser_loses_to_the_full_text_in_the_feed(fake_archive, server):
    server.routes["/news/teaser"] = (
        200,
        "text/html",
        b"<html><body><article><h1>Ferry</h1><p>Subscribe to read the story about the "
        b"evening ferry and its timetable.</p></article></body></html>",
    )
    url = server.set_rss(
        "/rss.xml", "Gazette", [Item("ferry", "/news/teaser", content=long_summary("ferry"))]
    )
    _, report = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    (added,) = report.added
    text = " ".join(p.text for p in fake_archive.get(added.id, collection="g1").passages)
    assert "sentence 7 of the summary" in text and "Subscribe" not in text


def test_not_a_feed_unreachable_and_private_addresses(fake_archive, server):
    server.serve_pages("ferry")
    with pytest.raises(FeedError, match="is a web page, not an RSS or Atom feed"):
        feeds.add_feed(
            fake_archive, server.base + "/news/ferry", collection="g1", allow_private=True
        )
    server.routes["/data.json"] = (200, "application/json", b'{"a": 1}')
    with pytest.raises(FeedError, match="is not an RSS or Atom feed"):
        feeds.add_feed(
            fake_archive, server.base + "/data.json", collection="g1", allow_private=True
        )
    with pytest.raises(FetchError, match="404"):
        feeds.add_feed(
            fake_archive, server.base + "/nothing.xml", collection="g1", allow_private=True
        )
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
    with pytest.raises(FetchError, match="loopback address; refused"):
        feeds.add_feed(fake_archive, url, collection="g1")  # the default refuses 127.0.0.1
    with pytest.raises(FetchError, match="only http and https"):
        feeds.add_feed(fake_archive, "file:///etc/passwd", collection="g1")
    assert feeds.list_feeds(fake_archive, collection="g1") == []
    assert fake_archive.count(collection="g1") == 0


def test_feed_that_breaks_later_records_its_error(fake_archive, server):
    server.serve_pages("ferry")
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
    feed, _ = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    server.routes["/rss.xml"] = (500, "text/plain", b"oops")
    report = feeds.poll(fake_archive, feed, allow_private=True)
    assert failures(report) == [
        {"path": url, "error": "the server answered 500 Internal Server Error"}
    ]
    (listed,) = feeds.list_feeds(fake_archive, collection="g1")
    assert listed.last_error == "the server answered 500 Internal Server Error"


def test_page_announcing_its_feed_is_followed_to_it(fake_archive, server):
    server.serve_pages("ferry")
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
    server.routes["/"] = (
        200,
        "text/html",
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">'
        b"</head><body><p>Home</p></body></html>",
    )
    feed, report = feeds.add_feed(
        fake_archive, server.base + "/", collection="g1", allow_private=True
    )
    assert feed.url == url and len(report.added) == 1


def test_feeds_are_per_collection(fake_archive, server):
    server.serve_pages("ferry", "library")
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
    feed_a, _ = feeds.add_feed(fake_archive, url, collection="a", allow_private=True)
    with pytest.raises(FeedError, match="already followed here"):
        feeds.add_feed(fake_archive, url, collection="a", allow_private=True)
    feed_b, report_b = feeds.add_feed(
        fake_archive, url, collection="b", name="Gazette B", allow_private=True
    )
    assert len(report_b.added) == 1  # the same article, stored again for the other server
    assert [f.id for f in feeds.list_feeds(fake_archive, collection="a")] == [feed_a.id]
    assert [f.id for f in feeds.list_feeds(fake_archive, collection="b")] == [feed_b.id]
    with pytest.raises(FeedNotFound):
        feeds.remove_feed(fake_archive, str(feed_b.id), collection="a")
    assert feeds.remove_feed(fake_archive, "Gazette B", collection="b").id == feed_b.id
    assert feeds.list_feeds(fake_archive, collection="b") == []
    assert fake_archive.count(collection="b") == 1  # its articles stay
    server.set_rss(
        "/rss.xml", "Gazette", [Item("library", "/news/library"), Item("ferry", "/news/ferry")]
    )
    results = feeds.poll_all(fake_archive, allow_private=True)
    assert [(f.id, len(r.added)) for f, r in results] == [(feed_a.id, 1)]
    assert _titles(fake_archive, "a") == ["Ferry timetable changes", "Library opens on Sundays"]
    assert _titles(fake_archive, "b") == ["Ferry timetable changes"]
    assert feeds.remove_feed(fake_archive, url, collection="a").id == feed_a.id


def test_items_per_poll_cap(tmp_path, server):
    from dataclasses import replace

    from archivist.archive import Archive
    from archivist.config import Limits
    from archivist.embedding import HashingEmbedder

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


def test_parse_feed_never_opens_local_paths(tmp_path):
    secret = tmp_path / "feed.xml"
    secret.write_text('<rss version="2.0"><channel><title>Local file</title></channel></rss>')
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(str(secret).encode(), "http://example.org/feed")


def test_text_paragraphs_from_html_and_plain_text():
    html = "<p>One <b>bold</b> line.</p><p>Two<br>lines</p><ul><li>A</li><li>B</li></ul>tail"
    assert [p.text for p in text_paragraphs(html, True)] == [
        "One bold line.",
        "Two lines",
        "A",
        "B",
        "tail",
    ]
    assert [p.text for p in text_paragraphs("First.\n\nSecond\nline.", False)] == [
        "First.",
        "Second line.",
    ]


# ---- one bad feed never hurts the others (issue #17) ------------------------------------------


def test_one_bad_feed_never_stops_the_round(fake_archive, server):
    server.serve_pages("ferry", "library")
    urls = {
        name: server.set_rss(f"/{path}.xml", name, [Item(topic, f"/news/{topic}")])
        for name, path, topic in [
            ("Bad link", "bad-link", "ferry"),
            ("Bad XML", "bad-xml", "ferry"),
            ("Good", "good", "library"),
        ]
    }
    for url in urls.values():
        feeds.add_feed(fake_archive, url, collection="g1", allow_private=True, poll_now=False)
    # Followed while they were fine; then two turn hostile.
    server.routes["/bad-link.xml"] = (
        200,
        "application/rss+xml",
        _raw_rss("Bad link", [("Empty IDNA label", "http://xn--/", "Short.")]),
    )
    server.routes["/bad-xml.xml"] = (200, "application/rss+xml", BREAKS_THE_PARSER)

    scheduler = feeds.FeedScheduler(fake_archive, interval_s=60.0, allow_private=True)
    polled = asyncio.run(scheduler.poll_due())

    assert [f.name for f, _ in polled] == ["Bad link", "Bad XML", "Good"]
    assert _titles(fake_archive, "g1") == ["Library opens on Sundays"]
    listed = {f.name: f for f in feeds.list_feeds(fake_archive, collection="g1")}
    assert all(f.last_polled_at is not None for f in listed.values())
    assert listed["Good"].last_error is None
    link_error = listed["Bad link"].last_error
    assert link_error.startswith("1 item failed: http://xn--/: ") and "\n" not in link_error
    assert listed["Bad link"].failures == 0  # the feed itself works; the item is retried
    assert listed["Bad XML"].last_error == (
        "is not a well-formed RSS or Atom feed (the parser stopped on malformed content)"
    )
    assert listed["Bad XML"].failures == 1
    # Nothing due until the interval (or the back-off) has passed: the round was recorded.
    assert asyncio.run(scheduler.poll_due()) == []


def test_an_unforeseen_error_stays_with_its_feed_or_its_item(fake_archive, server, monkeypatch):
    server.serve_pages("ferry", "library", "wind", "bridge")
    a = server.set_rss("/a.xml", "A", [Item("ferry", "/news/ferry")])
    b = server.set_rss(
        "/b.xml",
        "B",
        [
            Item("library", "/news/library"),
            Item("wind", "/news/wind"),
            Item("bridge", "/news/bridge"),
        ],
    )
    for url in (a, b):
        feeds.add_feed(fake_archive, url, collection="g1", allow_private=True, poll_now=False)
    parse, read, add = polling.read_feed, polling.read_item, fake_archive.add_articles

    def parse_fails_for_a(data, url, limits):
        if url == a:
            raise RuntimeError("a parser bug")
        return parse(data, url, limits)

    def read_fails_for_wind(item, *args):
        if item.link.endswith("/wind"):
            raise RuntimeError("a reader bug")
        return read(item, *args)

    def storing_fails_for_bridge(items, **kwargs):
        if any(article.title == "Bridge reopens" for _, article in items):
            raise RuntimeError("a storage bug")
        return add(items, **kwargs)

    monkeypatch.setattr(polling, "read_feed", parse_fails_for_a)
    monkeypatch.setattr(polling, "read_item", read_fails_for_wind)
    monkeypatch.setattr(fake_archive, "add_articles", storing_fails_for_bridge)
    results = dict((f.name, r) for f, r in feeds.poll_all(fake_archive, allow_private=True))

    assert failures(results["A"]) == [
        {"path": a, "error": "could not be read (an unexpected error: a parser bug)"}
    ]
    assert [x.title for x in results["B"].added] == ["Library opens on Sundays"]
    assert failures(results["B"]) == [
        {
            "path": server.base + "/news/wind",
            "error": "could not be read (an unexpected error: a reader bug)",
        },
        {
            "path": server.base + "/news/bridge",
            "error": "could not be stored (a storage bug)",
        },
    ]
    listed = {f.name: f for f in feeds.list_feeds(fake_archive, collection="g1")}
    assert (listed["A"].failures, listed["B"].failures) == (1, 0)
    assert listed["B"].last_error.startswith("2 items failed; the first: ")


def test_failing_feed_waits_longer_each_time_is_disabled_and_resumes(tmp_path, server):
    archive = _archive(tmp_path / "a", feed_max_failures=4)
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
            waits.append(_seconds(listed.next_poll_at) - _seconds(listed.last_polled_at))
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
    archive = _archive(tmp_path / "a", feed_max_failures=3)
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


def test_add_keeps_a_feed_whose_items_partly_fail(fake_archive, server):
    server.serve_pages("ferry")
    server.routes["/rss.xml"] = (
        200,
        "application/rss+xml",
        _raw_rss(
            "Gazette",
            [
                (TOPICS["ferry"][0], server.base + "/news/ferry", "Short."),
                ("Empty IDNA label", "http://xn--/", "Short."),
                ("Open bracket", "http://[::1", "Short."),
            ],
        ),
    )
    feed, report = feeds.add_feed(
        fake_archive, server.base + "/rss.xml", collection="g1", allow_private=True
    )
    assert [a.title for a in report.added] == ["Ferry timetable changes"]
    # feedparser itself drops the unparsable `http://[::1`: that item has no link to fetch
    assert len(report.failed) == 2 and report.failed[0].path == "http://xn--/"
    for failed in report.failed:
        assert "\n" not in failed.error and "too short to keep instead" in failed.error
    (listed,) = feeds.list_feeds(fake_archive, collection="g1")
    assert listed.id == feed.id
    assert listed.last_error.startswith("2 items failed; the first: http://xn--/: ")


def test_a_first_poll_that_fails_leaves_nothing_followed(fake_archive, server, monkeypatch):
    server.serve_pages("ferry")
    url = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])

    def store_fails(self, feed_id):
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patched:
        patched.setattr(feeds.FeedTable, "seen", store_fails)
        with pytest.raises(FeedError, match="disk I/O error") as caught:
            feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    assert str(caught.value).startswith(url) and "\n" not in str(caught.value)
    assert feeds.list_feeds(fake_archive, collection="g1") == []
    # Once the store works again the same feed is added as if nothing had happened.
    feed, report = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    assert len(report.added) == 1 and feed.failures == 0


def test_a_feed_that_breaks_the_parser_is_refused_in_one_line(fake_archive, server):
    server.routes["/rss.xml"] = (200, "application/rss+xml", BREAKS_THE_PARSER)
    with pytest.raises(FeedError, match="not a well-formed RSS or Atom feed"):
        feeds.add_feed(fake_archive, server.base + "/rss.xml", collection="g1", allow_private=True)
    with pytest.raises(ReadError) as caught:
        feeds.add_feed(fake_archive, "http://xn--/feed.xml", collection="g1", allow_private=True)
    assert str(caught.value).startswith("http://xn--/feed.xml: ") and "\n" not in str(caught.value)
    assert feeds.list_feeds(fake_archive, collection="g1") == []


def test_item_linking_to_a_bundle_yields_at_most_one_article(fake_archive, server):
    bundle = "\n".join(
        json.dumps({"title": f"Bundled article {n}", "text": f"Body of bundled article {n}."})
        for n in range(3)
    ).encode()
    server.routes["/long.jsonl"] = (200, "application/x-ndjson", bundle)
    server.routes["/short.jsonl"] = (200, "application/x-ndjson", bundle)
    url = server.set_rss(
        "/rss.xml",
        "Gazette",
        [
            Item("ferry", "/long.jsonl", content=long_summary("ferry")),
            Item("library", "/short.jsonl"),
        ],
    )
    _, report = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    # The item with a long text in the feed keeps that text; the other is refused.
    assert _titles(fake_archive, "g1") == ["Ferry timetable changes"]
    (kept,) = fake_archive.recent(collection="g1")
    assert "sentence 7 of the summary" in " ".join(
        p.text for p in fake_archive.get(kept.id, collection="g1").passages
    )
    (failed,) = report.failed
    assert failed.path == server.base + "/short.jsonl"
    assert "links to a bundle of 3 articles" in failed.error


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


ANNOUNCE = b'<link rel="alternate" type="application/rss+xml" href="/feed.xml">'


# Each took minutes to hours before (the first two quadratic in the page's 512 KB cap).
@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("page", "found"),
    [
        # unclosed tags with no `>` after them: each used to rescan the rest of the page
        (b"<html><head>" + b"<link " * 87_000, None),
        # one huge attribute name without a value, then the real announcement
        (b"<html><head><link " + b"a" * 500_000 + b">" + ANNOUNCE, "http://example.org/feed.xml"),
        (b"<html><head><link " + b"-" * 500_000 + b">" + ANNOUNCE, "http://example.org/feed.xml"),
        (
            b"<html><head><link " + b"a=b " * 125_000 + b">" + ANNOUNCE,
            "http://example.org/feed.xml",
        ),
        (b"<html><head><link " + b'a="' * 160_000 + b">" + ANNOUNCE, "http://example.org/feed.xml"),
    ],
    ids=["unclosed-tags", "long-name", "long-dashes", "many-attributes", "open-quotes"],
)
def test_discover_feed_link_is_linear_on_hostile_pages(page, found):
    assert len(page) <= DISCOVER_MAX_BYTES
    assert discover_feed_link(page, "http://example.org/news/") == found


def test_discover_feed_link_reads_attributes_in_any_order_and_quoting():
    page = (
        b"<html><head><link rel=stylesheet href=/a.css>"
        b"<LINK href='/atom' TYPE='application/atom+xml' REL='Alternate' title=\"News\">"
        b"</head></html>"
    )
    assert discover_feed_link(page, "http://example.org/") == "http://example.org/atom"
    assert discover_feed_link(b"<html><link rel=alternate href=/x></html>", "http://e/") is None


# ---- the CLI -----------------------------------------------------------------------------------


def fake_model_archive(settings: Settings) -> Archive:
    """The CLI's archive on the fast fake model (`cli`'s factory, passed as the runner's obj)."""
    return Archive(settings.data_dir, limits=settings.limits, embedder=HashingEmbedder())


@pytest.fixture
def cli_run(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from archivist.cli import cli

    def invoke(*args: str, private: bool = True):
        if private:
            monkeypatch.setenv("ARCHIVIST_ALLOW_PRIVATE_URLS", "1")
        else:
            monkeypatch.delenv("ARCHIVIST_ALLOW_PRIVATE_URLS", raising=False)
        argv = ["--data-dir", str(tmp_path / "d"), *args]
        result = CliRunner().invoke(cli, argv, obj=fake_model_archive)
        out = result.stdout
        try:
            parsed = json.loads(out) if "--json" in args else None
        except json.JSONDecodeError:
            parsed = None
        return result.exit_code, out, result.stderr, parsed

    return invoke


def test_cli_feed_add_list_poll_remove(cli_run, server):
    server.serve_pages("ferry", "library", "wind")
    url = server.set_rss("/rss.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])

    code, _, err, _ = cli_run("feed", "add", url, private=False)
    assert code == 1 and "loopback address; refused" in err and "Traceback" not in err

    code, out, err, data = cli_run("feed", "add", url, "--name", "Gazette", "--json")
    assert code == 0, err
    assert set(data) == {"feed", "added", "duplicates", "failed", "skipped", "near_duplicates"}
    assert data["feed"]["name"] == "Gazette" and data["feed"]["url"] == url
    assert len(data["added"]) == 1 and data["failed"] == []

    code, _, err, _ = cli_run("feed", "add", url)
    assert code == 1 and "already followed here" in err

    code, _, err, _ = cli_run("feed", "add", server.base + "/news/ferry")
    assert code == 1 and "not an RSS or Atom feed" in err

    code, out, _, data = cli_run("feed", "list", "--json")
    assert code == 0 and [f["name"] for f in data] == ["Gazette"]
    assert set(data[0]) == {
        "id",
        "name",
        "url",
        "added_at",
        "last_polled_at",
        "last_error",
        "items_seen",
        "failures",
        "disabled",
    }
    assert (data[0]["failures"], data[0]["disabled"]) == (0, False)
    code, out, _, _ = cli_run("feed", "list")
    assert "Gazette" in out and url in out

    server.set_rss(
        "/rss.xml",
        "Harbour Gazette",
        [
            Item("library", "/news/library"),
            Item("ferry", "/news/ferry"),
            Item("wind", "/news/broken"),
        ],
    )
    code, out, err, data = cli_run("feed", "poll", "--json")
    assert code == 1  # one item failed; the other was stored
    ((result),) = data
    assert result["feed"]["name"] == "Gazette" and len(result["added"]) == 1
    assert result["failed"][0]["path"] == server.base + "/news/broken"

    code, out, _, data = cli_run("list", "--json")
    assert {a["source"] for a in data} == {"Gazette"} and len(data) == 2

    code, out, _, _ = cli_run("feed", "remove", str(result["feed"]["id"]))
    assert code == 0 and "Removed feed" in out
    code, _, err, _ = cli_run("feed", "remove", url)
    assert code == 1 and "No feed" in err and "`archivist feed list`" in err
    code, out, _, _ = cli_run("feed", "list")
    assert "No feeds" in out
    code, _, _, _ = cli_run("feed", "add")
    assert code == 2  # usage error


def tiny_items_feed(count: int) -> bytes:
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Many</title>'
        + b"<item><title>a</title><link>http://example.com/a</link></item>" * count
        + b"</channel></rss>"
    )


@pytest.mark.timeout(60)
def test_a_feed_listing_too_many_items_is_refused_before_parsing():
    """feedparser's time grows faster than the item count: 100,000 tiny items took minutes."""
    from archivist.feeds.parser import MAX_FEED_ITEMS, parse_feed

    with pytest.raises(FeedError) as caught:
        parse_feed(tiny_items_feed(100_000), "http://example.com/many.xml")
    assert str(caught.value) == (
        f"http://example.com/many.xml: lists 100,000 items, over the limit of "
        f"{MAX_FEED_ITEMS:,} a feed; follow a feed of recent items instead"
    )
    assert len(parse_feed(tiny_items_feed(10), "http://example.com/few.xml").items) == 10


@pytest.mark.timeout(60)
def test_a_feed_is_parsed_within_the_read_budget(tmp_path, server, fake_archive):
    """feedparser runs in a reader worker: a feed over the time budget is refused for that
    feed alone, in one line, and nothing is followed."""
    import dataclasses

    from archivist.archive import Archive
    from archivist.config import Limits
    from archivist.embedding import HashingEmbedder

    server.serve_pages("ferry")
    server.routes["/slow.xml"] = (200, "application/rss+xml", tiny_items_feed(2000))
    slow = server.base + "/slow.xml"
    small = server.set_rss("/small.xml", "Small", [Item("ferry", "/news/ferry")])
    tight = dataclasses.replace(Limits(), read_timeout_s=0.05)  # 0.15 s for this feed: ~1 s
    archive = Archive(tmp_path / "tight", embedder=HashingEmbedder(), limits=tight)
    try:
        with pytest.raises(ReadError) as caught:
            feeds.add_feed(archive, slow, collection="g1", allow_private=True)
        message = str(caught.value)
        assert message.startswith(slow) and "ARCHIVIST_READ_TIMEOUT_S" in message
        assert "\n" not in message
        assert feeds.list_feeds(archive, collection="g1") == []
    finally:
        archive.close()
    # the worker stopped is replaced: the next feed is read as usual
    feed, report = feeds.add_feed(fake_archive, small, collection="g1", allow_private=True)
    assert len(report.added) == 1


def test_removing_by_a_name_two_feeds_share_asks_for_the_id(fake_archive, server):
    server.serve_pages("ferry", "library")
    one = server.set_rss("/one.xml", "One", [Item("ferry", "/news/ferry")])
    two = server.set_rss("/two.xml", "Two", [Item("library", "/news/library")])
    for url in (one, two):
        feeds.add_feed(fake_archive, url, collection="g1", name="Gazette", allow_private=True)
    with pytest.raises(FeedNotFound) as caught:
        feeds.remove_feed(fake_archive, "gazette", collection="g1")
    assert (
        str(caught.value) == "Several feeds are named “gazette”; give the one you mean by its id."
    )
    assert len(feeds.list_feeds(fake_archive, collection="g1")) == 2


def test_the_parser_loads_without_the_store_or_the_fetcher():
    """A reader worker imports `archivist.feeds.parser` (and so the package's `__init__`) for
    every feed it parses: SQLite, numpy and the fetcher stay out of it."""
    heavy = ["numpy", "sqlite_utils", "archivist.store", "archivist.fetch"]
    code = (
        "import sys, archivist.feeds.parser; "
        f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
    assert feeds.poll_all is polling.poll_all  # the package's names load on first use

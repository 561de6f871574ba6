"""Feeds: RSS and Atom polled from a local server whose feeds change between polls.

The parser, the scheduler and back-off, and the CLI have their own modules
(tests/test_feeds_parsing.py, test_feeds_scheduler.py, test_feeds_cli.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from feed_helpers import BREAKS_THE_PARSER, failures, raw_rss, server, titles
from feed_server import TOPICS, Item, long_summary

from archivist import feeds
from archivist.errors import DiskFull, FeedError, FeedNotFound, FetchError
from archivist.feeds import polling

FIXTURES = (server,)  # pytest finds it by its name in this module


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
    assert titles(fake_archive, "a") == ["Ferry timetable changes", "Library opens on Sundays"]
    assert titles(fake_archive, "b") == ["Ferry timetable changes"]
    assert feeds.remove_feed(fake_archive, url, collection="a").id == feed_a.id


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
        raw_rss("Bad link", [("Empty IDNA label", "http://xn--/", "Short.")]),
    )
    server.routes["/bad-xml.xml"] = (200, "application/rss+xml", BREAKS_THE_PARSER)

    scheduler = feeds.FeedScheduler(fake_archive, interval_s=60.0, allow_private=True)
    polled = asyncio.run(scheduler.poll_due())

    assert [f.name for f, _ in polled] == ["Bad link", "Bad XML", "Good"]
    assert titles(fake_archive, "g1") == ["Library opens on Sundays"]
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


def test_add_keeps_a_feed_whose_items_partly_fail(fake_archive, server):
    server.serve_pages("ferry")
    server.routes["/rss.xml"] = (
        200,
        "application/rss+xml",
        raw_rss(
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
    assert titles(fake_archive, "g1") == ["Ferry timetable changes"]
    (kept,) = fake_archive.recent(collection="g1")
    assert "sentence 7 of the summary" in " ".join(
        p.text for p in fake_archive.get(kept.id, collection="g1").passages
    )
    (failed,) = report.failed
    assert failed.path == server.base + "/short.jsonl"
    assert "links to a bundle of 3 articles" in failed.error


def test_a_full_disk_counts_against_no_feed_and_no_item(fake_archive, server, monkeypatch):
    """Before, each item failed on its own ("could not be stored", with the host's path) and
    counted an attempt, so a full disk lasting a few polls gave the items up for good."""
    server.serve_pages("ferry", "library")
    url = server.set_rss(
        "/rss.xml",
        "Harbour Gazette",
        [Item("ferry", "/news/ferry"), Item("library", "/news/library")],
    )
    feed, _ = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True, poll_now=False)
    add = fake_archive.add_articles

    def no_room(items, **kwargs):
        raise DiskFull("/srv/archive.db: the disk is full; nothing of this write was stored")

    monkeypatch.setattr(fake_archive, "add_articles", no_room)
    for _ in range(4):
        report = feeds.poll(fake_archive, feed, allow_private=True)
        assert failures(report) == [{"path": url, "error": polling.DISK_FULL}]
        assert "/srv" not in json.dumps(failures(report))
    (listed,) = feeds.list_feeds(fake_archive, collection="g1")
    assert listed.failures == 0 and listed.last_error is None and listed.disabled_at is None
    assert fake_archive.count(collection="g1") == 0

    monkeypatch.setattr(fake_archive, "add_articles", add)
    report = feeds.poll(fake_archive, feed, allow_private=True)
    assert sorted(a.title for a in report.added) == [
        "Ferry timetable changes",
        "Library opens on Sundays",
    ]
    assert not report.failed

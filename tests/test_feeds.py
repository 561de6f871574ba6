"""Feeds: RSS and Atom polled from a local server whose feeds change between polls."""

from __future__ import annotations

import asyncio

import pytest
from feed_server import Item, feed_server, long_summary

from archivist import feeds
from archivist.errors import FeedError, FeedNotFound, FetchError
from archivist.feed_parser import parse_feed, text_paragraphs


@pytest.fixture
def server():
    with feed_server() as s:
        yield s


def _titles(archive, collection):
    return sorted(a.title for a in archive.recent(collection=collection, limit=100))


def test_rss_first_poll_then_only_the_new_item(fake_archive, server):
    server.serve_pages("ferry", "library", "wind")
    items = [Item("ferry", "/news/ferry"), Item("library", "/news/library")]
    url = server.set_rss("/rss.xml", "Harbour Gazette", items)

    feed, report = feeds.add_feed(fake_archive, url, collection="g1", allow_private=True)
    assert feed.name == "Harbour Gazette" and feed.url == url and feed.last_error is None
    assert [a["title"] for a in report.added] == [
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
    assert [a["title"] for a in third.added] == ["Wind farm approved"]
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
    assert [a["title"] for a in report.added] == ["Free school lunches"]
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
    assert [a["title"] for a in report.added] == ["Ferry timetable changes"]
    kept = fake_archive.recent(collection="g1")[0]
    assert kept.source == "Harbour Gazette" and kept.url == server.base + "/news/gone-long"
    assert "sentence 7 of the summary" in " ".join(
        p.text for p in fake_archive.get(kept.id, collection="g1").passages
    )
    (failed,) = report.failed
    assert failed["path"] == server.base + "/news/gone-short"
    assert "404" in failed["error"] and "too short" in failed["error"]

    # A failed item is tried again at the next polls (the page may come back), then left alone.
    server.serve_pages("library")
    server.routes["/news/gone-short"] = server.routes["/news/library"]
    retry = feeds.poll(fake_archive, feed, allow_private=True)
    assert [a["title"] for a in retry.added] == ["Library opens on Sundays"]


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
    text = " ".join(p.text for p in fake_archive.get(added["id"], collection="g1").passages)
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
    assert report.failed == [
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


# ---- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli_run(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    import archivist.archive
    from archivist.cli import cli
    from archivist.embedding import HashingEmbedder

    monkeypatch.setattr(archivist.archive, "default_embedder", HashingEmbedder)

    def invoke(*args: str, private: bool = True):
        if private:
            monkeypatch.setenv("ARCHIVIST_ALLOW_PRIVATE_URLS", "1")
        else:
            monkeypatch.delenv("ARCHIVIST_ALLOW_PRIVATE_URLS", raising=False)
        result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), *args])
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
    assert set(data) == {"feed", "added", "duplicates", "failed", "skipped"}
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
    assert code == 0 and "removed feed" in out
    code, _, err, _ = cli_run("feed", "remove", url)
    assert code == 1 and "no feed" in err
    code, out, _, _ = cli_run("feed", "list")
    assert "No feeds" in out
    code, _, _, _ = cli_run("feed", "add")
    assert code == 2  # usage error

"""Feeds parsed: local paths never opened, text from HTML, feeds that break the parser,
hostile pages for feed discovery, the read budget, and the parser's light imports."""

from __future__ import annotations

import subprocess
import sys

import pytest
from feed_helpers import BREAKS_THE_PARSER, server
from feed_server import Item

from archivist import feeds
from archivist.archive import Archive
from archivist.config import Limits
from archivist.embedding import HashingEmbedder
from archivist.errors import FeedError, ReadError
from archivist.feeds import polling
from archivist.feeds.parser import (
    DISCOVER_MAX_BYTES,
    discover_feed_link,
    parse_feed,
    text_paragraphs,
)

FIXTURES = (server,)  # pytest finds it by its name in this module


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


def test_a_feed_that_breaks_the_parser_is_refused_in_one_line(fake_archive, server):
    server.routes["/rss.xml"] = (200, "application/rss+xml", BREAKS_THE_PARSER)
    with pytest.raises(FeedError, match="not a well-formed RSS or Atom feed"):
        feeds.add_feed(fake_archive, server.base + "/rss.xml", collection="g1", allow_private=True)
    with pytest.raises(ReadError) as caught:
        feeds.add_feed(fake_archive, "http://xn--/feed.xml", collection="g1", allow_private=True)
    assert str(caught.value).startswith("http://xn--/feed.xml: ") and "\n" not in str(caught.value)
    assert feeds.list_feeds(fake_archive, collection="g1") == []


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

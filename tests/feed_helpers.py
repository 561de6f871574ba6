"""What the feed tests (tests/test_feeds*.py) share: the `server` fixture, feeds written by
hand, an archive with given limits, and the readings of a poll's report."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from html import escape

import pytest
from feed_server import feed_server

from archivist.archive import Archive
from archivist.config import Limits
from archivist.embedding import HashingEmbedder


@pytest.fixture
def server():
    with feed_server() as s:
        yield s


def titles(archive, collection):
    return sorted(a.title for a in archive.recent(collection=collection, limit=100))


def raw_rss(title: str, items: list[tuple[str, str, str]]) -> bytes:
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


def limited_archive(path, **limits) -> Archive:
    return Archive(path, embedder=HashingEmbedder(), limits=replace(Limits(), **limits))


def failures(report) -> list[dict[str, str]]:
    """The report's failures as `--json` shows them."""
    return [f.to_json() for f in report.failed]


def timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

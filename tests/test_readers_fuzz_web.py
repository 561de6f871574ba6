"""Hostile RSS and Atom feeds for the feed parser, and malformed URLs for the fetcher against
a local hostile server (see test_readers_fuzz.py): a bounded result or the project's one-line
error, never another exception."""

from __future__ import annotations

import socket

import pytest
from fuzz_helpers import FUZZ_LIMITS, assert_one_line, fuzz, words
from hostile_corpus import hostile_server, rss
from hypothesis import given
from hypothesis import strategies as st

from archivist.errors import ReadError
from archivist.feeds.parser import ParsedFeed, parse_feed, text_paragraphs
from archivist.fetch import fetch
from archivist.fetch_guard import shown_url

# a runaway read is stopped by the read budget (FUZZ_LIMITS); this only bounds the worst case
pytestmark = pytest.mark.timeout(180)


# ---- feeds (RSS, Atom) -------------------------------------------------------------------------
feed_text = st.one_of(
    words,
    st.sampled_from(
        ["&#x110000;", "&#99999999999;", "&#xD800;", "&bogus;", "&amp", "<![CDATA[<p>x</p>]]>"]
    ),
    st.integers(1, 3_000).map(lambda n: "&lt;div&gt;" * n),
    st.text(max_size=30).map(lambda t: t.replace("<", "").replace("&", "")),
)
feed_link = st.one_of(
    st.sampled_from(
        [
            "http://xn--/",
            "http://[::1",
            "http://[::1]:99999/",
            "https://example.invalid/a b",
            "javascript:alert(1)",
            "//no-scheme/x",
            "",
            "http://" + "a" * 300 + ".invalid/",
        ]
    ),
    words.map(lambda w: "http://example.invalid/" + w.replace(" ", "/")),
)
feed_item = st.tuples(feed_text, feed_link, feed_text)


@st.composite
def feed_variant(draw) -> bytes:
    items = draw(st.lists(feed_item, max_size=12))
    if draw(st.booleans()):
        return rss(draw(feed_text), items)
    entries = "".join(
        f'<entry><title>{t}</title><link href="{link}"/><id>urn:{n}</id>'
        f"<updated>{draw(st.sampled_from(['2024-05-06T10:00:00Z', 'yesterday', '']))}</updated>"
        f'<content type="html">{text}</content></entry>'
        for n, (t, link, text) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{draw(feed_text)}</title>{entries}</feed>"
    ).encode()


@fuzz(60)
@given(st.one_of(feed_variant(), st.binary(max_size=2048)))
def test_feed_variants(data):
    url = "http://127.0.0.1:9/feed"
    try:
        parsed = parse_feed(data, url)
    except ReadError as exc:
        assert_one_line(url, str(exc))
        return
    assert isinstance(parsed, ParsedFeed)
    for item in parsed.items:
        assert len(item.key) <= 2000
        assert item.title is None or len(item.title) <= 300
        assert item.link is None or item.link.startswith(("http://", "https://"))
        if item.text:
            text_paragraphs(item.text, item.text_is_html)


# ---- URLs for the fetcher: malformed hosts, ports, schemes, against a local server ------------
@pytest.fixture(scope="module")
def local_server():
    with hostile_server(drip_interval=0.2, lifetime_s=600) as server:
        yield server


@pytest.fixture
def loopback_only(monkeypatch, local_server):
    """Every name resolves to 127.0.0.1 and only the local server's port may be reached: a
    fuzzed URL never leaves the machine, nor reaches anything but the hostile server."""
    port = int(local_server.base.rsplit(":", 1)[1])
    real_connect = socket.socket.connect

    def resolve(host, port_, *args, **kwargs):
        if isinstance(host, str) and not host.isascii():
            raise socket.gaierror(socket.EAI_NONAME, "no such name")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port_ or 80)))]

    def connect(self, address):
        if address != ("127.0.0.1", port):
            raise ConnectionRefusedError(f"the fuzz test only reaches 127.0.0.1:{port}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return local_server


SAFE_PATHS = [
    "/page", "/gzip-gzip", "/gzip", "/br", "/loop", "/bad-location", "/idna-location",
    "/huge-length", "/bundle.zip", "/links.html", "/feeds/idna.rss", "/news/ferry", "/missing",
]  # fmt: skip
hosts = st.one_of(
    st.sampled_from(
        [
            "127.0.0.1", "localhost", "xn--", "xn--nxasmq6b", "[::1", "[::1]", "[fec0::1]",
            "0x7f.1", "2130706433", "a..b", ".", "", "ex ample", "bücher.example", "a" * 64,
            "user:pass@127.0.0.1", "[::ffff:127.0.0.1]", "%00", "127.0.0.1.",
        ]
    ),
    st.text(max_size=20).filter(lambda h: "/" not in h and "?" not in h and "#" not in h),
)  # fmt: skip
ports = st.sampled_from(["", ":0", ":65536", ":99999", ":-1", ":abc", ":", ":80x", "PORT"])
schemes = st.sampled_from(["http", "https", "HTTP", "ftp", "file", "javascript", "", "http:"])


@fuzz(40)
@given(schemes, hosts, ports, st.sampled_from(SAFE_PATHS), st.booleans())
def test_fetch_of_fuzzed_urls(loopback_only, scheme, host, port, path, private):
    actual_port = loopback_only.base.rsplit(":", 1)[1]
    url = f"{scheme}://{host}{port.replace('PORT', ':' + actual_port)}{path}"
    try:
        final_url, _, body = fetch(url, FUZZ_LIMITS, allow_private=private)
    except ReadError as exc:
        assert_one_line(shown_url(url), str(exc))  # (a URL is shown with its controls escaped)
        return
    assert final_url.startswith("http")
    assert len(body) <= FUZZ_LIMITS.upload_max_bytes

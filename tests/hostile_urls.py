"""The hostile server of the corpus (tests/hostile_corpus.py): the fetcher's hostile endpoints
(compression bombs, drips, redirect loops, bad redirect targets) and the feeds, and `URLS`."""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from hostile_blocks import (
    EITHER,
    MB,
    READ,
    REFUSED,
    Expect,
    gzip_zeros,
    news_text,
    seeded,
    zip_bytes,
)
from hostile_feeds import FEEDS, article_page
from hostile_files import discovery_page


# ---- the hostile server ------------------------------------------------------------------------
def brotli_stored(data: bytes) -> bytes:
    """`data` as a brotli stream of uncompressed meta-blocks (RFC 7932), with no library."""
    bits: list[int] = [0]  # WBITS = 16

    def put(value: int, count: int) -> None:
        bits.extend((value >> i) & 1 for i in range(count))

    out = bytearray()
    for start in range(0, len(data), 65536):
        block = data[start : start + 65536]
        put(0, 1)  # ISLAST
        put(0, 2)  # MNIBBLES: 4
        put(len(block) - 1, 16)
        put(1, 1)  # ISUNCOMPRESSED
        bits.extend([0] * (-len(bits) % 8))
        out += _pack_bits(bits) + block
        bits = []
    put(1, 1)  # ISLAST
    put(1, 1)  # ISLASTEMPTY
    bits.extend([0] * (-len(bits) % 8))
    return bytes(out + _pack_bits(bits))


def _pack_bits(bits: list[int]) -> bytes:
    return bytes(
        sum(bit << i for i, bit in enumerate(bits[n : n + 8])) for n in range(0, len(bits), 8)
    )


class UrlCase(NamedTuple):
    name: str
    target: str  # a path on the hostile server, or a whole (malformed) URL
    expect: Expect

    def url(self, base: str) -> str:
        return self.target if "://" in self.target else base + self.target


URLS: list[UrlCase] = [
    UrlCase("page", "/page", Expect(READ, note="an ordinary article page")),
    UrlCase(
        "gzip-gzip", "/gzip-gzip", Expect(REFUSED, note="gzip, gzip: 2.5 KB -> 1 GiB (item 1)")
    ),
    UrlCase("gzip", "/gzip", Expect(REFUSED, note="one gzip layer: 1 MB -> 1 GiB (item 1)")),
    UrlCase("br", "/br", Expect(EITHER, note="Content-Encoding: br")),
    UrlCase(
        "drip-headers", "/drip-headers", Expect(REFUSED, note="headers at a byte a second (item 4)")
    ),
    UrlCase("drip-body", "/drip-body", Expect(REFUSED, note="a body at a byte a second (item 4)")),
    UrlCase("redirect-loop", "/loop", Expect(REFUSED, note="a redirect to itself")),
    UrlCase(
        "bad-location", "/bad-location", Expect(REFUSED, note="Location: http://[::1 (item 8)")
    ),
    UrlCase(
        "idna-location", "/idna-location", Expect(REFUSED, note="Location: http://xn--/ (item 8)")
    ),
    UrlCase("huge-length", "/huge-length", Expect(REFUSED, note="Content-Length: 1 TB")),
    UrlCase("bracket-url", "http://[::1", Expect(REFUSED, note="the URL http://[::1 (item 8)")),
    UrlCase("idna-url", "http://xn--/", Expect(REFUSED, note="the URL http://xn--/ (item 8)")),
]


@dataclass
class HostileServer:
    base: str
    full: bool
    drip_interval: float
    stop: threading.Event = field(default_factory=threading.Event)
    hits: dict[str, int] = field(default_factory=dict)
    _cache: dict[str, bytes] = field(default_factory=dict)

    def body(self, key: str, make: Callable[[], bytes]) -> bytes:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def _bomb_size(server: HostileServer) -> int:
    return (1024 if server.full else 64) * MB


def _write(handler: http.server.BaseHTTPRequestHandler, raw: bytes) -> None:
    handler.wfile.write(raw)
    handler.wfile.flush()


def _respond(handler, status: int, headers: dict[str, str], body: bytes = b"") -> None:
    head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", "Connection: close"]
    head += [f"{key}: {value}" for key, value in headers.items()]
    if "Content-Length" not in headers:
        head.append(f"Content-Length: {len(body)}")
    _write(handler, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def _drip(handler, server: HostileServer, head: bytes, limit_s: float = 300.0) -> None:
    """`head`, then a byte every `drip_interval` seconds until the client goes (or the server
    stops, or `limit_s` passes: a bounded loop either way)."""
    _write(handler, head)
    ends = time.monotonic() + limit_s
    while not server.stop.wait(server.drip_interval) and time.monotonic() < ends:
        try:
            _write(handler, b"a")
        except OSError:  # the client closed the connection: the drip has done its job
            return


def _routes(server: HostileServer) -> dict[str, Callable]:
    html = {"Content-Type": "text/html; charset=utf-8"}
    bomb = _bomb_size(server)

    def stacked(h):
        body = server.body("gzip-gzip", lambda: gzip.compress(gzip_zeros(bomb), 9))
        _respond(h, 200, {**html, "Content-Encoding": "gzip, gzip"}, body)

    def single(h):
        _respond(
            h,
            200,
            {**html, "Content-Encoding": "gzip"},
            server.body("gzip", lambda: gzip_zeros(bomb)),
        )

    def brotli(h):
        body = brotli_stored(article_page("Brotli page", "br"))
        _respond(h, 200, {**html, "Content-Encoding": "br"}, body)

    def drip_headers(h):
        _drip(h, server, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Drip: ")

    def drip_body(h):
        _drip(
            h,
            server,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<p>",
        )

    def bundle(h):
        entries = {f"story{n}.txt": news_text(seeded(f"bundle {n}"), 3).encode() for n in range(3)}
        _respond(h, 200, {"Content-Type": "application/zip"}, zip_bytes(entries))

    routes: dict[str, Callable] = {
        "/page": lambda h: _respond(h, 200, html, article_page("Ferry timetable changes", "page")),
        "/gzip-gzip": stacked,
        "/gzip": single,
        "/br": brotli,
        "/drip-headers": drip_headers,
        "/drip-body": drip_body,
        "/loop": lambda h: _respond(h, 302, {"Location": "/loop"}),
        "/bad-location": lambda h: _respond(h, 302, {"Location": "http://[::1"}),
        "/idna-location": lambda h: _respond(h, 302, {"Location": "http://xn--/"}),
        "/huge-length": lambda h: _respond(h, 200, {**html, "Content-Length": str(10**12)}, b"<p>"),
        "/bundle.zip": bundle,
        "/links.html": lambda h: _respond(h, 200, html, discovery_page()),
    }
    for name, (maker, _) in FEEDS.items():
        routes[f"/feeds/{name}"] = lambda h, m=maker: _respond(
            h, 200, {"Content-Type": "application/rss+xml"}, m(server.base)
        )
    return routes


def _news_page(handler, path: str) -> bool:
    if not path.startswith("/news/"):
        return False
    topic = path.rsplit("/", 1)[-1]
    _respond(handler, 200, {"Content-Type": "text/html"}, article_page(topic.title(), topic))
    return True


@contextmanager
def hostile_server(
    full: bool = False, drip_interval: float = 1.0, lifetime_s: float = 900.0
) -> Iterator[HostileServer]:
    """The hostile endpoints on 127.0.0.1 (a free port), served from a thread. The server stops
    when the block ends, or after `lifetime_s` whatever happens."""
    state: dict[str, HostileServer] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            server = state["server"]
            path = self.path.split("?", 1)[0]
            server.hits[path] = server.hits.get(path, 0) + 1
            route = routes.get(path)
            try:
                if route is not None:
                    route(self)
                elif not _news_page(self, path):
                    _respond(self, 404, {"Content-Type": "text/plain"}, b"not found")
            except OSError:
                pass  # the client went away mid-answer: expected of a client with a deadline

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server = HostileServer(f"http://127.0.0.1:{httpd.server_address[1]}", full, drip_interval)
    state["server"] = server
    routes = _routes(server)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.2,), daemon=True)
    thread.start()
    timer = threading.Timer(lifetime_s, server.stop.set)
    timer.daemon = True
    timer.start()
    watcher = threading.Thread(target=lambda: (server.stop.wait(), httpd.shutdown()), daemon=True)
    watcher.start()
    try:
        yield server
    finally:
        timer.cancel()
        server.stop.set()
        watcher.join(10)
        httpd.server_close()

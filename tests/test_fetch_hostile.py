"""The fetcher against hostile servers on 127.0.0.1, written on raw sockets so that every byte
of the status line, the headers and the body is the test's choice (issue #17)."""

from __future__ import annotations

import dataclasses
import gzip
import re
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import pytest

from archivist.config import Limits
from archivist.errors import FetchError, InputTooLarge
from archivist.fetch import fetch

PAGE = b"<html><head><title>Harbour News</title></head><body><p>Ferry news.</p></body></html>"
FAST = dataclasses.replace(Limits(), fetch_deadline_s=1.5)
SERVER_THREAD = "hostile-server"

Handler = Callable[[socket.socket, str, threading.Event], None]


class RawServer:
    """Reads each request's head, then leaves the connection to `handler(conn, path, stop)`
    (at once, with no path, when `read_head` is false: a TLS client speaks first)."""

    def __init__(self, handler: Handler, read_head: bool = True) -> None:
        self.handler, self.read_head = handler, read_head
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.thread = threading.Thread(target=self._serve, name=SERVER_THREAD, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(
                target=self._answer, args=(conn,), name=SERVER_THREAD, daemon=True
            ).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b"GET  HTTP/1.1\r\n\r\n" if not self.read_head else b""
            try:
                while b"\r\n\r\n" not in head:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                self.handler(conn, head.split(b" ", 2)[1].decode(), self.stop)
            except OSError:  # the client went away: what a hostile server expects
                pass


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    servers: list[RawServer] = []

    def start(handler: Handler, read_head: bool = True) -> str:
        server = RawServer(handler, read_head)
        server.thread.start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop.set()
        server.thread.join()
        server.listener.close()


def drip(conn: socket.socket, data: bytes, stop: threading.Event, pause: float = 0.2) -> None:
    for byte in data:
        if stop.is_set():
            return
        conn.sendall(bytes([byte]))
        time.sleep(pause)


def answer(body: bytes, *headers: str, status: str = "200 OK") -> Handler:
    head = "".join(f"{h}\r\n" for h in (f"HTTP/1.1 {status}", *headers))
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"

    def handler(conn: socket.socket, path: str, stop: threading.Event) -> None:
        conn.sendall(head.encode("latin-1") + body)

    return handler


def new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.name != SERVER_THREAD and t.is_alive()
    ]


# -- 2. one deadline for the whole fetch -----------------------------------------------------


def drip_head(conn: socket.socket, path: str, stop: threading.Event) -> None:
    drip(conn, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000, stop)


def drip_sized_body(conn: socket.socket, path: str, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10000\r\n\r\n")
    drip(conn, b"<p>" + b"a" * 9_997, stop)


def drip_body_until_close(conn: socket.socket, path: str, stop: threading.Event) -> None:
    # no length: the body ends when the connection does, as when the watchdog closes it
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n")
    drip(conn, b"<p>" + b"a" * 9_997, stop)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("handler", [drip_head, drip_sized_body, drip_body_until_close])
def test_a_dripping_server_is_stopped_at_the_deadline(serve, handler):
    """A byte every 0.2 s never trips the 15 s read timeout; the 1.5 s deadline ends it."""
    url = serve(handler)
    before = set(threading.enumerate())
    with pytest.raises(FetchError) as caught:
        fetch(url + "/slow", FAST, allow_private=True)
    assert str(caught.value) == (
        f"{url}/slow: no complete answer within 1.5 s (ARCHIVIST_FETCH_DEADLINE_S); stopped"
    )
    assert new_threads(before) == []


def hold_silent(conn: socket.socket, path: str, stop: threading.Event) -> None:
    conn.settimeout(0.1)
    while not stop.is_set():
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue


@pytest.mark.timeout(10)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_silent_server_is_stopped_at_the_deadline(serve, scheme):
    """Silence lasts up to the 15 s read timeout (the request, or the TLS handshake, waits for
    an answer that never comes); the 1.5 s deadline ends it first."""
    url = serve(hold_silent, read_head=False).replace("http", scheme, 1)
    before = set(threading.enumerate())
    with pytest.raises(FetchError, match=r"no complete answer within 1\.5 s"):
        fetch(url + "/", FAST, allow_private=True)
    assert new_threads(before) == []


@pytest.mark.timeout(10)
def test_redirects_share_one_deadline(serve):
    """Each hop answers in 0.4 s, well within the read timeout; six of them pass 1.5 s."""

    def slow_redirect(conn: socket.socket, path: str, stop: threading.Event) -> None:
        time.sleep(0.4)
        answer(b"", f"Location: {path}x", status="302 Found")(conn, path, stop)

    url = serve(slow_redirect)
    with pytest.raises(FetchError, match="no complete answer within 1.5 s"):
        fetch(url + "/r", FAST, allow_private=True)


def test_a_prompt_fetch_leaves_no_thread_behind(serve):
    url = serve(answer(PAGE, "Content-Type: text/html"))
    before = set(threading.enumerate())
    assert fetch(url + "/", FAST, allow_private=True)[2] == PAGE
    assert new_threads(before) == []


# -- 1. compression: one layer, decoded a bounded step at a time ----------------------------


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(PAGE)),
        ("x-gzip", gzip.compress(PAGE)),
        ("deflate", zlib.compress(PAGE)),
        ("deflate", raw_deflate(PAGE)),
        ("identity", PAGE),
    ],
    ids=["gzip", "x-gzip", "zlib-deflate", "raw-deflate", "identity"],
)
def test_one_layer_of_gzip_or_deflate_is_decoded(serve, encoding, body):
    url = serve(answer(body, "Content-Type: text/html", f"Content-Encoding: {encoding}"))
    assert fetch(url + "/", allow_private=True) == (url + "/", "text/html", PAGE)


def test_gzip_trickling_a_byte_at_a_time_is_decoded(serve):
    body = gzip.compress(PAGE)

    def trickle(conn: socket.socket, path: str, stop: threading.Event) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
        conn.sendall(head.encode())
        drip(conn, body, stop, pause=0.001)

    url = serve(trickle)
    assert fetch(url + "/", allow_private=True)[2] == PAGE


@pytest.mark.parametrize(
    ("headers", "body", "named"),
    [
        (["Content-Encoding: gzip, gzip"], gzip.compress(gzip.compress(PAGE)), "gzip, gzip"),
        (
            ["Content-Encoding: gzip", "Content-Encoding: deflate"],
            zlib.compress(gzip.compress(PAGE)),
            "gzip, deflate",
        ),
        (["Content-Encoding: br"], PAGE, "encoding, br"),
        (["Content-Encoding: zstd"], PAGE, "encoding, zstd"),
        (["Content-Encoding: compress"], PAGE, "encoding, compress"),
        (["Content-Encoding: gzip, identity, br"], PAGE, "gzip, br"),
    ],
    ids=["gzip-gzip", "two-headers", "br", "zstd", "compress", "gzip-br"],
)
def test_stacked_and_unknown_encodings_are_refused(serve, headers, body, named):
    url = serve(answer(body, *headers))
    with pytest.raises(FetchError, match=re.escape(named)) as caught:
        fetch(url + "/", allow_private=True)
    assert "\n" not in str(caught.value) and "refused" in str(caught.value)


def test_corrupt_gzip_is_a_clear_error(serve):
    url = serve(answer(b"\x1f\x8b\x08\x00not gzip at all", "Content-Encoding: gzip"))
    with pytest.raises(FetchError, match="the page's gzip data is corrupt"):
        fetch(url + "/", allow_private=True)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """200 MB of zeros in about 200 KB of gzip."""
    packer = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush()


def test_a_gzip_bomb_stops_at_the_cap_in_bounded_memory(serve, bomb):
    """Each 64 KB read of this body unpacks to 64 MB: decoding a read in one go (httpx's
    iter_bytes) holds all of it before any cap is checked."""
    url = serve(answer(bomb, "Content-Encoding: gzip"))
    cap = 1_000_000
    with pytest.raises(InputTooLarge):  # once untraced: the modules it loads are no page
        fetch(url + "/", allow_private=True, max_bytes=cap)
    tracemalloc.start()
    try:
        with pytest.raises(InputTooLarge, match=r"over 1\.0 MB"):
            fetch(url + "/", allow_private=True, max_bytes=cap)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < cap + 2 * 1024 * 1024, peak


# -- 3. a malformed redirect target ----------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://[::1", "redirects to a malformed URL, http://[::1"),
        ("http://xn--/", "redirected to http://xn--/: not a valid URL"),
        ("http://exa mple.com/", "redirected to http://exa mple.com/: not a valid URL"),
    ],
)
def test_a_malformed_redirect_target_is_a_clear_error(serve, location, reason):
    url = serve(answer(b"", f"Location: {location}", status="302 Found"))
    with pytest.raises(FetchError, match=re.escape(reason)) as caught:
        fetch(url + "/moved", allow_private=True)
    assert caught.value.origin == url + "/moved" and "\n" not in str(caught.value)

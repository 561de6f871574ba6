"""The fetcher's guards against a hostile server or URL: one overall deadline, bounded
decompression, the check of an address, and a check of a URL's form before httpx, urllib or the
IDNA codec see it (each fails in its own way, with its own exception).
"""

from __future__ import annotations

import io
import ipaddress
import socket
import threading
import time
import zlib
from urllib.parse import urlsplit

from archivist.errors import FetchError, InputTooLarge

DEADLINE_SETTING = "ARCHIVIST_FETCH_DEADLINE_S"
# the most a single decompression step may produce: memory stays near the cap plus this
STEP = 64 * 1024
# Content-Encoding -> zlib's wbits (None: zlib or raw deflate, told apart by the first bytes)
_CODINGS: dict[str, int | None] = {
    "gzip": 16 + zlib.MAX_WBITS,
    "x-gzip": 16 + zlib.MAX_WBITS,
    "deflate": None,
}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class Watchdog:
    """Ends a fetch at its deadline, whatever the server does.

    A read timeout restarts with every byte, so a server dripping a byte a second never trips
    it; a check between chunks never runs while a read is blocked. Instead a timer shuts down
    every socket this fetch opened, which ends a blocked connect, TLS handshake or read at once.
    A duplicate of each socket is kept: TLS replaces the socket object httpcore holds, and the
    timer never touches the objects httpcore is using from the fetching thread.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self._timer.join()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    @property
    def expired(self) -> bool:
        return self._fired or time.monotonic() >= self._end

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down at the deadline (at once if it has passed)."""
        copy = sock.dup()
        with self._lock:
            self._sockets.append(copy)
            if self._fired:
                _shut(copy)

    def error(self, origin: str) -> FetchError:
        return FetchError(
            origin,
            f"no complete answer within {self.seconds:g} s ({DEADLINE_SETTING}); stopped",
            kind="timeout",
        )

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the peer
        pass


class BoundedBody:
    """A response body as it arrives, decoded here rather than by httpx so that no step of
    decompression produces more than STEP bytes or goes past `cap`, whatever the ratio: a few
    KB of gzip can unpack to gigabytes. Stacked (`gzip, gzip`) and unknown encodings are
    refused: a page is never more than one layer of gzip or deflate."""

    def __init__(self, origin: str, cap: int, content_encoding: str) -> None:
        self.origin, self.cap = origin, cap
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c not in ("", "identity")]
        named = shown_url(", ".join(codings), 60)
        if len(codings) > 1:
            raise FetchError(origin, f"the page is compressed more than once ({named}); refused")
        if codings and codings[0] not in _CODINGS:
            raise FetchError(origin, f"the page uses an unsupported encoding, {named}; refused")
        self.coding = codings[0] if codings else None
        self._decoder: zlib._Decompress | None = None
        self._head = b""  # deflate's first bytes until they tell zlib from raw deflate
        self._received = 0
        self._size = 0
        self._out = io.BytesIO()

    def add(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > self.cap:
            raise InputTooLarge(self.origin, f"the page is over {mb(self.cap)}; download stopped")
        if self.coding is None:
            self._keep(data)
            return
        if self._decoder is None:
            self._head += data
            self._decoder = self._start()
            if self._decoder is None:
                return
            data, self._head = self._head, b""
        try:
            self._inflate(self._decoder, data)
        except zlib.error:
            raise FetchError(self.origin, f"the page's {self.coding} data is corrupt") from None

    def value(self) -> bytes:
        # getvalue() hands over BytesIO's own buffer when it can: no second copy of the page
        return self._out.getvalue()

    def _start(self) -> zlib._Decompress | None:
        wbits = _CODINGS[self.coding or ""]
        if wbits is None:
            if len(self._head) < 2:
                return None
            # RFC 9110's deflate is zlib-wrapped, but some servers send raw deflate
            first, second = self._head[0], self._head[1]
            zlib_header = first & 0x0F == 8 and (first << 8 | second) % 31 == 0
            wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
        return zlib.decompressobj(wbits)

    def _inflate(self, decoder: zlib._Decompress, data: bytes) -> None:
        while not decoder.eof:  # anything after the end of the stream is ignored
            limit = min(STEP, self.cap - self._size + 1)
            out = decoder.decompress(data, limit)
            self._keep(out)
            data = decoder.unconsumed_tail
            # a full step may leave output inside zlib even once the input is all taken
            if not data and len(out) < limit:
                return

    def _keep(self, out: bytes) -> None:
        self._size += len(out)
        if self._size > self.cap:
            raise InputTooLarge(
                self.origin, f"the page is over {mb(self.cap)} once decompressed; download stopped"
            )
        self._out.write(out)


def address_problem(address: str) -> str | None:
    """Why an IP address may not be fetched from (None when it is a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour or _nat64(ip)
        if mapped is not None:
            return address_problem(str(mapped))
        if ip.teredo is not None:
            return address_problem(str(ip.teredo[1]))
        if ip.is_site_local:  # fec0::/10: deprecated, but still routed inside some networks
            return "site-local"
    for why, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return why
    if not ip.is_global:
        return "non-public"
    return None


def _nat64(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a NAT64 address (64:ff9b::/96) reaches: it is that address's check
    that counts (a DNS64 resolver gives such addresses for every IPv4-only site)."""
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def url_problem(url: str) -> str | None:
    """Why a URL is malformed (None when its form is fine; whether it may be fetched is
    checked afterwards)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return "not a valid URL: it contains a control character"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a valid URL: its host cannot be read"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "not a valid URL: the port is not a number from 1 to 65535"
    host = parts.hostname
    problem = host_problem(host, bracketed="[" in parts.netloc) if host else None
    return problem or _httpx_problem(url)


def _httpx_problem(url: str) -> str | None:
    """Whatever else httpx would refuse (`http://[::1]x/`, over-long parts ...)."""
    import httpx

    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        return "not a valid URL: it cannot be read as one"
    return None


def host_problem(host: str, bracketed: bool = False) -> str | None:
    """Why a URL's host (as urlsplit gives it: lower case, without brackets) is malformed."""
    import idna

    try:
        ipaddress.ip_address(host.split("%", 1)[0] if bracketed else host)
        return None
    except ValueError:
        if bracketed:
            return "not a valid URL: the host in brackets is not an IPv6 address"
    try:
        # httpx encodes a non-ASCII host with idna.encode, and decodes one starting xn--
        name = host if host.isascii() else idna.encode(host).decode("ascii")
        if name.startswith("xn--"):
            idna.decode(name)
    except (idna.IDNAError, UnicodeError):
        return "not a valid URL: the host is not a valid international domain name"
    name = name[:-1] if name.endswith(".") else name
    if len(name) > 253:
        return "not a valid URL: the host is longer than 253 characters"
    for label in name.split("."):
        if not label or len(label) > 63:
            return "not a valid URL: a part of the host is empty or longer than 63 characters"
        if not _HOST_CHARS.issuperset(label):
            return "not a valid URL: the host has a character host names cannot have"
        if label.startswith("xn--") and not _punycode_ok(label):
            return "not a valid URL: the host has a malformed xn-- part"
    return None


def _punycode_ok(label: str) -> bool:
    try:
        return bool(label[4:].encode("ascii").decode("punycode"))
    except UnicodeError:
        return False


def shown_url(url: str, limit: int = 200) -> str:
    """A URL as a one-line message may show it: control characters escaped, shortened."""
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in url)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"

"""Fetching a web page safely (`archivist ingest https://...`, `/upload url:`), with httpx.

* http and https only;
* only public addresses: the host is resolved and every address checked (private, loopback,
  link-local, multicast, reserved, unspecified, shared, IPv4-mapped IPv6 ...). The check is done
  where the connection is opened, on the very address connected to, so a host that resolves to a
  public address when checked and a private one when used (DNS rebinding) gains nothing;
* redirects followed by hand (at most 5), each target checked again;
* one overall deadline, `Limits.fetch_deadline_s` (30 s; ARCHIVIST_FETCH_DEADLINE_S), covers
  the whole fetch: every redirect, each connect, TLS handshake, the headers and the body. A
  watchdog shuts the fetch's sockets down when it passes, so a server sending a byte a second
  cannot hold a thread (name resolution is left to the system resolver's own timeouts). Within
  it, `fetch_timeout_s` bounds a connect and any silence while reading;
* a size cap: the body is streamed and the download stops at the cap, after decompression
  too: gzip or deflate is decoded here a bounded step at a time; stacked or unknown encodings
  are refused;
* a malformed URL (or redirect target) is a one-line FetchError, never a traceback;
* no proxy from the environment (it would hide the address actually reached).

`allow_private=True` lifts the address check: it exists for tests against a local server.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

from archivist.config import Limits
from archivist.errors import FetchError, InputTooLarge, ReadError
from archivist.fetch_guard import (
    BoundedBody,
    Watchdog,
    address_problem,
    mb,
    shown_url,
    url_problem,
)
from archivist.models import Article, ReadResult

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
USER_AGENT = "Archivist/0.1 (news archive for a Discord server)"

# content type -> a file name extension the readers know
_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".xhtml",
    "application/pdf": ".pdf",
    "application/json": ".json",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/zip": ".zip",
}


class _Refused(Exception):
    """Raised inside httpx: the address is not allowed, or a redirect's target is malformed."""

    @classmethod
    def address(cls, host: str, address: str, why: str) -> _Refused:
        return cls(f"{host} resolves to {address}, a {why} address; refused")


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _guarded_backend(allow_private: bool, watchdog: Watchdog) -> Any:
    import httpcore

    class GuardedBackend(httpcore.SyncBackend):
        """Connects only to checked addresses: the check and the connection use one address.
        Every socket is handed to the watchdog, and no connect outlasts the deadline."""

        def connect_tcp(  # type: ignore[override]
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> Any:
            addresses = resolve(host, port)
            if not allow_private:
                for address in addresses:
                    why = address_problem(address)
                    if why:
                        raise _Refused.address(host, address, why)
            error: Exception | None = None
            for address in addresses:
                left = watchdog.remaining()
                if not left:
                    raise httpcore.ConnectTimeout("the fetch deadline passed")
                try:
                    stream = super().connect_tcp(
                        address, port, min(timeout or left, left), local_address, socket_options
                    )
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    error = exc
                    continue
                watchdog.watch(stream.get_extra_info("socket"))
                return stream
            raise error or httpcore.ConnectError(f"no address for {host}")

    return GuardedBackend()


def _client(limits: Limits, allow_private: bool, watchdog: Watchdog) -> Any:
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; the pool is rebuilt with ours
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_guarded_backend(allow_private, watchdog),
        max_connections=4,
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(limits.fetch_timeout_s),
        follow_redirects=False,
        # httpx parses a redirect's Location even when not following it, and its errors for a
        # malformed one are no message for a user (or not even httpx errors: IDNAError)
        event_hooks={"response": [_redirect_target]},
        trust_env=False,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            # decoded by BoundedBody, a step at a time; httpx would also take br and zstd
            "Accept-Encoding": "gzip, deflate",
        },
    )


def _url_refusal(url: str, allow_private: bool) -> str | None:
    """Why a URL may not be fetched (None when it may)."""
    problem = url_problem(url)
    if problem:
        return problem
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"only http and https URLs are fetched, not {parts.scheme or 'this'!r}"
    if not parts.hostname:
        return "the URL has no host"
    if allow_private:
        return None
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        if parts.hostname.lower().rstrip(".") in ("localhost", "localhost.localdomain") or (
            parts.hostname.lower().endswith((".localhost", ".local", ".internal"))
        ):
            return f"{parts.hostname} is a local name; refused"
        return None
    why = address_problem(parts.hostname)
    return f"{parts.hostname} is a {why} address; refused" if why else None


def fetch(
    url: str,
    limits: Limits | None = None,
    *,
    allow_private: bool = False,
    max_bytes: int | None = None,
) -> tuple[str, str | None, bytes]:
    """GET a URL safely: (final URL, content type without parameters, body bytes).

    Every failure is a one-line FetchError (InputTooLarge over the cap) naming `url`."""
    import httpx

    limits = limits or Limits()
    cap = max_bytes if max_bytes is not None else limits.upload_max_bytes
    shown = shown_url(url)
    current = url.strip()
    with (
        Watchdog(limits.fetch_deadline_s) as watchdog,
        _client(limits, allow_private, watchdog) as client,
    ):
        for _ in range(MAX_REDIRECTS + 1):
            refusal = _url_refusal(current, allow_private)
            if refusal:
                hop = "" if current == url.strip() else f"redirected to {shown_url(current)}: "
                raise FetchError(shown, hop + refusal)
            try:
                with client.stream("GET", current) as response:
                    if not response.is_redirect:
                        return _read(response, shown, cap, watchdog)
                    current = _redirect_target(response)
            except (_Refused, httpx.HTTPError, httpx.InvalidURL, OSError, UnicodeError) as exc:
                raise _failure(exc, shown, limits, watchdog) from None
    raise FetchError(shown, f"more than {MAX_REDIRECTS} redirects")


def _redirect_target(response: Any) -> str:
    """Where a redirect leads (for other answers: their own URL)."""
    if not response.is_redirect:
        return str(response.url)
    location = response.headers.get("location", "").strip()
    if not location:
        raise _Refused(f"redirect without a target from {response.url}")
    try:
        target = urljoin(str(response.url), location)
    except ValueError:
        raise _Refused(
            f"{response.url} redirects to a malformed URL, {shown_url(location)}"
        ) from None
    problem = url_problem(target)
    if problem:
        raise _Refused(f"redirected to {shown_url(target)}: {problem}")
    return target


def _read(response: Any, shown: str, cap: int, watchdog: Watchdog) -> tuple[str, str | None, bytes]:
    if response.status_code >= 400:
        raise FetchError(
            shown,
            f"the server answered {response.status_code} {response.reason_phrase or ''}".rstrip(),
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise InputTooLarge(shown, f"the page is {mb(int(declared))}, over {mb(cap)}")
    body = BoundedBody(shown, cap, response.headers.get("content-encoding", ""))
    for chunk in response.iter_raw():
        body.add(chunk)
    # a body that ends with the connection would look complete once the watchdog closed it
    if watchdog.expired:
        raise watchdog.error(shown)
    content_type = response.headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower() or None
    return str(response.url), kind, body.value()


def _failure(exc: Exception, shown: str, limits: Limits, watchdog: Watchdog) -> FetchError:
    import httpx

    if watchdog.expired:
        return watchdog.error(shown)
    if isinstance(exc, _Refused):
        return FetchError(shown, str(exc))
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(shown, f"no answer within {limits.fetch_timeout_s:g} s", kind="timeout")
    return FetchError(shown, f"could not be fetched ({_describe(exc)})")


def read_url(url: str, limits: Limits | None = None, *, allow_private: bool = False) -> ReadResult:
    """Fetch a URL and read it as an article: as HTML, or by its content type (PDF, JSON ...).

    The article's `url` is the page's canonical URL when it declares one, else the URL it was
    finally fetched from; its `source` defaults to the site's name (or host name).
    """
    from archivist import sandbox
    from archivist.readers import _MODULES, extension_of, read_bytes

    limits = limits or Limits()
    final_url, content_type, data = fetch(url, limits, allow_private=allow_private)
    if not data.strip():
        raise ReadError(final_url, "the page is empty")
    extension = _TYPES.get(content_type or "")
    if extension is None:
        path_extension = extension_of(urlsplit(final_url).path)
        if path_extension in _MODULES:
            extension = path_extension
        elif data.lstrip()[:5] == b"%PDF-":
            extension = ".pdf"
        else:
            extension = ".html"
    if extension in (".html", ".xhtml"):
        article = sandbox.call(
            read_page, data, final_url, limits, origin=final_url, size=len(data), limits=limits
        )
        return ReadResult(articles=[(final_url, article)])
    result = read_bytes(f"{final_url}#{extension}", data, limits)
    host = urlsplit(final_url).hostname or ""
    host = host[4:] if host.startswith("www.") else host
    result.articles = [
        (origin, dataclasses.replace(a, url=a.url or final_url, source=a.source or host or None))
        for origin, a in result.articles
    ]
    return result


def read_page(data: bytes, url: str, limits: Limits) -> Article:
    """A fetched web page's article (run in a reader worker: `archivist.sandbox`)."""
    from archivist.readers.html import parse_html

    return parse_html(data, origin=url, url=url, limits=limits)


def _describe(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."

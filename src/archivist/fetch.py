"""Fetching a web page safely (`archivist ingest https://...`, `/upload url:`), with httpx.

* http and https only;
* only public addresses: the host is resolved and every address checked (private, loopback,
  link-local, multicast, reserved, unspecified, shared, IPv4-mapped IPv6 ...). The check is done
  where the connection is opened, on the very address connected to, so a host that resolves to a
  public address when checked and a private one when used (DNS rebinding) gains nothing;
* redirects followed by hand (at most 5), each target checked again;
* timeouts on connect and read, and an overall deadline;
* a size cap: the body is streamed and the download stops at the cap;
* no proxy from the environment (it would hide the address actually reached).

`allow_private=True` lifts the address check: it exists for tests against a local server.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import socket
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from archivist.config import Limits
from archivist.errors import FetchError, InputTooLarge, ReadError
from archivist.models import AddReport, ReadResult

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
USER_AGENT = "Archivist/0.1 (news archive for a Discord server)"
# the whole download, whatever the server's pace, ends after this many fetch timeouts
DEADLINE_TIMEOUTS = 3

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
    """Raised inside the connection layer: the address is not allowed."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {address}, a {why} address; refused")


def address_problem(address: str) -> str | None:
    """Why an IP address may not be fetched from (None when it is a public address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_problem(str(mapped))
        if ip.teredo is not None:
            return address_problem(str(ip.teredo[1]))
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


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _guarded_backend(allow_private: bool) -> Any:
    import httpcore

    class GuardedBackend(httpcore.SyncBackend):
        """Connects only to checked addresses: the check and the connection use one address."""

        def connect_tcp(  # type: ignore[override]
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> Any:
            addresses = _resolve(host, port)
            if not allow_private:
                for address in addresses:
                    why = address_problem(address)
                    if why:
                        raise _Refused(host, address, why)
            error: Exception | None = None
            for address in addresses:
                try:
                    return super().connect_tcp(
                        address, port, timeout, local_address, socket_options
                    )
                except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                    error = exc
            raise error or httpcore.ConnectError(f"no address for {host}")

    return GuardedBackend()


def _client(limits: Limits, allow_private: bool) -> Any:
    import httpcore
    import httpx

    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; the pool is rebuilt with ours
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_guarded_backend(allow_private),
        max_connections=4,
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(limits.fetch_timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )


def _check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(
            url, f"only http and https URLs are fetched, not {parts.scheme or 'this'!r}"
        )
    if not parts.hostname:
        raise FetchError(url, "the URL has no host")
    if allow_private:
        return
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        if parts.hostname.lower().rstrip(".") in ("localhost", "localhost.localdomain") or (
            parts.hostname.lower().endswith((".localhost", ".local", ".internal"))
        ):
            raise FetchError(url, f"{parts.hostname} is a local name; refused") from None
        return
    why = address_problem(parts.hostname)
    if why:
        raise FetchError(url, f"{parts.hostname} is a {why} address; refused")


def fetch(
    url: str,
    limits: Limits | None = None,
    *,
    allow_private: bool = False,
    max_bytes: int | None = None,
) -> tuple[str, str | None, bytes]:
    """GET a URL safely: (final URL, content type without parameters, body bytes)."""
    import httpx

    limits = limits or Limits()
    cap = max_bytes if max_bytes is not None else limits.upload_max_bytes
    deadline = time.monotonic() + DEADLINE_TIMEOUTS * limits.fetch_timeout_s
    current = url.strip()
    with _client(limits, allow_private) as client:
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(current, allow_private)
            try:
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError(url, f"redirect without a target from {current}")
                        current = urljoin(str(response.url), location.strip())
                        continue
                    if response.status_code >= 400:
                        raise FetchError(
                            url,
                            f"the server answered {response.status_code} "
                            f"{response.reason_phrase or ''}".rstrip(),
                        )
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > cap:
                        raise InputTooLarge(
                            url, f"the page is {_mb(int(declared))}, over {_mb(cap)}"
                        )
                    body = bytearray()
                    for chunk in response.iter_bytes(CHUNK):
                        body += chunk
                        if len(body) > cap:
                            raise InputTooLarge(
                                url, f"the page is over {_mb(cap)}; download stopped"
                            )
                        if time.monotonic() > deadline:
                            raise FetchError(url, "the download took too long; stopped")
                    content_type = response.headers.get("content-type", "")
                    kind = content_type.split(";", 1)[0].strip().lower() or None
                    return str(response.url), kind, bytes(body)
            except _Refused as exc:
                raise FetchError(url, str(exc)) from None
            except httpx.TimeoutException:
                raise FetchError(url, f"no answer within {limits.fetch_timeout_s:g} s") from None
            except httpx.HTTPError as exc:
                raise FetchError(url, f"could not be fetched ({_describe(exc)})") from None
            except OSError as exc:
                raise FetchError(url, f"could not be fetched ({exc})") from None
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")


def read_url(url: str, limits: Limits | None = None, *, allow_private: bool = False) -> ReadResult:
    """Fetch a URL and read it as an article: as HTML, or by its content type (PDF, JSON ...).

    The article's `url` is the page's canonical URL when it declares one, else the URL it was
    finally fetched from; its `source` defaults to the site's name (or host name).
    """
    from archivist.readers import _MODULES, extension_of, read_bytes
    from archivist.readers.html import parse_html

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
        article = parse_html(data, origin=final_url, url=final_url, limits=limits)
        return ReadResult(articles=[(final_url, article)])
    result = read_bytes(f"{final_url}#{extension}", data, limits)
    host = urlsplit(final_url).hostname or ""
    host = host[4:] if host.startswith("www.") else host
    result.articles = [
        (origin, dataclasses.replace(a, url=a.url or final_url, source=a.source or host or None))
        for origin, a in result.articles
    ]
    return result


def add_url(
    archive: Any,
    url: str,
    *,
    collection: str,
    source: str | None = None,
    added_by: str | None = None,
    allow_private: bool = False,
    progress: Any = None,
) -> AddReport:
    """Fetch a URL, read it and store its article(s) in `archive`; failures are in the report."""
    try:
        result = read_url(url, archive.limits, allow_private=allow_private)
    except ReadError as exc:
        return AddReport(failed=[{"path": url, "error": exc.reason}])
    return archive.add_read(
        result, collection=collection, source=source, added_by=added_by, progress=progress
    )


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _describe(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."

"""Safe URL fetching, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading

import pytest
from conftest import fake_model_archive

from archivist import fetch as fetch_module
from archivist.config import Limits
from archivist.errors import FetchError, InputTooLarge
from archivist.fetch import address_problem, fetch, read_url
from archivist.fetch_guard import url_problem

PAGE = (
    b"<html><head><title>Ferry timetable changes - Harbour News</title>"
    b'<meta property="og:site_name" content="Harbour News"></head><body><article>'
    b"<h1>Ferry timetable changes</h1>"
    b"<p>The evening ferry leaves half an hour earlier from June, the operator said on Friday, "
    b"citing lower demand after the summer season and the cost of the late crossing.</p>"
    b"<p>Passengers who booked the later crossing will be moved to the new time free of charge, "
    b"and season tickets stay valid for every sailing of the day.</p>"
    b"</article></body></html>"
)


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self):  # noqa: N802
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    Handler.routes = {
        "/article": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE),
        "/moved": (302, {"Location": "/article"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/to-private": (302, {"Location": f"http://127.0.0.2:{port}/article"}, b""),
        "/to-internal": (302, {"Location": f"http://internal.test:{port}/article"}, b""),
        "/to-ftp": (302, {"Location": "ftp://example.com/x"}, b""),
        "/big": (200, {"Content-Type": "text/html"}, b"<p>" + b"x" * 200_000 + b"</p>"),
        "/gone": (410, {}, b"gone"),
        "/report.json": (
            200,
            {"Content-Type": "application/json"},
            b'{"title": "Bridge reopens", "paragraphs": ["The bridge reopened on Sunday."]}',
        ),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    httpd.server_close()


def test_loopback_is_refused_by_default(server):
    with pytest.raises(FetchError, match="loopback"):
        fetch(server + "/article")


def test_local_page_is_read_with_the_test_flag(server):
    result = read_url(server + "/moved", allow_private=True)
    ((origin, article),) = result.articles
    assert origin == server + "/article"
    assert article.title == "Ferry timetable changes"
    assert article.source == "Harbour News"
    assert article.url == server + "/article"
    assert article.paragraphs[0].text.startswith("The evening ferry")


def test_content_type_chooses_the_reader(server):
    ((_, article),) = read_url(server + "/report.json", allow_private=True).articles
    assert article.title == "Bridge reopens"
    assert article.url == server + "/report.json"
    assert article.source == "127.0.0.1"


def test_size_cap_stops_the_download(server):
    with pytest.raises(InputTooLarge, match="over"):
        fetch(server + "/big", allow_private=True, max_bytes=50_000)


def test_http_errors_and_redirect_loops(server):
    with pytest.raises(FetchError, match="410"):
        fetch(server + "/gone", allow_private=True)
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(server + "/loop", allow_private=True)
    with pytest.raises(FetchError, match="only http and https"):
        fetch(server + "/to-ftp", allow_private=True)


def test_every_redirect_is_checked_again(server, monkeypatch):
    """The first hop passes as public; the redirect to a private address is refused."""
    real_problem = address_problem
    real_resolve = fetch_module.resolve
    monkeypatch.setattr(
        fetch_module,
        "address_problem",
        lambda address: None if address == "127.0.0.1" else real_problem(address),
    )
    monkeypatch.setattr(
        fetch_module,
        "resolve",
        lambda host, port: ["127.0.0.2"] if host == "internal.test" else real_resolve(host, port),
    )
    final_url, kind, data = fetch(server + "/moved")
    assert final_url.endswith("/article") and kind == "text/html" and data == PAGE
    with pytest.raises(FetchError, match="127.0.0.2 is a loopback address"):
        fetch(server + "/to-private")
    # a host name is checked on the address actually connected to
    with pytest.raises(FetchError, match="internal.test resolves to 127.0.0.2"):
        fetch(server + "/to-internal")


def test_names_that_resolve_privately_are_refused_at_connect(monkeypatch):
    monkeypatch.setattr(fetch_module, "resolve", lambda host, port: ["10.1.2.3"])
    with pytest.raises(FetchError, match="private"):
        fetch("http://intranet.example.com/", Limits(fetch_timeout_s=2))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("http://localhost/", "local name"),
        ("http://[::1]/", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "non-public"),
        ("http:///nohost", "no host"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[64:ff9b::a00:1]/", "private"),
    ],
)
def test_refused_urls(url, reason):
    with pytest.raises(FetchError, match=reason):
        fetch(url)


def test_public_addresses_pass_the_check():
    assert address_problem("93.184.216.34") is None
    assert address_problem("2606:2800:220:1:248:1893:25c8:1946") is None
    # NAT64 (what a DNS64 resolver gives for an IPv4-only site) is judged by the IPv4 inside
    assert address_problem("64:ff9b::5db8:d822") is None
    assert address_problem("2002:5db8:d822::1") is None  # 6to4 of a public address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("fec0::1", "site-local"),  # deprecated IPv6 site-local, fec0::/10
        ("feff:ffff::1", "site-local"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a00:1", "reserved"),  # local-use NAT64 prefix: it may lead anywhere
        ("100::1", "reserved"),  # discard-only
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::1", "loopback"),
        ("::10.0.0.1", "reserved"),  # deprecated IPv4-compatible
        ("::ffff:192.168.0.1", "private"),
        ("fd12:3456::1", "private"),
        ("fe80::1%eth0", "link-local"),
    ],
)
def test_odd_address_ranges_are_refused(address, reason):
    assert address_problem(address) == reason


MALFORMED = [
    "http://[::1",
    "http://[::1]x/",
    "http://[not-ipv6]/",
    "http://xn--/",
    "http://xn--a.xn--/",
    "http://exa mple.com/",
    "http://a..b/",
    "http://.example.com/",
    "http://" + "a" * 64 + ".example/",
    "http://" + ".".join(["abcdefgh"] * 40) + "/",
    "http://exa\nmple.com/",
    "http://example.com:99999/",
    "http://example.com:port/",
    "http://example.com:0/",
    "http://ex\u00adample.com/",
    "http://\u2603.net/",
    "http://bu\u0308cher\u200d.example/",
    "http://exa%20mple.com/",
]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_one_line_errors(url):
    with pytest.raises(FetchError, match="not a valid URL") as caught:
        fetch(url)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    # the URL is named, as written where it can be shown on one line
    assert message.startswith(url[:60] if url.isprintable() else "http://")


def test_malformed_url_checks_keep_good_ones():
    assert url_problem("http://xn--bcher-kva.example/") is None
    assert url_problem("http://b\u00fccher.example/") is None
    assert url_problem("https://a_b.example.com.:8443/path with space?q=\u00e9") is None
    assert url_problem("http://[2001:db8::1]:80/") is None


def test_cli_ingest_url_refuses_loopback_unless_allowed(server, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from archivist.cli import cli

    args = ["--data-dir", str(tmp_path), "ingest", server + "/article", "--json"]
    refused = CliRunner().invoke(cli, args, obj=fake_model_archive)
    assert refused.exit_code == 1
    [failure] = json.loads(refused.output)["failed"]
    assert failure["path"] == server + "/article" and "loopback" in failure["error"]

    monkeypatch.setenv("ARCHIVIST_ALLOW_PRIVATE_URLS", "1")
    stored = CliRunner().invoke(cli, args, obj=fake_model_archive)
    assert stored.exit_code == 0, stored.output
    assert len(json.loads(stored.output)["added"]) == 1


def test_cli_ingest_of_a_malformed_url_is_a_failure_not_a_traceback(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from archivist.cli import cli

    for url in ("http://[::1", "http://xn--/"):
        args = ["--data-dir", str(tmp_path), "ingest", url, "--json"]
        result = CliRunner().invoke(cli, args, obj=fake_model_archive)
        # a failure in the report and exit code 1, not an exception out of the command
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        [failure] = json.loads(result.output)["failed"]
        assert failure["path"] == url and failure["error"].startswith("not a valid URL")


def test_a_fetched_page_is_read_within_the_read_budget(server):
    """The page is parsed in a reader worker: over its memory budget, it is refused for that URL
    alone; within it, read as usual."""
    import dataclasses

    page = b"<html><body>" + b"<div><p>Some words of a paragraph.</p></div>" * 90_000 + b"</body>"
    Handler.routes["/heavy"] = (200, {"Content-Type": "text/html"}, page)
    tight = dataclasses.replace(Limits(), read_memory_mb=1)
    with pytest.raises(InputTooLarge) as caught:
        read_url(server + "/heavy", tight, allow_private=True)
    assert str(caught.value).startswith(server + "/heavy: reading needs more than")
    assert "ARCHIVIST_READ_MEMORY_MB" in str(caught.value)
    assert read_url(server + "/article", allow_private=True).articles


def test_archive_add_url_stores_the_page_or_reports_the_url(server, fake_archive):
    """`fetch` only reads; the archive stores what it read, or reports the URL as given."""
    refused = fake_archive.add_url(server + "/article", collection="g")
    (failure,) = refused.failed
    assert failure.path == server + "/article" and "loopback" in failure.error
    assert not refused.added and fake_archive.count(collection="g") == 0
    stored = fake_archive.add_url(
        server + "/moved", collection="g", source="Ferry desk", added_by="7", allow_private=True
    )
    (added,) = stored.added
    assert added.origin == server + "/article" and added.title == "Ferry timetable changes"
    article = fake_archive.get(added.id, collection="g")
    assert (article.source, article.added_by, article.url) == ("Ferry desk", "7", added.origin)

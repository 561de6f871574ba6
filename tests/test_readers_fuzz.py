"""Hostile variants of every format, built by structure (not only random bytes), never make a
reader, the feed parser or the fetcher do anything but return a bounded result or raise the
project's error: one line, starting with the input's name. Never another exception.

The budget is fixed for CI (`max_examples` per test; the whole file runs in about a minute on two
cores). Small limits (`FUZZ_LIMITS`) let small inputs go over them, so the bounds are tested too.
"""

from __future__ import annotations

import io
import json
import socket
import zipfile
from dataclasses import replace

import pytest
from hostile_corpus import (
    WORDS,
    PdfSpec,
    document_xml,
    docx_bytes,
    docx_replace,
    hostile_server,
    pdf_bytes,
    rss,
    text_content,
    zip_bytes,
)
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from archivist.config import Limits
from archivist.errors import ReadError
from archivist.feeds.parser import ParsedFeed, parse_feed, text_paragraphs
from archivist.fetch import fetch
from archivist.fetch_guard import shown_url
from archivist.models import ReadResult
from archivist.readers import read_bytes

# a runaway read is stopped by the read budget (FUZZ_LIMITS); this only bounds the worst case
pytestmark = pytest.mark.timeout(180)

FUZZ_LIMITS = replace(
    Limits(),
    max_articles_per_file=6,
    max_paragraphs_per_article=40,
    max_passages_per_article=8,
    max_zip_entries=8,
    max_zip_total_bytes=2 * 1024 * 1024,
    read_timeout_s=20.0,
    fetch_deadline_s=5.0,
    fetch_timeout_s=3.0,
)


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        # no shrinking: a failure is reported as found, within the budget (shrinking a nested
        # ZIP took minutes); run locally with phases including Phase.shrink to minimise it
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


def assert_one_line(name: str, message: str) -> None:
    assert message.startswith(name), message
    assert "\n" not in message and "Traceback" not in message, message


def check(name: str, data: bytes, limits: Limits = FUZZ_LIMITS) -> ReadResult | None:
    """The property every reader keeps, whatever `data` is."""
    try:
        result = read_bytes(name, data, limits)
    except ReadError as exc:
        assert_one_line(name, str(exc))
        return None
    assert isinstance(result, ReadResult)
    assert len(result.articles) <= limits.max_articles_per_file, len(result.articles)
    for origin, article in result.articles:
        assert origin.startswith(name)
        assert article.title and article.paragraphs
        assert len(article.paragraphs) <= limits.max_paragraphs_per_article
    for failure in result.failures + result.skipped:
        assert_one_line(name, f"{failure.origin}: {failure.error}")
    return result


# ---- random bytes (the formats' own parsers on noise) -------------------------------------------
@fuzz(20)
@given(st.binary(max_size=4096))
def test_html_random_bytes(data):
    check("fuzz.html", data)


@fuzz(40)
@given(st.binary(max_size=4096))
def test_pdf_random_bytes(data):
    check("fuzz.pdf", data)


@fuzz(40)
@given(st.binary(max_size=2048))
def test_pdf_random_bytes_after_a_header(data):
    check("fuzz.pdf", b"%PDF-1.4\n" + data)


@fuzz(30)
@given(st.binary(max_size=4096))
def test_docx_random_bytes(data):
    check("fuzz.docx", data)


@fuzz(30)
@given(st.binary(max_size=4096))
def test_zip_random_bytes(data):
    check("fuzz.zip", data)


# ---- text: the news-desk layout, bent ------------------------------------------------------------
odd_chars = st.sampled_from(
    ["\x00", "\r", "\x0b", "\x1b", "\u2028", "\ufeff", "\ud7ff", "\U0001f600", "\u202e", "̈", "。"]
)
word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=12), odd_chars)
words = st.lists(word, min_size=1, max_size=30).map(" ".join)
layout_line = st.one_of(
    words,
    words.map(lambda w: w.capitalize() + "."),
    st.builds("{}: {}".format, st.sampled_from(["Harbour", "Politik", "Sport"]), words),
    words.map(lambda w: f"{w}. photo"),
    words.map(lambda w: f"© {w}"),
    st.sampled_from(["dpa", "AFP", "source Harbour Gazette", "source:", "date: 2024-05-06"]),
    words.map(lambda w: f"# {w}"),
    words.map(lambda w: f"- {w}"),
    words.map(lambda w: f"“{w}”"),
    st.integers(1, 20_000).map(lambda n: "A. " * n),
    st.integers(1, 3_000).map(lambda n: "word " * n),
    st.just(""),
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", "latin-1"])


@st.composite
def news_desk_text(draw) -> bytes:
    lines = draw(st.lists(layout_line, min_size=1, max_size=60))
    separator = draw(st.sampled_from(["\n", "\n\n", "\r\n", "\r", "\n \n"]))
    text = separator.join(lines)
    return text.encode(draw(encodings), "replace")


@fuzz(60)
@given(news_desk_text(), st.sampled_from(["fuzz.txt", "fuzz.md"]))
def test_text_variants(data, name):
    check(name, data)


@fuzz(25)
@given(news_desk_text())
def test_text_variants_store_bounded_passages(fake_archive, data):
    fake_archive.limits = FUZZ_LIMITS
    report = fake_archive.add_bytes("fuzz.txt", data, collection="fuzz")
    for failure in report.failed:
        assert_one_line("fuzz.txt", f"{failure.path}: {failure.error}")
    for item in report.added:
        stored = fake_archive.get(item.id, collection="fuzz")
        assert stored.passage_count <= FUZZ_LIMITS.max_passages_per_article


# ---- JSON and JSON Lines: odd types and depths ---------------------------------------------------
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**40, max_value=10**60),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    words,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_value = st.one_of(json_value, words, st.lists(st.one_of(words, json_value), max_size=50))
record = st.fixed_dictionaries(
    {},
    optional={
        "title": field_value,
        "paragraphs": st.one_of(
            st.lists(words, max_size=60),
            st.lists(st.fixed_dictionaries({"text": words}, optional={"heading": words})),
            field_value,
        ),
        "text": field_value,
        "id": field_value,
        "date": st.one_of(st.just("2024-05-06"), field_value),
        "url": st.one_of(st.sampled_from(["http://xn--/", "http://[::1", "javascript:x"]), words),
        "source": field_value,
        "category": field_value,
    },
)
bad_line = st.one_of(
    st.integers(1, 120_000).map(lambda n: "[" * n),
    st.integers(4_000, 6_000).map(lambda n: "1" * n),
    st.text(max_size=50),
    st.just('{"title": "unterminated'),
)


@fuzz(40)
@given(
    st.one_of(
        record,
        st.lists(record, max_size=10),
        st.fixed_dictionaries({"articles": st.lists(record, max_size=10)}),
        json_value,
    )
)
def test_json_variants(value):
    check("fuzz.json", json.dumps(value).encode())


@fuzz(40)
@given(st.lists(st.one_of(record.map(json.dumps), bad_line, st.just("")), max_size=15))
def test_jsonl_variants(lines):
    check("fuzz.jsonl", "\n".join(lines).encode())


# ---- HTML: tag soups -----------------------------------------------------------------------------
TAGS = [
    "div", "p", "article", "main", "section", "h1", "h2", "span", "a", "table", "tr", "td", "ul",
    "li", "script", "style", "noscript", "template", "svg", "math", "iframe", "title", "head",
    "body", "html", "br", "img", "meta", "link", "form", "textarea", "pre", "figure",
]  # fmt: skip
attribute = st.one_of(
    st.sampled_from(
        [
            ' property="og:title" content="A title"',
            ' rel="alternate" type="application/rss+xml" href="/feed"',
            ' rel="canonical" href="http://xn--/"',
            ' href="javascript:alert(1)"',
            ' class="article-body"',
            " hidden",
            ' style="display:none"',
            ' lang="zh"',
            " x=",
            ' y="unclosed',
        ]
    ),
    st.text(max_size=12).map(lambda t: f' data-x="{t}"'),
)
html_text = st.one_of(
    words,
    st.sampled_from(["&amp;", "&#0;", "&#x110000;", "&#99999999999;", "&bogus;", "&", "<", "]]>"]),
    st.just("<!-- a comment"),
    st.just("<![CDATA[ x ]]>"),
)


def element(children):
    return st.builds(
        lambda tag, attrs, kids, closed: (
            f"<{tag}{''.join(attrs)}>{''.join(kids)}" + (f"</{tag}>" if closed else "")
        ),
        st.sampled_from(TAGS),
        st.lists(attribute, max_size=3),
        st.lists(children, max_size=5),
        st.booleans(),
    )


html_tree = st.recursive(html_text, element, max_leaves=40)


@st.composite
def html_soup(draw) -> bytes:
    prefix = draw(st.sampled_from(["", "<!doctype html>", '<?xml version="1.0"?>', "\ufeff"]))
    nesting = draw(st.integers(0, 400))
    body = draw(st.lists(html_tree, min_size=1, max_size=8))
    page = prefix + "<div>" * nesting + "".join(body) + "</div>" * draw(st.integers(0, nesting))
    return page.encode(draw(st.sampled_from(["utf-8", "utf-16", "cp1252"])), "replace")


@fuzz(25)
@given(html_soup())
def test_html_soups(data):
    check("fuzz.html", data)


# ---- ZIP archives of all of the above ------------------------------------------------------------
entry_name = st.one_of(
    st.sampled_from(
        [
            "a.txt", "b.md", "c.json", "d.jsonl", "e.html", "f.pdf", "g.docx", "h.zip", "README",
            "../../x.txt", "/abs.txt", "__MACOSX/._a.txt", ".DS_Store", "dir/", "ü.txt", "a.TXT",
        ]
    ),
    st.text(min_size=1, max_size=20).filter(lambda n: "\x00" not in n),
)  # fmt: skip
entry_data = st.one_of(
    news_desk_text(),
    html_soup(),
    record.map(lambda r: json.dumps(r).encode()),
    st.lists(record, max_size=8).map(lambda rs: json.dumps(rs).encode()),
    st.binary(max_size=300),
)
GOOD_RECORD = {"title": "A title", "paragraphs": ["A paragraph of plain text."]}
# each entry within the limit on articles, all of them together over it
MANY_ARTICLES_ZIP = zip_bytes(
    {
        f"part{n}.json": json.dumps(
            [
                {**GOOD_RECORD, "title": f"Article {n}.{i}"}
                for i in range(FUZZ_LIMITS.max_articles_per_file)
            ]
        ).encode()
        for n in range(3)
    }
)


@st.composite
def zip_variant(draw, depth: int = 0) -> bytes:
    entries = draw(st.dictionaries(entry_name, entry_data, max_size=6))
    if depth < 3 and draw(st.booleans()):
        entries[f"nested{depth}.zip"] = draw(zip_variant(depth + 1))
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    data = bytearray(zip_bytes(entries, method))
    for _ in range(draw(st.integers(0, 2))):
        # a header that lies: bytes of the local or central headers overwritten
        if data:
            at = draw(st.integers(0, len(data) - 1))
            data[at : at + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


@fuzz(20)
@example(MANY_ARTICLES_ZIP)
@given(zip_variant())
def test_zip_variants(data):
    check("fuzz.zip", data)


@fuzz(20)
@example({"line\nbreak": b"A title"})  # found by this test: an error of two lines
@given(
    st.dictionaries(
        # (the stdlib's writer cuts names at a NUL; the reader's handling of NULs is fuzzed above)
        st.text(
            st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
            min_size=1,
            max_size=20,
        ),
        st.binary(max_size=512),
        max_size=5,
    )
)
def test_zip_random_entries(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    check("fuzz.zip", buffer.getvalue())


# ---- Word documents: python-docx, then mutated ---------------------------------------------------
docx_run = st.one_of(
    words.map(lambda w: f"<w:r><w:t>{w.replace('&', '').replace('<', '')}</w:t></w:r>"),
    st.just("<w:r><w:t>&#x110000;</w:t></w:r>"),
    st.just('<w:r><w:t xml:space="preserve">  </w:t></w:r>'),
    st.just("<w:r><w:tab/><w:br/></w:r>"),
    st.just('<w:pPr><w:pStyle w:val="Heading1"/></w:pPr>'),
    st.just('<w:pPr><w:pStyle w:val="NoSuchStyle"/></w:pPr>'),
)
docx_block = st.one_of(
    st.lists(docx_run, max_size=6).map(lambda runs: f"<w:p>{''.join(runs)}</w:p>"),
    st.lists(docx_run, max_size=3).map(
        lambda runs: f"<w:tbl><w:tr><w:tc><w:p>{''.join(runs)}</w:p></w:tc></w:tr></w:tbl>"
    ),
    st.integers(1, 2_000).map(lambda n: "<w:p>" * n + "x" + "</w:p>" * n),
    st.just("<w:p><w:r>"),  # unclosed
)


@st.composite
def docx_variant(draw) -> bytes:
    # python-docx itself refuses control characters: the mutations below bring them in
    plain = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
    base = docx_bytes(draw(plain), draw(st.lists(plain, max_size=6)))
    mutation = draw(st.sampled_from(["none", "body", "drop", "truncate", "bytes"]))
    if mutation == "body":
        body = "".join(draw(st.lists(docx_block, max_size=12)))
        return docx_replace(base, {"word/document.xml": document_xml(body)})
    if mutation == "drop":
        part = draw(st.sampled_from(["word/styles.xml", "[Content_Types].xml", "_rels/.rels"]))
        source = zipfile.ZipFile(io.BytesIO(base))
        kept = {i.filename: source.read(i) for i in source.infolist() if i.filename != part}
        return zip_bytes(kept)
    if mutation == "truncate":
        return base[: draw(st.integers(0, len(base)))]
    if mutation == "bytes":
        data = bytearray(base)
        at = draw(st.integers(0, len(data) - 1))
        data[at : at + 8] = draw(st.binary(min_size=1, max_size=8))
        return bytes(data)
    return base


@fuzz(30)
@given(docx_variant())
def test_docx_variants(data):
    check("fuzz.docx", data)


# ---- PDF: built, then byte-mutated ---------------------------------------------------------------
pdf_line = st.one_of(words, st.just(""), st.text(max_size=30))


@st.composite
def pdf_variant(draw) -> bytes:
    pages = draw(
        st.lists(st.lists(pdf_line, max_size=40).map(text_content), min_size=1, max_size=4)
    )
    spec = PdfSpec(
        pages=pages,
        title=draw(st.one_of(st.none(), words, st.just("Microsoft Word - draft.docx"))),
        compress=draw(st.booleans()),
        shared=draw(st.booleans()),
    )
    data = pdf_bytes(spec)
    if draw(st.booleans()):
        data = pypdf_rewritten(data)
    mutation = draw(st.sampled_from(["none", "overwrite", "truncate", "duplicate", "numbers"]))
    if mutation == "overwrite":
        at = draw(st.integers(0, len(data) - 1))
        noise = draw(st.binary(min_size=1, max_size=16))
        data = data[:at] + noise + data[at + len(noise) :]
    elif mutation == "truncate":
        data = data[: draw(st.integers(9, len(data)))]
    elif mutation == "duplicate":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + data[at : at + 200] * draw(st.integers(2, 20)) + data[at:]
    elif mutation == "numbers":
        target = draw(st.sampled_from([b"/Count ", b"/Length ", b"0 R", b"startxref\n"]))
        number = str(draw(st.sampled_from([-1, 0, 2**31, 10**12, 99999]))).encode()
        data = data.replace(target, target + number + b" ", 1)
    return data


def pypdf_rewritten(data: bytes) -> bytes:
    """The same document as pypdf's writer lays it out (object streams, compressed xref)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.compress_identical_objects()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@fuzz(40)
@given(pdf_variant())
def test_pdf_variants(data):
    check("fuzz.pdf", data)


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

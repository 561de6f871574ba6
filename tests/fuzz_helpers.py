"""What the fuzz tests of the readers (tests/test_readers_fuzz*.py) share: the small limits,
the budget per test, the property every reader keeps (`check`), and the strategies for text,
JSON and HTML (the ZIP variants draw their entries from them)."""

from __future__ import annotations

from dataclasses import replace

from hostile_corpus import WORDS
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from archivist.config import Limits
from archivist.errors import ReadError
from archivist.models import ReadResult
from archivist.readers import read_bytes

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

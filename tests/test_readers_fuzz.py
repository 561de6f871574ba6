"""Hostile variants of every format, built by structure (not only random bytes), never make a
reader, the feed parser or the fetcher do anything but return a bounded result or raise the
project's error: one line, starting with the input's name. Never another exception.

Here: random bytes, text, JSON and HTML; ZIP, Word and PDF in test_readers_fuzz_binary.py, feeds
and URLs in test_readers_fuzz_web.py. The budget is fixed for CI (`max_examples` per test; the
three files run in about a minute on two cores). Small limits (`FUZZ_LIMITS`) let small inputs
go over them, so the bounds are tested too.
"""

from __future__ import annotations

import json

import pytest
from fuzz_helpers import (
    FUZZ_LIMITS,
    assert_one_line,
    bad_line,
    check,
    fuzz,
    html_soup,
    json_value,
    news_desk_text,
    record,
)
from hypothesis import given
from hypothesis import strategies as st

# a runaway read is stopped by the read budget (FUZZ_LIMITS); this only bounds the worst case
pytestmark = pytest.mark.timeout(180)


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


@fuzz(25)
@given(html_soup())
def test_html_soups(data):
    check("fuzz.html", data)

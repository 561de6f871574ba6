"""Hostile inputs for every reader and for the fetcher (issue #17), made as bytes at run time:
nothing binary is committed. This module is the corpus's one name for its importers; the inputs
live by kind in `hostile_blocks` (outcomes, zeros, text, Word), `hostile_pdf`, `hostile_files`,
`hostile_feeds` and `hostile_urls`.

* `file_case(name, full)` / `file_cases(full)`: files for `Archive.add_bytes`;
* `feed_case(name)` / `feed_cases()`: RSS and Atom for `parse_feed` and for polls;
* `hostile_server()`: a server on 127.0.0.1 with the fetcher's hostile endpoints (compression
  bombs, drips, redirect loops, bad redirect targets) and the feeds, and `URLS`.

`full=True` gives the sizes the issue measured (for `benchmarks/hostile.py`); the tests use
smaller ones where the size only adds time. Every input says what is expected of it (`Expect`).
"""

from __future__ import annotations

from hostile_blocks import (
    EITHER,
    MB,
    PARTIAL,
    READ,
    REFUSED,
    W_NS,
    WORDS,
    Case,
    Expect,
    document_xml,
    docx_bytes,
    docx_paragraph,
    docx_replace,
    gzip_zeros,
    news_text,
    paragraph,
    seeded,
    sentence,
    zip_bytes,
    zip_of_zeros,
)
from hostile_feeds import FEEDS, article_page, feed_case, feed_cases, rss
from hostile_files import FILES, discovery_page, file_case, file_cases
from hostile_pdf import PdfSpec, aes128_block, aes128_cbc, pdf_bytes, pdf_escape, text_content
from hostile_urls import URLS, HostileServer, UrlCase, brotli_stored, hostile_server

# every public name of the parts, for `from hostile_corpus import …` and `hc.name`
__all__ = [
    "READ",
    "REFUSED",
    "PARTIAL",
    "EITHER",
    "Expect",
    "Case",
    "MB",
    "zip_bytes",
    "gzip_zeros",
    "zip_of_zeros",
    "seeded",
    "WORDS",
    "sentence",
    "paragraph",
    "news_text",
    "W_NS",
    "docx_bytes",
    "docx_replace",
    "document_xml",
    "docx_paragraph",
    "pdf_escape",
    "text_content",
    "PdfSpec",
    "pdf_bytes",
    "aes128_block",
    "aes128_cbc",
    "discovery_page",
    "FILES",
    "file_case",
    "file_cases",
    "article_page",
    "rss",
    "FEEDS",
    "feed_case",
    "feed_cases",
    "brotli_stored",
    "UrlCase",
    "URLS",
    "HostileServer",
    "hostile_server",
]

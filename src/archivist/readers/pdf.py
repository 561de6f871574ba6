"""PDF documents (`.pdf`), with pypdf.

pypdf gives the text of each page as lines, with where each line stands on the page. Paragraphs
are rebuilt from them: a word hyphenated across a line end is joined, the lines of a paragraph
are joined, and a paragraph ends where the gap to the next line is clearly wider than the page's
line spacing, at a blank line, or at a short line that ends a sentence. Lines repeated at the
top or bottom of most pages (running headers, footers, page numbers) are dropped. A short line
without final punctuation standing between paragraphs is a sub-heading. The title comes from the
document's metadata, or else from its first heading-like line.

A PDF without a text layer (a scan) is refused with that reason: OCR is not done here. A PDF
encrypted with an empty user password (one that only restricts printing or copying) is read; one
that needs a password is refused with that reason.

The work grows with the file's size, so a small hostile file cannot make a lot of it (a "PDF
bomb": one small compressed content stream drawn on every page). The pages, the bytes of content
streams parsed, the operations run and the characters of text extracted each have a budget
checked as pypdf goes (through its visitor callbacks), and pypdf's own limits (the bytes a stream
may inflate to, the items a content stream may parse to) are lowered. Going over any of them
refuses the file with the limit named. Rebuilding paragraphs is linear in the lines.

This module is the entry (the Article from the pages); `pdf_pages` reads the pages with pypdf,
`pdf_paragraphs` rebuilds the paragraphs, `pdf_limits` holds the budgets.
"""

from __future__ import annotations

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.models import Article, Paragraph, ReadResult
from archivist.readers.pdf_limits import (
    CONTENT_PER_BYTE,
    MAX_CONTENT_BYTES,
    MAX_OPERATIONS,
    MAX_PAGE_CHARS,
    MAX_PAGES,
    MAX_STREAM_BYTES,
    MAX_STREAM_ITEMS,
    MAX_TEXT_CHARS,
    MAX_XOBJECTS,
    MIN_CONTENT_BYTES,
    MIN_OPERATIONS,
    MIN_TEXT_CHARS,
    OPERATIONS_PER_BYTE,
    TEXT_PER_BYTE,
)
from archivist.readers.pdf_pages import PARAGRAPH_GAP, page_texts
from archivist.readers.pdf_paragraphs import (
    EDGE_LINES,
    MAX_HEADING_CHARS,
    MAX_HEADING_WORDS,
    MAX_MASKED_EDGE_CHARS,
    REPEATED_SHARE,
    SHORT_LINE_SHARE,
    blocks_of,
    drop_running_lines,
    is_heading_like,
    lines_of,
)

__all__ = [
    "CONTENT_PER_BYTE",
    "EDGE_LINES",
    "EXTENSIONS",
    "MAX_CONTENT_BYTES",
    "MAX_HEADING_CHARS",
    "MAX_HEADING_WORDS",
    "MAX_MASKED_EDGE_CHARS",
    "MAX_OPERATIONS",
    "MAX_PAGE_CHARS",
    "MAX_PAGES",
    "MAX_STREAM_BYTES",
    "MAX_STREAM_ITEMS",
    "MAX_TEXT_CHARS",
    "MAX_XOBJECTS",
    "MIN_CONTENT_BYTES",
    "MIN_OPERATIONS",
    "MIN_TEXT_CHARS",
    "OPERATIONS_PER_BYTE",
    "PARAGRAPH_GAP",
    "REPEATED_SHARE",
    "SHORT_LINE_SHARE",
    "TEXT_PER_BYTE",
    "parse_pdf",
    "read",
]

EXTENSIONS = (".pdf",)


def read(origin: str, data: bytes, limits: Limits) -> ReadResult:
    return ReadResult(articles=[(origin, parse_pdf(data, origin=origin, limits=limits))])


def parse_pdf(data: bytes, *, origin: str, limits: Limits | None = None) -> Article:
    limits = limits or Limits()
    pages, metadata_title = page_texts(data, origin)
    page_lines = [lines_of(text) for text in pages]
    if not any(page_lines):
        raise ReadError(
            origin,
            f"the PDF has no text layer ({len(pages)} page(s) of images, probably a scan); "
            "run OCR on it first",
        )
    page_lines = drop_running_lines(page_lines)
    blocks = blocks_of(page_lines)
    if not blocks:
        raise ReadError(origin, "no text found in the PDF besides headers and footers")

    title = metadata_title
    if title is None and (blocks[0][1] or is_heading_like(blocks[0][0])):
        title = blocks.pop(0)[0]
    paragraphs: list[Paragraph] = []
    heading: str | None = None
    for text, is_heading in blocks:
        if is_heading:
            if not (title is not None and text == title and not paragraphs):
                heading = text  # (the title printed on the first page is not a heading)
            continue
        paragraphs.append(Paragraph(text=text, heading=heading))
    if not paragraphs:
        raise ReadError(origin, "no paragraphs found in the PDF (only headings)")
    if len(paragraphs) > limits.max_paragraphs_per_article:
        raise InputTooLarge(
            origin,
            f"{len(paragraphs)} paragraphs, over the limit of {limits.max_paragraphs_per_article}",
        )
    if title is None:
        words = paragraphs[0].text.split()
        title = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
    return Article(title=title, paragraphs=tuple(paragraphs))

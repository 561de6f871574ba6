"""Paragraphs rebuilt from a PDF's lines, linear in the lines.

A word hyphenated across a line end is joined, the lines of a paragraph are joined, and a
paragraph ends at a blank line (where `pdf_pages` saw a wide gap) or at a short line that ends a
sentence. Lines repeated at the top or bottom of most pages (running headers, footers, page
numbers) are dropped. A short line without final punctuation standing between paragraphs is a
sub-heading.
"""

from __future__ import annotations

import re
from collections import Counter

# a line shorter than this share of the page's usual line length, ending a sentence, ends its
# paragraph
SHORT_LINE_SHARE = 0.75
MAX_HEADING_WORDS = 14
MAX_HEADING_CHARS = 120
# a line is a running header or footer when it repeats at a page's edge on this share of pages
REPEATED_SHARE = 0.6
EDGE_LINES = 2
MAX_MASKED_EDGE_CHARS = 60

_SENTENCE_END = re.compile(r"[.!?:;…\"”’)\]]$")
_FINAL_PUNCT = re.compile(r"[.!?,;:…]$")
_HYPHEN_END = re.compile(r"\w-$")
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE
)


def lines_of(text: str) -> list[str]:
    """A page's text as lines of single-spaced words, a blank line ("") between paragraphs."""
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    # keep blank lines (as "") as paragraph breaks, but never two in a row
    lines: list[str] = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _edge_key(line: str) -> str:
    # page numbers inside a short running line ("Annual report - page 3") are masked
    key = line.casefold()
    return _DIGITS.sub("#", key) if len(line) <= MAX_MASKED_EDGE_CHARS else key


def drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Drop page numbers, and lines repeated at the top or bottom of most pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        text_lines = [line for line in lines if line]
        edges = set(text_lines[:EDGE_LINES] + text_lines[-EDGE_LINES:])
        counts.update({_edge_key(line) for line in edges})
    with_text = sum(1 for lines in pages if lines)
    repeated = (
        {key for key, n in counts.items() if n >= max(2, REPEATED_SHARE * with_text)}
        if with_text >= 2
        else set()
    )
    cleaned = []
    for lines in pages:
        line_indexes = [i for i, line in enumerate(lines) if line]
        edge_indexes = set(line_indexes[:EDGE_LINES] + line_indexes[-EDGE_LINES:])
        cleaned.append(
            [
                line
                for i, line in enumerate(lines)
                if not (
                    i in edge_indexes and (_edge_key(line) in repeated or _PAGE_NUMBER.match(line))
                )
            ]
        )
    return cleaned


def blocks_of(pages: list[list[str]]) -> list[tuple[str, bool]]:
    """Join lines into paragraphs, across page breaks: [(text, is_heading), ...].

    Linear in the lines: a paragraph is kept as its lines (joined once, when it ends), and only
    its last characters are looked at."""
    lengths = sorted(len(line) for lines in pages for line in lines if line)
    typical = lengths[int(len(lengths) * 0.8)] if lengths else 0
    all_lines = [line for lines in pages for line in lines]
    next_is_upper = _next_text_line_is_upper(all_lines)
    blocks: list[tuple[str, bool]] = []
    parts: list[str] = []  # the paragraph so far: its lines, with the spaces between them

    def flush() -> None:
        text = "".join(parts).strip()
        if text:
            blocks.append((text, False))
        parts.clear()

    for index, line in enumerate(all_lines):
        if not line:
            flush()
            continue
        short = bool(typical) and len(line) < SHORT_LINE_SHARE * typical
        tail = _tail(parts)
        after_sentence = not parts or bool(_SENTENCE_END.search(tail))
        if after_sentence and short and is_heading_like(line) and next_is_upper[index]:
            flush()
            blocks.append((line, True))
            continue
        if parts and _HYPHEN_END.search(tail) and line[:1].islower():
            parts[-1] = parts[-1][:-1]  # "extrac-" + "tion" -> "extraction"
        elif parts:
            parts.append(" ")
        parts.append(line)
        if short and _SENTENCE_END.search(line[-2:]) and not _HYPHEN_END.search(line[-2:]):
            flush()
    flush()
    return blocks


def _next_text_line_is_upper(lines: list[str]) -> list[bool]:
    """For each line: does the next non-blank line after it start with a capital?"""
    out = [False] * len(lines)
    upper = False
    for index in range(len(lines) - 1, -1, -1):
        out[index] = upper
        if lines[index]:
            upper = lines[index][:1].isupper()
    return out


def _tail(parts: list[str]) -> str:
    """The last two characters of the paragraph so far (its parts are never empty)."""
    if not parts:
        return ""
    tail = parts[-1][-2:]
    if len(tail) < 2 and len(parts) > 1:
        tail = parts[-2][-1:] + tail
    return tail


def is_heading_like(text: str) -> bool:
    """Short, capitalised or numbered, and without final punctuation."""
    if not text or len(text) > MAX_HEADING_CHARS or len(text.split()) > MAX_HEADING_WORDS:
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    return not _FINAL_PUNCT.search(text)

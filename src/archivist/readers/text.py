"""Plain-text articles (`.txt`, `.md`).

Two layouts are read:

* the simple one (BBC): the title on the first line, a blank line, paragraphs separated by blank
  lines;
* the news-desk layout users upload (see `shared/seeds/`): ``Kicker: Headline`` on the first line,
  the kicker alone and the headline again, a photo caption ending in "photo", a credit starting
  with "©", a teaser, paragraphs with sub-headings, the agency ("dpa") and a last line
  ``source NAME``.

Captions, credits, the agency and the source line are metadata, never passages. Sub-headings
(a short line without final punctuation, or a quoted line, standing between paragraphs) become
the heading of the paragraphs that follow.
"""

from __future__ import annotations

import re

from archivist.config import Limits
from archivist.errors import ReadError
from archivist.models import Article, Paragraph, ReadResult
from archivist.readers.decode import collapse_space, decode_text, looks_binary

EXTENSIONS = (".txt", ".md")

_KICKER = re.compile(r"^(?P<kicker>[^\W\d_][\w&/' -]{0,38}):\s+(?P<rest>\S.*)$")
_SOURCE = re.compile(r"^source[:\s]\s*(?P<source>\S.*)$", re.IGNORECASE)
_DATE = re.compile(r"^(?:date|published)[:\s]\s*(?P<date>\d{4}-\d{2}-\d{2}\S*)$", re.IGNORECASE)
# A caption is a sentence followed by the bare word "photo" (a paragraph merely ending in
# "a photo." is not), or any line ending in "photo" before the first paragraph.
_CAPTION = re.compile(r"[.!?\"”)]\s*photo$", re.IGNORECASE)
_HEADER_CAPTION = re.compile(r"\bphoto$", re.IGNORECASE)
_CREDIT = re.compile(r"^(?:©|\(c\)\s|photo:|foto:)", re.IGNORECASE)
_FINAL_PUNCT = re.compile(r"[.!?:;,…\-–—]$")
_QUOTES_OPEN = "\"“„«‘'"
_QUOTES_CLOSE = "\"”“»’'"
_LIST_ITEM = re.compile(r"^(?:[-*•·]|\d+[.)])\s")
_MD_HEADING = re.compile(r"^#{1,6}\s+")

# a line from its first character that is not white space to its end
_NOT_BLANK = re.compile(r"\S[^\n]*")

MAX_HEADING_WORDS = 14
MAX_HEADING_CHARS = 120


def read(origin: str, data: bytes, limits: Limits) -> ReadResult:
    if looks_binary(data):
        raise ReadError(origin, "this is a binary file, not text")
    text = decode_text(data)
    article = parse_text(text, origin=origin, max_paragraphs=limits.max_paragraphs_per_article)
    return ReadResult(articles=[(origin, article)])


def _blocks(text: str) -> list[list[str]]:
    """Runs of non-blank lines, each line with its white space collapsed.

    Lines are found by a regular expression and only messy ones are rebuilt: no list of every
    line of the file, and no second copy of the lines that are already clean.
    """
    blocks: list[list[str]] = []
    current: list[str] = []
    end = 0
    for match in _NOT_BLANK.finditer(text):
        if current and text.count("\n", end, match.start()) > 1:  # a blank line between
            blocks.append(current)
            current = []
        line = match.group()
        current.append(collapse_space(line))
        end = match.end()
    if current:
        blocks.append(current)
    return blocks


def _unquote(line: str) -> str | None:
    """The inside of a line wholly in quotes, or None."""
    if len(line) >= 3 and line[0] in _QUOTES_OPEN and line[-1] in _QUOTES_CLOSE:
        return line[1:-1].strip()
    return None


def _is_heading_like(line: str) -> bool:
    if _MD_HEADING.match(line):
        return True
    if _LIST_ITEM.match(line):
        return False
    inner = _unquote(line)
    candidate = inner if inner is not None else line
    if not candidate or not (candidate[0].isupper() or candidate[0] in _QUOTES_OPEN):
        return False
    if len(candidate) > MAX_HEADING_CHARS or len(candidate.split()) > MAX_HEADING_WORDS:
        return False
    return not _FINAL_PUNCT.search(candidate)


def _strip_heading(line: str) -> str:
    line = _MD_HEADING.sub("", line)
    inner = _unquote(line)
    return inner if inner is not None else line


def parse_text(text: str, origin: str = "<text>", max_paragraphs: int | None = None) -> Article:
    """The article in `text`; ReadError when it has none, or more than `max_paragraphs`."""
    blocks = _blocks(text)
    if not blocks:
        raise ReadError(origin, "the file has no text")
    first = _MD_HEADING.sub("", blocks[0][0])
    rest_of_first = blocks[0][1:]
    body_blocks = ([rest_of_first] if rest_of_first else []) + blocks[1:]

    title, category = first, None
    match = _KICKER.match(first)
    if match:
        kicker, headline = match["kicker"].strip(), match["rest"].strip()
        header_lines = {line.lower() for block in body_blocks[:3] for line in block}
        # Only a kicker when the layout confirms it: the kicker alone or the headline repeated.
        if kicker.lower() in header_lines or headline.lower() in header_lines:
            title, category = headline, kicker.lower()

    # Header: the kicker alone and the repeated headline, line by line.
    lines_to_skip = {title.lower(), first.lower()}
    if category:
        lines_to_skip.add(category)
    body_blocks = _skip_header(body_blocks, lines_to_skip)

    # Trailer: `source NAME`, an optional date, and the agency line.
    source = date = agency = None
    while body_blocks:
        last = body_blocks[-1][-1]
        if source is None and (m := _SOURCE.match(last)):
            source = m["source"].strip()
        elif date is None and (m := _DATE.match(last)):
            date = m["date"]
        else:
            break
        body_blocks[-1] = body_blocks[-1][:-1]
        if not body_blocks[-1]:
            body_blocks.pop()
    if source is not None and len(body_blocks) > 1 and _is_agency(body_blocks[-1]):
        agency = body_blocks.pop()[0]

    paragraphs: list[Paragraph] = []
    count = 0  # paragraphs found; past the limit only counted, for the message
    heading: str | None = None
    previous_short = False  # the block before was a short heading-like line kept as text
    for index, block in enumerate(body_blocks):
        line = " ".join(block)
        if len(block) == 1 and _is_caption_or_credit(line, in_header=not paragraphs):
            continue
        next_block = body_blocks[index + 1] if index + 1 < len(body_blocks) else None
        heading_like = len(block) == 1 and _is_heading_like(line)
        in_a_list = previous_short or (
            next_block is not None and len(next_block) == 1 and _is_heading_like(next_block[0])
        )
        # a sub-heading stands alone between paragraphs; a run of short lines is a list
        if heading_like and paragraphs and next_block is not None and not in_a_list:
            heading = _strip_heading(line)
            continue
        previous_short = heading_like
        count += 1
        if max_paragraphs is None or count <= max_paragraphs:
            paragraphs.append(Paragraph(text=_MD_HEADING.sub("", line), heading=heading))

    if not paragraphs:
        raise ReadError(origin, "no article text found after the title")
    if max_paragraphs is not None and count > max_paragraphs:
        raise ReadError(origin, f"{count} paragraphs, over the limit of {max_paragraphs}")
    return Article(
        title=title,
        paragraphs=tuple(paragraphs),
        source=source,
        date=date,
        category=category,
        agency=agency,
    )


def _skip_header(blocks: list[list[str]], lines_to_skip: set[str]) -> list[list[str]]:
    """`blocks` from their first line not in `lines_to_skip` on.

    Found by index, never by popping or slicing off one line at a time: a file that repeats its
    headline a million times must not cost quadratic time.
    """
    for index, block in enumerate(blocks):
        for line_no, line in enumerate(block):
            if line.lower() not in lines_to_skip:
                return [block[line_no:], *blocks[index + 1 :]]
    return []


def _is_caption_or_credit(line: str, in_header: bool) -> bool:
    if _CREDIT.match(line) or _CAPTION.search(line):
        return True
    return in_header and bool(_HEADER_CAPTION.search(line))


def _is_agency(block: list[str]) -> bool:
    if len(block) != 1:
        return False
    line = block[0]
    return len(line) <= 40 and len(line.split()) <= 4 and not _FINAL_PUNCT.search(line)

"""PDF documents (`.pdf`), with pypdf.

pypdf gives the text of each page as lines, with where each line stands on the page. Paragraphs
are rebuilt from them: a word hyphenated across a line end is joined, the lines of a paragraph
are joined, and a paragraph ends where the gap to the next line is clearly wider than the page's
line spacing, at a blank line, or at a short line that ends a sentence. Lines repeated at the
top or bottom of most pages (running headers, footers, page numbers) are dropped. A short line
without final punctuation standing between paragraphs is a sub-heading. The title comes from the
document's metadata, or else from its first heading-like line.

A PDF without a text layer (a scan) is refused with that reason: OCR is not done here.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.models import Article, Paragraph, ReadResult

EXTENSIONS = (".pdf",)

MAX_PAGES = 2_000
# a line shorter than this share of the page's usual line length, ending a sentence, ends its
# paragraph
SHORT_LINE_SHARE = 0.75
MAX_HEADING_WORDS = 14
MAX_HEADING_CHARS = 120
# a line is a running header or footer when it repeats at a page's edge on this share of pages
REPEATED_SHARE = 0.6
EDGE_LINES = 2
MAX_MASKED_EDGE_CHARS = 60
# a gap between two lines this much wider than the page's usual line spacing ends a paragraph
PARAGRAPH_GAP = 1.4

_SENTENCE_END = re.compile(r"[.!?:;…\"”’)\]]$")
_FINAL_PUNCT = re.compile(r"[.!?,;:…]$")
_HYPHEN_END = re.compile(r"\w-$")
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE
)
_JUNK_TITLE = re.compile(
    r"^(?:untitled|document\d*|microsoft word\b.*|slide \d+|.*\.(?:docx?|pdf|tex|indd|odt))$",
    re.IGNORECASE,
)


def read(origin: str, data: bytes, limits: Limits) -> ReadResult:
    return ReadResult(articles=[(origin, parse_pdf(data, origin=origin, limits=limits))])


def parse_pdf(data: bytes, *, origin: str, limits: Limits | None = None) -> Article:
    limits = limits or Limits()
    pages, metadata_title = _page_texts(data, origin)
    page_lines = [_lines(text) for text in pages]
    if not any(page_lines):
        raise ReadError(
            origin,
            f"the PDF has no text layer ({len(pages)} page(s) of images, probably a scan); "
            "run OCR on it first",
        )
    page_lines = _drop_running_lines(page_lines)
    blocks = _blocks(page_lines)
    if not blocks:
        raise ReadError(origin, "no text found in the PDF besides headers and footers")

    title = metadata_title
    if title is None and (blocks[0][1] or _is_heading_like(blocks[0][0])):
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


def _page_texts(data: bytes, origin: str) -> tuple[list[str], str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on sloppy files are noise
    if b"%PDF-" not in data[:1024]:
        raise ReadError(origin, "not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception:
                raise ReadError(origin, "the PDF is encrypted with a password") from None
        count = len(reader.pages)
    except ReadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise ReadError(origin, f"not a readable PDF ({_short(exc)})") from None
    if count == 0:
        raise ReadError(origin, "the PDF has no pages")
    if count > MAX_PAGES:
        raise InputTooLarge(origin, f"{count} pages, over the limit of {MAX_PAGES}")
    texts = []
    for number in range(count):
        try:
            texts.append(_page_text(reader.pages[number]))
        except RecursionError:
            raise ReadError(origin, f"page {number + 1} is nested too deeply to read") from None
        except Exception as exc:  # one damaged page must not lose the others
            logging.getLogger(__name__).warning("%s: page %d unreadable: %s", origin, number, exc)
            texts.append("")
    title = None
    try:
        raw_title = reader.metadata.title if reader.metadata else None
    except Exception:
        raw_title = None
    if isinstance(raw_title, str):
        cleaned = " ".join(raw_title.replace("\x00", "").split())
        if cleaned and not _JUNK_TITLE.match(cleaned) and len(cleaned) <= 300:
            title = cleaned
    return texts, title


def _page_text(page) -> str:
    """The page's text, with a blank line where the vertical gap between two lines says a
    paragraph ends (pypdf tells where each piece of text starts)."""
    pieces: list[tuple[str, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        if text:
            pieces.append((text, float(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])))

    try:
        text = page.extract_text(visitor_text=visit) or ""
    except RecursionError:
        raise
    except Exception:  # the layout is a refinement: never lose a page over it
        return page.extract_text() or ""
    if "".join(t for t, _ in pieces).split() != text.split():
        return text  # the pieces do not add up to the text: no layout to go by
    lines: list[tuple[str, float]] = []  # (text, height of its first piece)
    current: str | None = None
    current_y = 0.0
    for piece, y in pieces:
        segments = piece.split("\n")
        for i, segment in enumerate(segments):
            breaks = i < len(segments) - 1  # a line break follows this segment
            if current is None:
                if not segment and not breaks:
                    continue  # nothing after the last break: the next piece starts the line
                current, current_y = "", y
            current += segment
            if breaks:
                lines.append((current, current_y))
                current = None
    if current:
        lines.append((current, current_y))
    gaps = sorted(a[1] - b[1] for a, b in zip(lines, lines[1:], strict=False) if a[1] > b[1])
    if len(gaps) < 2:
        return text
    usual = gaps[len(gaps) // 2]
    out = [lines[0][0]]
    for (_, y_above), (line, y) in zip(lines, lines[1:], strict=False):
        if y_above - y > PARAGRAPH_GAP * usual:
            out.append("")
        out.append(line)
    return "\n".join(out)


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _lines(text: str) -> list[str]:
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


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
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


def _blocks(pages: list[list[str]]) -> list[tuple[str, bool]]:
    """Join lines into paragraphs, across page breaks: [(text, is_heading), ...]."""
    lengths = sorted(len(line) for lines in pages for line in lines if line)
    typical = lengths[int(len(lengths) * 0.8)] if lengths else 0
    blocks: list[tuple[str, bool]] = []
    current = ""

    def flush() -> None:
        nonlocal current
        if current.strip():
            blocks.append((current.strip(), False))
        current = ""

    all_lines = [line for lines in pages for line in lines]
    for index, line in enumerate(all_lines):
        if not line:
            flush()
            continue
        following = next((n for n in all_lines[index + 1 :] if n), "")
        short = bool(typical) and len(line) < SHORT_LINE_SHARE * typical
        after_sentence = not current or bool(_SENTENCE_END.search(current))
        if after_sentence and short and _is_heading_like(line) and following[:1].isupper():
            flush()
            blocks.append((line, True))
            continue
        if current and _HYPHEN_END.search(current) and line[:1].islower():
            current = current[:-1] + line  # "extrac-" + "tion" -> "extraction"
        else:
            current = f"{current} {line}" if current else line
        if short and _SENTENCE_END.search(line) and not _HYPHEN_END.search(line):
            flush()
    flush()
    return blocks


def _is_heading_like(text: str) -> bool:
    if not text or len(text) > MAX_HEADING_CHARS or len(text.split()) > MAX_HEADING_WORDS:
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    return not _FINAL_PUNCT.search(text)

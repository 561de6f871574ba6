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
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.models import Article, Paragraph, ReadResult

EXTENSIONS = (".pdf",)

MAX_PAGES = 2_000
# Characters of text a PDF may give: TEXT_PER_BYTE per byte of the file, at least MIN_TEXT_CHARS,
# at most MAX_TEXT_CHARS. Real PDFs give a few per byte at most; an article holds at most
# `max_passages_per_article` passages (~2M characters), so more text would be refused anyway.
TEXT_PER_BYTE = 50
MIN_TEXT_CHARS = 200_000
MAX_TEXT_CHARS = 5_000_000
# a page gives far less (a dense page ~10,000): this bounds what one page holds in memory
MAX_PAGE_CHARS = 500_000
# Content-stream operations (text, moves, paths ...) run over all pages, and likewise: real PDFs
# run well under one per byte, and pypdf takes 20-100 microseconds for each
OPERATIONS_PER_BYTE = 10
MIN_OPERATIONS = 100_000
MAX_OPERATIONS = 5_000_000
# Bytes of content streams parsed, a page's own and each form XObject it draws, counted every
# time they are drawn (pypdf parses them again each time, ~0.5 s per MB even when they are only
# blank space). Real PDFs parse a few times their size.
CONTENT_PER_BYTE = 100
MIN_CONTENT_BYTES = 4_000_000
MAX_CONTENT_BYTES = 400_000_000
# images and forms (XObjects) listed in a page's resources, nested forms' resources included
MAX_XOBJECTS = 100_000
# pypdf's limits, lowered from 75 MB and 2M items: what one stream may inflate to, and the items
# (operators and operands) one content stream may parse to (~100 bytes of memory each)
MAX_STREAM_BYTES = 20_000_000
MAX_STREAM_ITEMS = 2_000_000
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


class _Budget:
    """The work a PDF may make pypdf do, by its size: operations run and text extracted. pypdf
    reports both through its visitor callbacks, which raise once a budget is spent."""

    def __init__(self, origin: str, size: int) -> None:
        self.origin = origin
        self.max_chars = min(MAX_TEXT_CHARS, max(MIN_TEXT_CHARS, TEXT_PER_BYTE * size))
        self.max_operations = min(MAX_OPERATIONS, max(MIN_OPERATIONS, OPERATIONS_PER_BYTE * size))
        self.max_content = min(MAX_CONTENT_BYTES, max(MIN_CONTENT_BYTES, CONTENT_PER_BYTE * size))
        # what one content stream may parse to: an operation and its operands, three times over
        self.max_items = min(MAX_STREAM_ITEMS, 3 * self.max_operations)
        self.chars = 0
        self.operations = 0
        self.content = 0
        self.forms: dict[str, list[Any]] = {}  # the forms the page may draw, by name
        # a page's resources -> its forms (pages often share their resources)
        self.forms_of: dict[int, tuple[Any, dict[str, list[Any]]]] = {}
        self.form_sizes: dict[int, int] = {}  # id of a form -> its decoded size
        self.page = 0  # the page being read, from 1
        self.page_chars = 0

    def start_page(self, number: int) -> None:
        self.page, self.page_chars = number, 0

    def restart_page(self) -> None:
        """The page is read again from its start: its text so far is not counted twice."""
        self.chars -= self.page_chars
        self.page_chars = 0

    def parse(self, size: int) -> None:
        self.content += size
        if self.content > self.max_content:
            raise InputTooLarge(
                self.origin,
                f"page {self.page} brings the content to parse to more than "
                f"{self.max_content / 1e6:,.0f} MB (the limit for a file this size); "
                "refused as a possible PDF bomb",
            )

    def operation(self, operator: bytes, operands: Any, *_: Any) -> None:
        # once spent, every later call raises again: pypdf swallows errors inside a form XObject,
        # but the next operation of the page itself is outside of it
        self.operations += 1
        if operator == b"Do" and operands and isinstance(operands[0], str):
            self.draw_form(operands[0])
        if self.operations > self.max_operations:
            raise InputTooLarge(
                self.origin,
                f"the pages draw more than {self.max_operations:,} operations (the limit for a "
                f"file this size); refused as a possible PDF bomb",
            )

    def draw_form(self, name: str) -> None:
        """Count a form XObject about to be drawn (and so parsed again). The visitor sees only
        its name, not whose resources it comes from: the largest form of that name counts."""
        sizes = [0]
        for form in self.forms.get(name, ()):
            size = self.form_sizes.get(id(form))
            if size is None:  # inflated once, then kept by pypdf
                size = self.form_sizes[id(form)] = len(form.get_data())
                self.parse(size)
            sizes.append(size)
        self.parse(max(sizes))

    def text(self, piece: str) -> None:
        self.chars += len(piece)
        self.page_chars += len(piece)
        if self.page_chars > MAX_PAGE_CHARS:
            raise InputTooLarge(
                self.origin,
                f"page {self.page} has more than {MAX_PAGE_CHARS:,} characters of text, over the "
                "limit for one page; refused as a possible PDF bomb",
            )
        if self.chars > self.max_chars:
            raise InputTooLarge(
                self.origin,
                f"the PDF has more than {self.max_chars:,} characters of text (the limit for a "
                "file this size); refused as a possible PDF bomb",
            )


@contextmanager
def _pypdf_limits(budget: _Budget) -> Iterator[None]:
    import pypdf

    with pypdf.apply_configuration(
        zlib_maximum_output_length=MAX_STREAM_BYTES,
        lzw_maximum_output_length=MAX_STREAM_BYTES,
        run_length_maximum_output_length=MAX_STREAM_BYTES,
        brotli_maximum_output_length=MAX_STREAM_BYTES,
        array_based_stream_maximum_output_length=MAX_STREAM_BYTES,
        stream_decoding_work_maximum_length=4 * MAX_STREAM_BYTES,
        stream_parsing_work_maximum_count=budget.max_items,
        page_tree_maximum_entries=10 * MAX_PAGES,
    ):
        yield


def _page_texts(data: bytes, origin: str) -> tuple[list[str], str | None]:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on sloppy files are noise
    if b"%PDF-" not in data[:1024]:
        raise ReadError(origin, "not a PDF file (no %PDF header)")
    budget = _Budget(origin, len(data))
    with _pypdf_limits(budget):
        reader = _open(data, budget)
        texts = [_read_page(reader, number, budget) for number in range(len(reader.pages))]
        return texts, _metadata_title(reader)


def _open(data: bytes, budget: _Budget) -> Any:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, LimitReachedError, PdfReadError

    origin = budget.origin
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            _decrypt(reader, origin)
        count = len(reader.pages)
    except ReadError:
        raise
    except LimitReachedError as exc:
        raise InputTooLarge(origin, _over_pypdf_limit(exc, budget)) from None
    except DependencyError as exc:
        raise ReadError(origin, f"the PDF cannot be decrypted here ({_short(exc)})") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise ReadError(origin, f"not a readable PDF ({_short(exc)})") from None
    if count == 0:
        raise ReadError(origin, "the PDF has no pages")
    if count > MAX_PAGES:
        raise InputTooLarge(origin, f"{count:,} pages, over the limit of {MAX_PAGES:,} pages")
    return reader


def _decrypt(reader: Any, origin: str) -> None:
    from pypdf.errors import DependencyError

    # an empty user password only restricts printing or copying: anyone may open the file
    try:
        opened = reader.decrypt("")
    except DependencyError:
        raise
    except Exception:
        opened = False
    if not opened:
        raise ReadError(
            origin,
            "the PDF is protected by a password; save an unprotected copy and upload that",
        )


def _read_page(reader: Any, number: int, budget: _Budget) -> str:
    from pypdf.errors import LimitReachedError

    budget.start_page(number + 1)
    try:
        return _page_text(reader.pages[number], budget)
    except ReadError:
        raise
    except RecursionError:
        raise ReadError(budget.origin, f"page {number + 1} is nested too deeply to read") from None
    except LimitReachedError as exc:
        raise InputTooLarge(
            budget.origin, f"page {number + 1}: {_over_pypdf_limit(exc, budget)}"
        ) from None
    except MemoryError:
        raise
    except Exception as exc:  # one damaged page must not lose the others
        logging.getLogger(__name__).warning(
            "%s: page %d unreadable: %s", budget.origin, number + 1, exc
        )
        return ""


def _metadata_title(reader: Any) -> str | None:
    try:
        raw_title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    if not isinstance(raw_title, str):
        return None
    cleaned = " ".join(raw_title.replace("\x00", "").split())
    if cleaned and len(cleaned) <= 300 and not _JUNK_TITLE.match(cleaned):
        return cleaned
    return None


def _page_text(page: Any, budget: _Budget) -> str:
    """The page's text, with a blank line where the vertical gap between two lines says a
    paragraph ends (pypdf tells where each piece of text starts)."""
    from pypdf.errors import LimitReachedError

    _charge_page(page, budget)
    pieces: list[tuple[str, float]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text:
            budget.text(text)
            pieces.append((text, float(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])))

    try:
        text = page.extract_text(visitor_operand_before=budget.operation, visitor_text=visit) or ""
    except (ReadError, RecursionError, MemoryError):
        raise
    except LimitReachedError:
        raise
    except Exception:  # the layout is a refinement: never lose a page over it
        return _plain_text(page, budget)
    if "".join(t for t, _ in pieces).split() != text.split():
        return text  # the pieces do not add up to the text: no layout to go by
    lines = _positioned_lines(pieces)
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


def _plain_text(page: Any, budget: _Budget) -> str:
    budget.restart_page()
    _charge_page(page, budget)
    text = page.extract_text(visitor_operand_before=budget.operation) or ""
    budget.text(text)
    return str(text)


def _charge_page(page: Any, budget: _Budget) -> None:
    """Count the page's content against the budget before pypdf parses it, and find the forms
    it may draw (they are counted when drawn)."""
    contents = page.get_contents()
    budget.parse(len(contents.get_data()) if contents is not None else 0)
    resources = _resolve(page.get("/Resources"))
    cached = budget.forms_of.get(id(resources))
    if cached is None or cached[0] is not resources:
        cached = budget.forms_of[id(resources)] = (resources, _forms(resources, budget))
    budget.forms = cached[1]


def _forms(resources: Any, budget: _Budget) -> dict[str, list[Any]]:
    """The form XObjects that can be drawn from these resources, nested ones too, by name."""
    from pypdf.generic import StreamObject

    forms: dict[str, list[Any]] = {}
    listed: set[tuple[str, int]] = set()
    visited: dict[int, Any] = {}  # resources looked at (kept, so that their ids stay theirs)
    queue = [resources]
    entries = 0
    while queue:
        current = queue.pop()
        if id(current) in visited:
            continue
        visited[id(current)] = current
        for name, ref in _resolve(current.get("/XObject")).items():
            entries += 1
            if entries > MAX_XOBJECTS:
                raise InputTooLarge(
                    budget.origin,
                    f"page {budget.page} lists more than {MAX_XOBJECTS:,} images and forms; "
                    "refused as a possible PDF bomb",
                )
            form = _resolve(ref)
            if not isinstance(form, StreamObject) or form.get("/Subtype") != "/Form":
                continue
            if (str(name), id(form)) not in listed:
                listed.add((str(name), id(form)))
                forms.setdefault(str(name), []).append(form)
                queue.append(_resolve(form.get("/Resources")))
    return forms


def _resolve(obj: Any) -> Any:
    obj = obj.get_object() if hasattr(obj, "get_object") else obj
    return obj if isinstance(obj, dict) else {}


def _positioned_lines(pieces: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The pieces joined into lines: [(text, height of its first piece)]."""
    lines: list[tuple[str, float]] = []
    current: list[str] | None = None  # the line's segments (joined once: a line can be long)
    current_y = 0.0
    for piece, y in pieces:
        segments = piece.split("\n")
        for i, segment in enumerate(segments):
            breaks = i < len(segments) - 1  # a line break follows this segment
            if current is None:
                if not segment and not breaks:
                    continue  # nothing after the last break: the next piece starts the line
                current, current_y = [], y
            current.append(segment)
            if breaks:
                lines.append(("".join(current), current_y))
                current = None
    if current and any(current):
        lines.append(("".join(current), current_y))
    return lines


def _over_pypdf_limit(exc: Exception, budget: _Budget) -> str:
    text = _short(exc)
    if "decompress" in text:
        reason = f"a stream inflates to more than {MAX_STREAM_BYTES / 1e6:.0f} MB"
    elif "tokens per stream" in text:
        reason = f"a content stream has more than {budget.max_items:,} operators and operands"
    else:  # pypdf's first sentence names the limit; the rest is detail
        reason = text.split(". ")[0].rstrip(".")
    return f"{reason}, over a limit of the PDF reader; refused as a possible PDF bomb"


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
        if after_sentence and short and _is_heading_like(line) and next_is_upper[index]:
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


def _is_heading_like(text: str) -> bool:
    if not text or len(text) > MAX_HEADING_CHARS or len(text.split()) > MAX_HEADING_WORDS:
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    return not _FINAL_PUNCT.search(text)

"""A PDF's pages as text, with pypdf, within the reader's limits (`pdf_limits`).

Each page's text comes with a blank line where the vertical gap between two lines is clearly
wider than the page's line spacing (pypdf tells where each piece of text starts). One damaged
page is logged and read as empty; the others are kept.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

from archivist.errors import InputTooLarge, ReadError, library_reason
from archivist.readers.pdf_limits import (
    MAX_PAGES,
    MAX_XOBJECTS,
    Budget,
    over_pypdf_limit,
    pypdf_limits,
)

# logged under the reader's own name, as it always was (operators filter the log by it)
log = logging.getLogger("archivist.readers.pdf")

# a gap between two lines this much wider than the page's usual line spacing ends a paragraph
PARAGRAPH_GAP = 1.4

_JUNK_TITLE = re.compile(
    r"^(?:untitled|document\d*|microsoft word\b.*|slide \d+|.*\.(?:docx?|pdf|tex|indd|odt))$",
    re.IGNORECASE,
)


def page_texts(data: bytes, origin: str) -> tuple[list[str], str | None]:
    """Each page's text, and the title of the document's metadata unless it is a placeholder."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on sloppy files are noise
    if b"%PDF-" not in data[:1024]:
        raise ReadError(origin, "not a PDF file (no %PDF header)")
    budget = Budget(origin, len(data))
    with pypdf_limits(budget):
        reader = _open(data, budget)
        texts = [_read_page(reader, number, budget) for number in range(len(reader.pages))]
        return texts, _metadata_title(reader)


def _open(data: bytes, budget: Budget) -> Any:
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
        raise InputTooLarge(origin, over_pypdf_limit(exc, budget)) from None
    except DependencyError as exc:
        raise ReadError(
            origin, f"the PDF cannot be decrypted here ({library_reason(exc)})"
        ) from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise ReadError(origin, f"not a readable PDF ({library_reason(exc)})") from None
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


def _read_page(reader: Any, number: int, budget: Budget) -> str:
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
            budget.origin, f"page {number + 1}: {over_pypdf_limit(exc, budget)}"
        ) from None
    except MemoryError:
        raise
    except Exception as exc:  # one damaged page must not lose the others
        log.warning("%s: page %d unreadable: %s", budget.origin, number + 1, exc)
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


def _page_text(page: Any, budget: Budget) -> str:
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


def _plain_text(page: Any, budget: Budget) -> str:
    budget.restart_page()
    _charge_page(page, budget)
    text = page.extract_text(visitor_operand_before=budget.operation) or ""
    budget.text(text)
    return str(text)


def _charge_page(page: Any, budget: Budget) -> None:
    """Count the page's content against the budget before pypdf parses it, and find the forms
    it may draw (they are counted when drawn)."""
    contents = page.get_contents()
    budget.parse(len(contents.get_data()) if contents is not None else 0)
    resources = _resolve(page.get("/Resources"))
    cached = budget.forms_of.get(id(resources))
    if cached is None or cached[0] is not resources:
        cached = budget.forms_of[id(resources)] = (resources, _forms(resources, budget))
    budget.forms = cached[1]


def _forms(resources: Any, budget: Budget) -> dict[str, list[Any]]:
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

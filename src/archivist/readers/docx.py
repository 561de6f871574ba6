"""Word documents (`.docx`), with python-docx.

Paragraphs in document order (tables too, a row per paragraph). A paragraph in a Heading style
becomes the heading of the paragraphs that follow it; the Title style (or else the core
properties' title, or else the first heading) is the article's title. The core properties also
give the date (`created`) and, as the source, nothing: an author is not a publication.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from typing import Any

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.models import Article, Paragraph, ReadResult

EXTENSIONS = (".docx",)

# a .docx is a ZIP: its XML parts are inflated in memory, so they are capped like any ZIP
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200.0

# python-docx's own template carries this creation time: it says nothing about the document
_TEMPLATE_CREATED = datetime.datetime(2013, 12, 23, 23, 15)
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|título|titolo|kop)\s*(\d)?$", re.I)
_TITLE_STYLE = re.compile(r"^(?:title|titel|titre|título|titolo)$", re.I)


def read(origin: str, data: bytes, limits: Limits) -> ReadResult:
    return ReadResult(articles=[(origin, parse_docx(data, origin=origin, limits=limits))])


def parse_docx(data: bytes, *, origin: str, limits: Limits | None = None) -> Article:
    limits = limits or Limits()
    _check_package(data, origin, limits)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on a damaged package
        raise ReadError(origin, f"not a readable Word document ({_short(exc)})") from None

    title: str | None = None
    first_heading: str | None = None
    heading: str | None = None
    paragraphs: list[Paragraph] = []
    for kind, text in _blocks(document):
        if kind == "title":
            if title is None:
                title = text
            continue
        if kind == "heading":
            first_heading = first_heading or text
            if not paragraphs and title is None and heading is None:
                # the first heading before any text is the document's title, not a section
                title = text
                continue
            heading = text
            continue
        paragraphs.append(Paragraph(text=text, heading=heading))
        if len(paragraphs) > limits.max_paragraphs_per_article:
            raise InputTooLarge(origin, f"more than {limits.max_paragraphs_per_article} paragraphs")
    if not paragraphs:
        raise ReadError(origin, "the document has no text")

    core = document.core_properties
    core_title = _clean(core.title)
    title = title or core_title or first_heading
    if not title:
        words = paragraphs[0].text.split()
        title = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
    date = None
    created = core.created
    if created is not None and created.replace(tzinfo=None) != _TEMPLATE_CREATED:
        date = created.date().isoformat()
    return Article(
        title=title,
        paragraphs=tuple(paragraphs),
        date=date,
        category=_clean(core.category),
    )


def _check_package(data: bytes, origin: str, limits: Limits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise ReadError(origin, "not a Word document (.docx files are ZIP packages)") from None
    if not any(info.filename == "word/document.xml" for info in infos):
        raise ReadError(origin, "not a Word document (no word/document.xml inside)")
    total = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    if total > MAX_UNPACKED_BYTES or total / packed > max(MAX_RATIO, limits.max_zip_ratio):
        raise InputTooLarge(
            origin,
            f"the document unpacks to {total / 1e6:.1f} MB ({total / packed:.0f}x its size); "
            "refused as a possible ZIP bomb",
        )


def _blocks(document: Any) -> list[tuple[str, str]]:
    """[(kind, text)] in document order; kind is "title", "heading" or "text"."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

    blocks: list[tuple[str, str]] = []
    for item in document.iter_inner_content():
        if isinstance(item, DocxParagraph):
            text = _clean(item.text)
            if not text:
                continue
            style = _style_name(item)
            if _TITLE_STYLE.match(style):
                blocks.append(("title", text))
            elif _HEADING_STYLE.match(style):
                blocks.append(("heading", text))
            else:
                blocks.append(("text", text))
        elif isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = _clean(cell.text)
                    if text and (not cells or cells[-1] != text):  # merged cells repeat
                        cells.append(text)
                if cells:
                    blocks.append(("text", " | ".join(cells)))
    return blocks


def _style_name(paragraph: Any) -> str:
    try:
        style = paragraph.style
    except Exception:  # a style id that the styles part does not define
        return ""
    name = getattr(style, "name", None) or ""
    return name.strip()


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.replace("\x00", "").split()) or None


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."

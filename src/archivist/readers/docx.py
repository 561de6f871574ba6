"""Word documents (`.docx`), with python-docx.

Paragraphs in document order (tables too, a row per paragraph). A paragraph in a Heading style
becomes the heading of the paragraphs that follow it; the Title style (or else the core
properties' title, or else the first heading) is the article's title. The core properties also
give the date (`created`) and, as the source, nothing: an author is not a publication.

A .docx is a ZIP of XML parts, which python-docx inflates and parses whole (~300 bytes of memory
an XML element). So before it opens the package: every part's declared size and compression
ratio are checked (`Limits.max_zip_total_bytes`, `Limits.max_zip_ratio` per part: a padding part
that does not compress cannot hide a highly compressed one), and every XML part is inflated in
chunks and parsed as a stream, counting its elements and refusing a DTD (Word never writes one;
entity expansion, "billion laughs", needs one). zipfile stops at the size a header declares, so a
header that lies cannot inflate more. The paragraphs are then walked in the XML tree directly:
python-docx's table cells repeat a cell as many times as the grid columns it claims to span.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError, library_reason
from archivist.models import Article, Paragraph, ReadResult

EXTENSIONS = (".docx",)

# a part this small may compress as well as it likes (the package's total still counts)
RATIO_FLOOR = 1024 * 1024
# the XML parts together: inflated bytes, and elements (python-docx holds them all as a tree)
MAX_XML_BYTES = 30_000_000
MAX_XML_ELEMENTS = 1_000_000
CHUNK = 64 * 1024

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# what a run's text is made of (python-docx's element classes give each its text)
_RUN_CONTENT = {f"{_W}{tag}" for tag in ("t", "tab", "br", "cr", "noBreakHyphen", "ptab")}

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
        raise ReadError(origin, f"not a readable Word document ({library_reason(exc)})") from None

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
            raise InputTooLarge(
                origin,
                f"more than {limits.max_paragraphs_per_article:,} paragraphs, over the limit",
            )
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
    _check_sizes(infos, origin, limits, len(data))
    scan = _XmlScan(origin)
    for info in infos:
        scan.part(archive, info)


def _check_sizes(infos: list[zipfile.ZipInfo], origin: str, limits: Limits, size: int) -> None:
    total = sum(info.file_size for info in infos)
    if total > limits.max_zip_total_bytes:
        raise InputTooLarge(
            origin,
            f"the document unpacks to {total / 1e6:.1f} MB, over the limit of "
            f"{limits.max_zip_total_bytes / 1e6:.0f} MB; refused as a possible ZIP bomb",
        )
    if total > RATIO_FLOOR and total / max(1, size) > limits.max_zip_ratio:
        raise InputTooLarge(
            origin,
            f"the document unpacks to {total / max(1, size):,.0f} times its size, over the "
            f"limit of {limits.max_zip_ratio:,.0f}; refused as a possible ZIP bomb",
        )
    for info in infos:
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > RATIO_FLOOR and ratio > limits.max_zip_ratio:
            raise InputTooLarge(
                origin,
                f"part {_part_name(info)} unpacks to {ratio:,.0f} times its packed size, over "
                f"the limit of {limits.max_zip_ratio:,.0f}; refused as a possible ZIP bomb",
            )


class _XmlScan:
    """Every XML part of a package, inflated in chunks and parsed as a stream (one element at
    a time is kept): their elements and bytes are counted, and a DTD is refused."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.elements = 0
        self.bytes = 0

    def part(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        from lxml import etree

        parser = etree.XMLPullParser(
            events=("start", "end"), resolve_entities=False, load_dtd=False, no_network=True
        )
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(CHUNK):
                    try:
                        parser.feed(chunk)
                    finally:  # what came before a syntax error: a DTD is refused all the same
                        self._events(parser, info)
                    self._count_bytes(len(chunk))
        except etree.XMLSyntaxError:
            return  # not XML (an image), or broken XML, which python-docx reports
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise ReadError(self.origin, f"part {_part_name(info)} is damaged ({exc})") from None
        except RuntimeError:  # zipfile: "File ... is encrypted, password required"
            raise ReadError(self.origin, f"part {_part_name(info)} is encrypted") from None

    def _events(self, parser: Any, info: zipfile.ZipInfo) -> None:
        for event, element in parser.read_events():
            if event == "start":
                if element.getparent() is None:
                    self._refuse_dtd(element, info)
            else:
                self._count_element(element)

    def _refuse_dtd(self, root: Any, info: zipfile.ZipInfo) -> None:
        if root.getroottree().docinfo.doctype:
            raise ReadError(
                self.origin,
                f"part {_part_name(info)} declares a DTD, which Word documents never do; "
                "refused as a possible XML bomb (entity expansion)",
            )

    def _count_element(self, element: Any) -> None:
        self.elements += 1
        if self.elements > MAX_XML_ELEMENTS:
            raise InputTooLarge(
                self.origin,
                f"the document's XML has more than {MAX_XML_ELEMENTS:,} elements, over the limit",
            )
        element.clear()
        parent = element.getparent()
        while parent is not None and element.getprevious() is not None:
            del parent[0]  # finished siblings: the scan keeps one path of the tree

    def _count_bytes(self, size: int) -> None:
        self.bytes += size
        if self.bytes > MAX_XML_BYTES:
            raise InputTooLarge(
                self.origin,
                f"the document's XML unpacks to more than {MAX_XML_BYTES / 1e6:.1f} MB, "
                "over the limit",
            )


def _part_name(info: zipfile.ZipInfo) -> str:
    name = "".join(c for c in info.filename if c.isprintable())
    return name if len(name) <= 80 else name[:77] + "..."


def _blocks(document: Any) -> Iterator[tuple[str, str]]:
    """(kind, text) in document order; kind is "title", "heading" or "text". The body's own
    paragraphs and tables (as python-docx's `iter_inner_content`), a table row per block."""
    body = document.element.body
    if body is None:
        return
    styles = _paragraph_styles(document)
    for element in body.iterchildren(f"{_W}p", f"{_W}tbl"):
        if element.tag == f"{_W}tbl":
            yield from (("text", row) for row in _table_rows(element))
            continue
        text = _clean(_paragraph_text(element))
        if not text:
            continue
        style = styles.get(_style_id(element), styles.get(None, ""))
        if _TITLE_STYLE.match(style):
            yield ("title", text)
        elif _HEADING_STYLE.match(style):
            yield ("heading", text)
        else:
            yield ("text", text)


def _paragraph_styles(document: Any) -> dict[str | None, str]:
    """Paragraph style id -> its name; None -> the default paragraph style's name. An unknown
    id, or one of another type, means the default (as in python-docx)."""
    from docx.enum.style import WD_STYLE_TYPE

    names: dict[str | None, str] = {}
    kinds: dict[str | None, Any] = {}
    try:
        for style in document.styles:
            if style.style_id not in kinds:  # the first style of an id is the one used
                kinds[style.style_id] = style.type
                names[style.style_id] = (style.name or "").strip()
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    except Exception:  # a damaged styles part: no style is known
        return {}
    names[None] = (getattr(default, "name", None) or "").strip()
    return {
        key: name
        for key, name in names.items()
        if key is None or kinds[key] == WD_STYLE_TYPE.PARAGRAPH
    }


def _style_id(paragraph: Any) -> str | None:
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    return None if style is None else style.get(f"{_W}val")


def _paragraph_text(paragraph: Any) -> str:
    """As python-docx's `Paragraph.text`: its runs, and those of its hyperlinks."""
    parts: list[str] = []
    for child in paragraph.iterchildren(f"{_W}r", f"{_W}hyperlink"):
        runs = [child] if child.tag == f"{_W}r" else child.iterchildren(f"{_W}r")
        for run in runs:
            parts.extend(str(item) for item in run if item.tag in _RUN_CONTENT)
    return "".join(parts)


def _table_rows(table: Any) -> Iterator[str]:
    """Each row's cells, " | " between them. A cell merged with the cells to its right appears
    once; one merged with the cell above (vMerge "continue") repeats that cell's text, as
    python-docx gives it."""
    above: dict[int, str] = {}  # the row above: grid column where a cell starts -> its text
    for row in table.iterchildren(f"{_W}tr"):
        here: dict[int, str] = {}
        column = _int_val(row.find(f"{_W}trPr/{_W}gridBefore"), 0)
        cells: list[str] = []
        for cell in row.iterchildren(f"{_W}tc"):
            merge = cell.find(f"{_W}tcPr/{_W}vMerge")
            if merge is not None and merge.get(f"{_W}val", "continue") == "continue":
                text = above.get(column, "")
            else:
                text = "\n".join(_paragraph_text(p) for p in cell.iterchildren(f"{_W}p"))
            here[column] = text
            span = _int_val(cell.find(f"{_W}tcPr/{_W}gridSpan"), 1)
            column += span
            cleaned = _clean(text)
            if span > 0 and cleaned and (not cells or cells[-1] != cleaned):  # merged cells
                cells.append(cleaned)
        above = here
        if cells:
            yield " | ".join(cells)


def _int_val(element: Any, default: int) -> int:
    if element is None:
        return default
    try:
        return int(element.get(f"{_W}val", default))
    except ValueError:
        return default


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.replace("\x00", "").split()) or None

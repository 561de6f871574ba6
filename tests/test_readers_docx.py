"""The DOCX reader, on documents made with python-docx."""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import zipfile

import docx
import pytest

from archivist.errors import InputTooLarge, ReadError
from archivist.readers import docx as docx_reader
from archivist.readers import read_bytes
from archivist.readers.docx import parse_docx


def save(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_title_style_headings_and_paragraphs():
    d = docx.Document()
    d.add_paragraph("Harbour channel to be dredged", style="Title")
    d.add_paragraph("The harbour authority approved the plan on Monday.")
    d.add_heading("Costs", level=1)
    d.add_paragraph("Engineers estimate twelve million euros.")
    d.add_paragraph("   ")  # empty paragraphs are skipped
    d.add_heading("Schedule", level=2)
    d.add_paragraph("The first barges arrive in March.")
    table = d.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Phase one"
    table.cell(0, 1).text = "four months"
    article = read_bytes("plan.docx", save(d)).articles[0][1]
    assert article.title == "Harbour channel to be dredged"
    assert [(p.heading, p.text) for p in article.paragraphs] == [
        (None, "The harbour authority approved the plan on Monday."),
        ("Costs", "Engineers estimate twelve million euros."),
        ("Schedule", "The first barges arrive in March."),
        ("Schedule", "Phase one | four months"),
    ]


def test_first_heading_is_the_title_and_core_properties_give_the_date():
    d = docx.Document()
    d.core_properties.created = dt.datetime(2024, 3, 5, 10, 0)
    d.add_heading("Council approves budget", level=1)
    d.add_paragraph("The vote was close.")
    article = read_bytes("budget.docx", save(d)).articles[0][1]
    assert article.title == "Council approves budget"
    assert article.date == "2024-03-05"
    assert article.paragraphs[0].heading is None


def test_core_title_when_no_heading():
    d = docx.Document()
    d.core_properties.title = "Minutes of the meeting"
    d.add_paragraph("Present: the whole board.")
    article = read_bytes("minutes.docx", save(d)).articles[0][1]
    assert article.title == "Minutes of the meeting"
    assert article.date is None  # python-docx's template date is not the document's


def test_empty_document_is_refused():
    with pytest.raises(ReadError, match="no text"):
        read_bytes("empty.docx", save(docx.Document()))


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04 not really a zip", b"plain text renamed to docx", bytes(range(256)) * 8],
)
def test_broken_docx_gives_a_clear_read_error(data):
    with pytest.raises(ReadError) as info:
        read_bytes("broken.docx", data)
    assert str(info.value).startswith("broken.docx: ")


def test_zip_that_is_not_a_word_document():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "hello")
    with pytest.raises(ReadError, match="no word/document.xml"):
        read_bytes("fake.docx", buffer.getvalue())


def test_docx_bomb_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<" + b" " * 50_000_000)
    with pytest.raises(ReadError, match="ZIP bomb"):
        read_bytes("bomb.docx", buffer.getvalue())


# --- hostile packages: python-docx inflates and parses every XML part whole ---

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def repackage(replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    """python-docx's blank document with these parts replaced, and these added (stored, not
    compressed: padding that does not compress)."""
    source = zipfile.ZipFile(io.BytesIO(save(docx.Document())))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            z.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, data in (add or {}).items():
            z.writestr(name, data, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def document_xml(body: bytes, prolog: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n%s'
        b'<w:document xmlns:w="%s"><w:body>%s</w:body></w:document>' % (prolog, W_NS.encode(), body)
    )


def paragraph(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def refused(data: bytes, error: type[ReadError], match: str) -> str:
    with pytest.raises(error, match=match) as info:
        parse_docx(data, origin="hostile.docx")
    message = str(info.value)
    assert message.startswith("hostile.docx: ") and "\n" not in message
    return message


@pytest.mark.timeout(60)
def test_padding_part_does_not_hide_a_highly_compressed_document():
    # 4 MB of empty paragraphs packed into 4 KB, beside 300 KB that do not compress: the whole
    # package is only 14 times its size, but document.xml is 1,000 times
    body = b"<w:p/>" * 700_000
    padding = random.Random(0).randbytes(300_000)
    data = repackage({"word/document.xml": document_xml(body)}, {"word/media/pad.bin": padding})
    refused(
        data,
        InputTooLarge,
        r"part word/document\.xml unpacks to [\d,]+ times its packed size, over the limit of 100",
    )


def test_xml_elements_and_bytes_are_capped(monkeypatch):
    # paragraphs with random ids compress like a real document, so only the counts stop them
    rng = random.Random(1)
    body = b"".join(
        b'<w:p w:rsidR="%08X"><w:r><w:t>%s</w:t></w:r></w:p>' % (rng.getrandbits(32), b"x" * 20)
        for _ in range(5_000)
    )
    data = repackage({"word/document.xml": document_xml(body)})
    assert parse_docx(data, origin="fine.docx").paragraphs  # within the real limits
    monkeypatch.setattr(docx_reader, "MAX_XML_ELEMENTS", 10_000)
    refused(data, InputTooLarge, "XML has more than 10,000 elements, over the limit")
    monkeypatch.setattr(docx_reader, "MAX_XML_ELEMENTS", 1_000_000)
    monkeypatch.setattr(docx_reader, "MAX_XML_BYTES", 200_000)
    refused(data, InputTooLarge, r"XML unpacks to more than 0\.2 MB, over the limit")


@pytest.mark.timeout(30)
def test_cell_claiming_to_span_two_billion_columns_is_read_once():
    # python-docx repeats a cell once for each grid column it spans: this took forever
    body = paragraph("Harbour dues for the coming year.") + (
        b'<w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val="2000000000"/></w:tcPr>%s</w:tc>'
        b"<w:tc>%s</w:tc></w:tr></w:tbl>" % (paragraph("Ferries"), paragraph("12 euros"))
    )
    article = parse_docx(repackage({"word/document.xml": document_xml(body)}), origin="dues.docx")
    assert [p.text for p in article.paragraphs] == [
        "Harbour dues for the coming year.",
        "Ferries | 12 euros",
    ]


LAUGHS = b"<!DOCTYPE w:document [<!ENTITY lol0 'lol'>%s]>" % b"".join(
    b"<!ENTITY lol%d '%s'>" % (i, b"&lol%d;" % (i - 1) * 10) for i in range(1, 10)
)


@pytest.mark.parametrize(
    ("part", "xml"),
    [
        # a billion "lol"s from a kilobyte, in the text and in an attribute
        ("word/document.xml", document_xml(paragraph("&lol9;"), LAUGHS)),
        ("word/document.xml", document_xml(b'<w:p w:rsidR="&lol9;"/>', LAUGHS)),
        # a file of the machine, through an external entity
        (
            "word/document.xml",
            document_xml(
                paragraph("&secret;"),
                b"<!DOCTYPE w:document [<!ENTITY secret SYSTEM 'file:///etc/passwd'>]>",
            ),
        ),
        # the same in another part python-docx parses
        (
            "docProps/core.xml",
            b"<!DOCTYPE cp:coreProperties [<!ENTITY a 'aaaaaaaaaa'>]>"
            b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            b'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            b"<dc:title>&a;</dc:title></cp:coreProperties>",
        ),
    ],
    ids=["laughs-text", "laughs-attribute", "external-entity", "core-properties"],
)
def test_xml_with_a_dtd_is_refused(part, xml):
    message = refused(repackage({part: xml}), ReadError, "declares a DTD")
    assert part in message


def test_header_that_understates_the_size_gives_a_read_error():
    # document.xml declares 400 bytes but inflates to 20 MB: zipfile stops at the declared
    # size, and the checksum then fails
    xml = document_xml(paragraph("Short.") + b"<w:p/>" * 3_500_000)
    data = bytearray(repackage({"word/document.xml": xml}))
    name = b"word/document.xml"
    # (signature, offset of the uncompressed size, offset of the name) in local and central headers
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        header = data.find(signature)
        while header != -1:
            if data[header + name_at : header + name_at + len(name)] == name:
                data[header + size_at : header + size_at + 4] = struct.pack("<I", 400)
            header = data.find(signature, header + 4)
    refused(bytes(data), ReadError, r"part word/document\.xml is damaged")


def test_a_library_message_with_a_line_break_is_one_line():
    """lxml ends a line inside its message about a NUL character; the refusal stays one line."""
    document = docx.Document()
    document.add_paragraph("hello")
    plain = io.BytesIO()
    document.save(plain)
    source = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = data.replace(b"hello", b"he\x00llo")
            out.writestr(info.filename, data)
    with pytest.raises(ReadError) as refused:
        read_bytes("nul.docx", broken.getvalue())
    message = str(refused.value)
    assert "\n" not in message and message.startswith("nul.docx: not a readable Word document")

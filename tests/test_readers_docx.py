"""The DOCX reader, on documents made with python-docx."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import docx
import pytest

from archivist.errors import ReadError
from archivist.readers import read_bytes


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

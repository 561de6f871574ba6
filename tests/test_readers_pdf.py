"""The PDF reader, on PDFs written here by hand (no PDF library needed to make them)."""

from __future__ import annotations

import pytest

from archivist.errors import ReadError
from archivist.readers import read_bytes


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, top to bottom, on each page."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects: dict[int, bytes] = {}
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    for page_id, lines in zip(page_ids, pages, strict=True):
        ops = ["BT /F1 11 Tf 14 TL 72 760 Td"] + [f"({escape(line)}) Tj T*" for line in lines]
        stream = "\n".join(ops + ["ET"]).encode("latin-1")
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>"
        ).encode()
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    info = None
    if title is not None:
        info = max(objects) + 1
        objects[info] = f"<< /Title ({escape(title)}) >>".encode("latin-1")
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref, size = len(out), max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size))
    info_ref = f" /Info {info} 0 R" if info else ""
    out += f"trailer\n<< /Size {size} /Root 1 0 R{info_ref} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def report_page(n: int, topic: str) -> list[str]:
    return [
        "Harbour Authority Annual Report",  # running header
        f"The {topic} section of the report describes what the authority did this year for the",
        "harbour, the ferries and the fishing fleet.",  # a short line ends the paragraph
        f"Most of the {topic} budget went to the channel.",
        f"{topic.capitalize()} outlook",  # a sub-heading
        "Engineers expect the dredging of the northern channel to take four months, and the",
        "tracks of the harbour railway are in poor condi-",
        f"tion in several places, which the {topic} plan addresses first.",
        f"Page {n}",  # footer with the page number
    ]


def test_paragraphs_headings_and_running_lines():
    pdf = make_pdf(
        [report_page(1, "finance"), report_page(2, "operations"), report_page(3, "safety")],
        title="Annual report 2024",
    )
    article = read_bytes("report.pdf", pdf).articles[0][1]
    assert article.title == "Annual report 2024"
    texts = [p.text for p in article.paragraphs]
    assert not any("Harbour Authority Annual Report" in t or t.startswith("Page ") for t in texts)
    assert texts[0] == (
        "The finance section of the report describes what the authority did this year for the "
        "harbour, the ferries and the fishing fleet."
    )
    assert texts[1] == "Most of the finance budget went to the channel."
    joined = [t for t in texts if "poor condition in several places" in t]
    assert len(joined) == 3  # the hyphenated word is joined on every page
    under = [p for p in article.paragraphs if p.text.startswith("Engineers expect")]
    assert [p.heading for p in under] == ["Finance outlook", "Operations outlook", "Safety outlook"]


def test_a_wider_gap_between_lines_ends_a_paragraph():
    # two paragraphs of full-width lines: no short line says where the first ends, only the
    # empty line's worth of space between them on the page
    first = [
        "The council met on Tuesday to discuss the new harbour plan, which would move the ferry",
        "terminal to the northern quay and free the old pier for the fishing fleet and visitors.",
    ]
    second = [
        "Residents who spoke at the meeting asked about traffic on the coast road in the summer,",
        "when the ferries are full and the car park at the northern quay is often closed early.",
    ]
    article = read_bytes("minutes.pdf", make_pdf([first + [""] + second])).articles[0][1]
    assert [p.text for p in article.paragraphs] == [" ".join(first), " ".join(second)]
    # without the gap the same lines are one paragraph
    article = read_bytes("minutes.pdf", make_pdf([first + second])).articles[0][1]
    assert [p.text for p in article.paragraphs] == [" ".join(first + second)]


def test_title_from_first_heading_without_metadata():
    pdf = make_pdf([["Budget Report"] + report_page(1, "finance")[1:8]])
    article = read_bytes("budget.pdf", pdf).articles[0][1]
    assert article.title == "Budget Report"
    assert article.paragraphs[0].text.startswith("The finance section")


def test_junk_metadata_title_is_ignored():
    pdf = make_pdf(
        [["Budget Report"] + report_page(1, "finance")[1:8]], title="Microsoft Word - draft3.doc"
    )
    assert read_bytes("budget.pdf", pdf).articles[0][1].title == "Budget Report"


def test_pdf_without_text_layer_is_refused_with_that_reason():
    pdf = make_pdf([[], []])
    with pytest.raises(ReadError, match="no text layer"):
        read_bytes("scan.pdf", pdf)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 20, "PDF"),
        (b"this is not a pdf at all", "not a PDF"),
    ],
)
def test_broken_pdf_gives_a_clear_read_error(data, reason):
    with pytest.raises(ReadError, match=reason) as info:
        read_bytes("broken.pdf", data)
    assert str(info.value).startswith("broken.pdf: ")


def test_truncated_pdf_gives_a_read_error_or_what_is_left():
    pdf = make_pdf([report_page(1, "finance"), report_page(2, "operations")])
    for cut in (len(pdf) // 3, len(pdf) // 2, len(pdf) - 40):
        try:
            result = read_bytes("cut.pdf", pdf[:cut])
        except ReadError as exc:
            assert "cut.pdf" in str(exc)
        else:
            assert result.articles[0][1].paragraphs

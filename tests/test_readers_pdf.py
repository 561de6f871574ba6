"""The PDF reader, on PDFs written here by hand (no PDF library needed to make them)."""

from __future__ import annotations

import io
import logging
import random
import zlib

import pytest

from archivist.errors import InputTooLarge, ReadError
from archivist.readers import read_bytes
from archivist.readers.pdf import MAX_PAGES, parse_pdf


def make_pdf(
    pages: list[list[str]], title: str | None = None, unknown_filter_on: int | None = None
) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, top to bottom, on each page.
    `unknown_filter_on`: that page's (from 0) content stream names a filter no reader knows."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    objects: dict[int, bytes] = {}
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    for index, (page_id, lines) in enumerate(zip(page_ids, pages, strict=True)):
        ops = ["BT /F1 11 Tf 14 TL 72 760 Td"] + [f"({escape(line)}) Tj T*" for line in lines]
        stream = "\n".join(ops + ["ET"]).encode("latin-1")
        damage = b" /Filter /NoSuchDecode" if index == unknown_filter_on else b""
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>"
        ).encode()
        objects[page_id + 1] = b"<< /Length %d%s >>\nstream\n%s\nendstream" % (
            len(stream),
            damage,
            stream,
        )
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


def test_an_unreadable_page_is_logged_by_the_reader_and_the_others_kept(caplog):
    pages = [
        ["Harbour report", "The harbour authority dredged the channel this year."],
        ["This page's content names a filter that no PDF reader knows."],
        ["Ferries", "The ferries ran on time all year long."],
    ]
    with caplog.at_level(logging.WARNING, logger="archivist.readers.pdf"):
        article = parse_pdf(make_pdf(pages, unknown_filter_on=1), origin="damaged.pdf")
    assert [p.text for p in article.paragraphs] == [
        "The harbour authority dredged the channel this year.",
        "The ferries ran on time all year long.",
    ]
    warnings = [r for r in caplog.records if r.name == "archivist.readers.pdf"]
    assert [r.getMessage().split(": ")[:2] for r in warnings] == [
        ["damaged.pdf", "page 2 unreadable"]
    ]


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


# --- hostile PDFs, built here: the reader's own work must stay bounded by the file's size ---


def pdf_objects(objects: dict[int, bytes]) -> bytes:
    """A PDF of these numbered objects (1 is the catalog), with its cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref, size = len(out), max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(
        b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
        for n in range(1, size)
    )
    out += f"trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def stream_object(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode%s >>\nstream\n%s\nendstream" % (
        len(packed),
        extra,
        packed,
    )


def shared_content_pdf(content: bytes, pages: int, forms: dict[str, bytes] | None = None) -> bytes:
    """`pages` pages that all draw one compressed content stream (object 5), with these form
    XObjects in their resources."""
    page_ids = [100 + i for i in range(pages)]
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        5: stream_object(content),
    }
    xobjects = b""
    for number, (name, form) in enumerate((forms or {}).items(), start=10):
        objects[number] = stream_object(
            form,
            b" /Type /XObject /Subtype /Form /BBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >>",
        )
        xobjects += b"/%s %d 0 R " % (name.encode(), number)
    resources = b"<< /Font << /F1 3 0 R >> /XObject << %s>> >>" % xobjects
    for page_id in page_ids:
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources %s /Contents 5 0 R >>"
            % resources
        )
    return pdf_objects(objects)


def text_lines(lines: list[str]) -> bytes:
    ops = ["BT /F1 11 Tf 14 TL 72 760 Td"] + [f"({line}) Tj T*" for line in lines]
    return "\n".join(ops + ["ET"]).encode("latin-1")


def letters(n: int) -> str:
    """A word for the number n, without digits (digits are masked in running headers)."""
    word = ""
    while True:
        n, rest = divmod(n, 26)
        word += "abcdefghijklmnopqrstuvwxyz"[rest]
        if not n:
            return word


def refused(data: bytes, match: str) -> str:
    with pytest.raises(InputTooLarge, match=match) as info:
        parse_pdf(data, origin="hostile.pdf")
    message = str(info.value)
    assert message.startswith("hostile.pdf: ") and "\n" not in message
    return message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("hyphenated", [False, True])
def test_many_tiny_lines_are_joined_in_linear_time(hyphenated):
    # 20 pages of 1,000 short lines: rebuilding paragraphs was quadratic in the lines (minutes
    # for this file). The lines make one paragraph; one long word when every line ends with a
    # hyphen and the next starts in lower case.
    lines = [letters(i) + ("-" if hyphenated else " tiny line") for i in range(20_000)]
    pages = [lines[i : i + 1000] for i in range(0, len(lines), 1000)]
    article = parse_pdf(make_pdf(pages), origin="lines.pdf")
    assert len(article.paragraphs) == 1
    if hyphenated:
        assert article.paragraphs[0].text == "".join(line[:-1] for line in lines) + "-"
    else:
        assert article.paragraphs[0].text == " ".join(lines)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("operators", "match"),
    [
        (120_000, r"more than [\d,]+ operations \(the limit for a file this size\)"),
        (500_000, r"a content stream has more than [\d,]+ operators and operands"),
    ],
)
def test_content_stream_with_100k_text_operators_is_refused(operators, match):
    # the text operators of a 3 KB file: pypdf takes ~50 microseconds each
    pdf = shared_content_pdf(b"BT /F1 11 Tf 72 700 Td\n" + b"(a) Tj\n" * operators + b"ET", 1)
    assert len(pdf) < 10_000
    refused(pdf, match)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("content", "match"),
    [
        # 120,000 characters of text on each of 100 pages, from one 2 KB stream
        (text_lines(["Harbour dredging report, paragraph text line " * 2] * 1_500), "characters"),
        # a megabyte of blank space to parse on each of 100 pages
        (b" " * 1_000_000, "content to parse to more than 4 MB"),
        # a stream inflating to 100 MB
        (b"%" + b" " * 100_000_000, "a stream inflates to more than 20 MB"),
    ],
    ids=["text", "blank", "inflating"],
)
def test_pdf_bomb_with_one_stream_on_every_page_is_refused(content, match):
    refused(shared_content_pdf(content, 100), match)


@pytest.mark.timeout(60)
def test_form_drawn_over_and_over_is_refused():
    # a page draws a 200 KB blank form XObject 5,000 times: a gigabyte to parse from 2 KB
    pdf = shared_content_pdf(b"/Blank Do\n" * 5_000, 1, forms={"Blank": b" " * 200_000})
    refused(pdf, "content to parse")


def test_too_many_pages_is_refused_naming_the_limit():
    pdf = shared_content_pdf(text_lines(["One line of text."]), MAX_PAGES + 1)
    refused(pdf, f"{MAX_PAGES + 1:,} pages, over the limit of {MAX_PAGES:,} pages")


def test_pdf_with_forms_is_read():
    # a form drawn on every page (a letterhead) is read like the page's own text
    pdf = shared_content_pdf(
        text_lines(["The council approved the harbour plan on Tuesday evening."]) + b"\n/Head Do",
        1,
        forms={"Head": text_lines(["Minutes of the harbour council, page one."])},
    )
    texts = [p.text for p in parse_pdf(pdf, origin="minutes.pdf").paragraphs]
    assert " ".join(texts) == (
        "The council approved the harbour plan on Tuesday evening. "
        "Minutes of the harbour council, page one."
    )


def encrypted(user_password: str, algorithm: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([report_page(1, "finance")]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("algorithm", ["AES-256", "AES-128", "RC4-128", "RC4-40"])
def test_pdf_encrypted_with_an_empty_password_is_read(algorithm):
    # published PDFs often restrict only printing or copying: anyone may open them
    article = read_bytes("public.pdf", encrypted("", algorithm)).articles[0][1]
    assert article.paragraphs[0].text.startswith("The finance section of the report")


@pytest.mark.parametrize("algorithm", ["AES-256", "RC4-128"])
def test_pdf_that_needs_a_password_says_so(algorithm):
    with pytest.raises(ReadError) as info:
        read_bytes("secret.pdf", encrypted("secret", algorithm))
    assert str(info.value) == (
        "secret.pdf: the PDF is protected by a password; save an unprotected copy and upload that"
    )


def generated_report(seed: int) -> tuple[list[list[str]], list[str]]:
    """Pages of wrapped paragraphs (a blank line between them, words hyphenated across line
    ends, paragraphs running across page breaks, a running header and page numbers), and the
    paragraphs they hold."""
    rng = random.Random(seed)
    vocabulary = (
        "harbour ferry council budget channel dredging northern terminal railway engineers "
        "residents meeting summer traffic authority report fishing fleet tracks months"
    ).split()
    paragraphs, lines = [], []
    for _ in range(rng.randint(20, 40)):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(8, 80))]
        words[0] = words[0].capitalize()
        paragraphs.append(" ".join(words) + ".")
        line = ""
        for i, word in enumerate(words):
            word += "." if i == len(words) - 1 else ""
            if len(line) + len(word) + 1 <= 80:
                line = f"{line} {word}".strip()
            elif len(word) >= 8 and len(line) + 6 <= 80:  # hyphenated: "dred-" / "ging"
                lines.append(f"{line} {word[:4]}-")
                line = word[4:]
            else:
                lines.append(line)
                line = word
        lines += [line, ""]
    pages = [
        ["Harbour Authority Annual Report", *lines[i : i + 40], f"Page {i // 40 + 1}"]
        for i in range(0, len(lines), 40)
    ]
    return pages, paragraphs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_multi_page_reports_keep_their_paragraphs(seed):
    pages, paragraphs = generated_report(seed)
    article = read_bytes("report.pdf", make_pdf(pages, title="Annual report")).articles[0][1]
    assert [p.text for p in article.paragraphs] == paragraphs

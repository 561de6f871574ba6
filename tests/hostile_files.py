"""The hostile files of the corpus (tests/hostile_corpus.py), one maker per file, and `FILES`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from hostile_blocks import (
    EITHER,
    MB,
    PARTIAL,
    READ,
    REFUSED,
    Case,
    Expect,
    document_xml,
    docx_bytes,
    docx_paragraph,
    docx_replace,
    news_text,
    paragraph,
    seeded,
    sentence,
    zip_bytes,
    zip_of_zeros,
)
from hostile_pdf import PdfSpec, pdf_bytes, text_content


# ---- the files ---------------------------------------------------------------------------------
def _sentences_txt(full: bool) -> bytes:
    return ("Abbreviations without end\n\n" + "A. " * 40_000).encode()


def _cjk_txt(full: bool) -> bytes:
    rng = seeded("cjk")
    size = (20 if full else 1) * MB
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    pool = [
        "".join(rng.choice(chars) for _ in range(rng.randint(15, 40))) + "。" for _ in range(2000)
    ]
    parts = ["港口渡轮时刻表变更\n"]
    total = 0
    while total < size:
        text = "".join(rng.choice(pool) for _ in range(rng.randint(20, 60)))
        parts.append(text)
        total += len(text) * 3
    return "\n\n".join(parts).encode()


def _many_paragraphs_txt(full: bool) -> bytes:
    rng = seeded("paragraphs")
    return ("Too many paragraphs\n\n" + "\n\n".join(sentence(rng) for _ in range(6000))).encode()


def _good_record(n: int) -> bytes:
    rng = seeded(f"record {n}")
    record = {"title": f"Kept line {n}", "paragraphs": [paragraph(rng), paragraph(rng)]}
    return json.dumps(record).encode()


def _lines_jsonl(full: bool) -> bytes:
    lines = [
        _good_record(1),
        b"[" * 100_000,
        _good_record(2),
        b"1" * 5_000,
        _good_record(3),
        b'{"title": "' + b"9" * 5_000 + b'", "text": 1' + b"0" * 5_000 + b"}",
        _good_record(4),
    ]
    return b"\n".join(lines) + b"\n"


def _deep_json(full: bool) -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


def _bomb_zip(full: bool) -> bytes:
    return zip_of_zeros("big.txt", 300 * MB)


def _lying_zip(full: bool) -> bytes:
    """Its headers say the entry holds 1,000 bytes; it inflates to 300 MB (or 50 MB)."""
    return zip_of_zeros("small.txt", (300 if full else 50) * MB, declared=1000)


def _noext_zip(full: bool) -> bytes:
    rng = seeded("noext")
    return zip_bytes(
        {
            "README": b"Plain text in an entry without an extension.\n",
            "story.txt": news_text(rng, 4).encode(),
        }
    )


def _nested_zip(full: bool) -> bytes:
    data = b""
    for depth in range(5, 0, -1):
        entries = {f"level{depth}.txt": news_text(seeded(f"level {depth}"), 3).encode()}
        if data:
            entries[f"inner{depth + 1}.zip"] = data
        data = zip_bytes(entries)
    return data


def _nested_bomb_zip(full: bool) -> bytes:
    inner = zip_of_zeros("zeros.txt", 20 * MB)
    return zip_bytes({f"part{i}.zip": inner for i in range(16)})


def _padded_docx(full: bool) -> bytes:
    """word/document.xml inflates about 1,000 times; a stored random entry keeps the whole
    package's ratio under the ZIP limit (issue item 5)."""
    run = "<w:r><w:t>word word </w:t></w:r>"
    body = ("<w:p>" + run * 400 + "</w:p>") * 1_000
    padding = seeded("padding").randbytes(150_000)
    base = docx_bytes("Padded", ["A first paragraph."])
    return docx_replace(
        base,
        {"word/document.xml": document_xml(body), "word/media/padding.bin": padding},
        stored=("word/media/padding.bin",),
    )


def _laughs_docx(full: bool) -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    doctype = f"<!DOCTYPE w:document [{entities}]>"
    body = (
        docx_paragraph("A title that is fine")
        + docx_paragraph("&lol9;")
        + docx_paragraph(
            "A paragraph of ordinary text after the entity, long enough to be kept as a passage."
        )
    )
    return docx_replace(
        docx_bytes("Laughs", ["x"]), {"word/document.xml": document_xml(body, doctype)}
    )


def _lines_pdf(full: bool) -> bytes:
    """20,000 one-word lines in 7 KB: a paragraph that grows line by line (issue item 3; the
    quadratic reader took over 3 minutes, 30 s with 8,000 lines)."""
    rng = seeded("pdf lines")
    lines = [rng.choice(("ferry", "harbour")) for _ in range(20_000)]
    return pdf_bytes(PdfSpec(pages=[text_content(lines)], title="Many lines"))


def _bomb_pdf(full: bool) -> bytes:
    """100 pages drawing one content stream that inflates to 70 MB (5 MB for the tests)."""
    size = (70 if full else 5) * MB
    op = b"0 0 Td (A) Tj\n"
    content = b"BT /F1 11 Tf\n" + op * (size // len(op)) + b"ET"
    return pdf_bytes(PdfSpec(pages=[content] * 100, shared=True, title="Bomb"))


def _pdf_article() -> list[bytes]:
    rng = seeded("pdf article")
    lines = ["Protected annual report", ""]
    for _ in range(6):
        text = paragraph(rng)
        lines += [text[i : i + 80] for i in range(0, len(text), 80)] + [""]
    return [text_content(lines)]


def _aes_empty_password_pdf(full: bool) -> bytes:
    return pdf_bytes(
        PdfSpec(pages=_pdf_article(), title="Protected annual report", user_password="")
    )


def _aes_password_pdf(full: bool) -> bytes:
    return pdf_bytes(PdfSpec(pages=_pdf_article(), title="Secret report", user_password="secret"))


def _nested_html(full: bool) -> bytes:
    rng = seeded("nested html")
    return (
        b"<html><head><title>Deep page</title></head><body>"
        + b"<div>" * 100_000
        + f"<p>{paragraph(rng)}</p>".encode()
        + b"</div>" * 100_000
        + b"</body></html>"
    )


def discovery_page() -> bytes:
    """512 KB of `<link` openings that never close: feed discovery's worst case (item 10)."""
    head = b"<!doctype html><html><head><title>Links</title>"
    filler = b"<link rel=alternate " * ((512 * 1024 - len(head)) // 20)
    return head + filler + b"</head><body><p>Nothing else.</p></body></html>"


def _links_html(full: bool) -> bytes:
    return discovery_page()


FileMaker = Callable[[bool], bytes]

FILES: dict[str, tuple[FileMaker, Expect]] = {
    "sentences.txt": (_sentences_txt, Expect(READ, note='"A. " * 40000 (item 3)')),
    "cjk.txt": (_cjk_txt, Expect(EITHER, heavy=True, note="20 MB of CJK text (item 6)")),
    "many-paragraphs.txt": (
        _many_paragraphs_txt,
        Expect(REFUSED, mentions="paragraphs", note="6,000 paragraphs, over the limit"),
    ),
    "lines.jsonl": (
        _lines_jsonl,
        Expect(PARTIAL, note="a 100,000-deep line and 5,000-digit numbers among good lines"),
    ),
    "deep.json": (_deep_json, Expect(REFUSED, note="JSON nested 100,000 deep")),
    "bomb.zip": (_bomb_zip, Expect(REFUSED, note="one entry of 300 MB of zeros")),
    "lying.zip": (_lying_zip, Expect(REFUSED, note="headers say 1 KB; inflates to 300 MB")),
    "noext.zip": (_noext_zip, Expect(PARTIAL, note="an entry without an extension")),
    "nested.zip": (_nested_zip, Expect(PARTIAL, note="ZIPs nested 5 deep, an article at each")),
    "nested-bomb.zip": (
        _nested_bomb_zip,
        Expect(REFUSED, note="16 inner ZIPs of 20 MB of zeros each"),
    ),
    "padded.docx": (
        _padded_docx,
        Expect(
            REFUSED,
            heavy=True,
            note="document.xml 1,000x, hidden by a stored padding entry (item 5)",
        ),
    ),
    "laughs.docx": (_laughs_docx, Expect(EITHER, note="an XML billion-laughs entity")),
    "lines.pdf": (
        _lines_pdf,
        Expect(READ, heavy=True, note="20,000 one-word lines in 6 KB (item 3)"),
    ),
    "bomb.pdf": (
        _bomb_pdf,
        Expect(REFUSED, heavy=True, note="100 pages drawing one stream inflating to 70 MB"),
    ),
    "aes-empty-password.pdf": (
        _aes_empty_password_pdf,
        Expect(READ, note="AES-128, empty user password (item 10)"),
    ),
    "aes-password.pdf": (
        _aes_password_pdf,
        Expect(REFUSED, mentions="password", note="AES-128 with a real password (item 10)"),
    ),
    "nested.html": (_nested_html, Expect(EITHER, note="100,000 nested divs")),
    "links.html": (_links_html, Expect(EITHER, note="512 KB of unclosed <link tags")),
}


def file_case(name: str, full: bool = False) -> Case:
    maker, expect = FILES[name]
    return Case(name, maker(full), expect)


def file_cases(full: bool = False) -> Iterator[Case]:
    for name in FILES:
        yield file_case(name, full)

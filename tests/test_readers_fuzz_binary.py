"""Hostile ZIP archives, Word documents and PDFs, built by structure then mutated (see
test_readers_fuzz.py): a bounded result or the project's one-line error, never another
exception."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fuzz_helpers import FUZZ_LIMITS, check, fuzz, html_soup, news_desk_text, record, words
from hostile_corpus import (
    WORDS,
    PdfSpec,
    document_xml,
    docx_bytes,
    docx_replace,
    pdf_bytes,
    text_content,
    zip_bytes,
)
from hypothesis import example, given
from hypothesis import strategies as st

# a runaway read is stopped by the read budget (FUZZ_LIMITS); this only bounds the worst case
pytestmark = pytest.mark.timeout(180)


# ---- ZIP archives of all of the above ------------------------------------------------------------
entry_name = st.one_of(
    st.sampled_from(
        [
            "a.txt", "b.md", "c.json", "d.jsonl", "e.html", "f.pdf", "g.docx", "h.zip", "README",
            "../../x.txt", "/abs.txt", "__MACOSX/._a.txt", ".DS_Store", "dir/", "ü.txt", "a.TXT",
        ]
    ),
    st.text(min_size=1, max_size=20).filter(lambda n: "\x00" not in n),
)  # fmt: skip
entry_data = st.one_of(
    news_desk_text(),
    html_soup(),
    record.map(lambda r: json.dumps(r).encode()),
    st.lists(record, max_size=8).map(lambda rs: json.dumps(rs).encode()),
    st.binary(max_size=300),
)
GOOD_RECORD = {"title": "A title", "paragraphs": ["A paragraph of plain text."]}
# each entry within the limit on articles, all of them together over it
MANY_ARTICLES_ZIP = zip_bytes(
    {
        f"part{n}.json": json.dumps(
            [
                {**GOOD_RECORD, "title": f"Article {n}.{i}"}
                for i in range(FUZZ_LIMITS.max_articles_per_file)
            ]
        ).encode()
        for n in range(3)
    }
)


@st.composite
def zip_variant(draw, depth: int = 0) -> bytes:
    entries = draw(st.dictionaries(entry_name, entry_data, max_size=6))
    if depth < 3 and draw(st.booleans()):
        entries[f"nested{depth}.zip"] = draw(zip_variant(depth + 1))
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    data = bytearray(zip_bytes(entries, method))
    for _ in range(draw(st.integers(0, 2))):
        # a header that lies: bytes of the local or central headers overwritten
        if data:
            at = draw(st.integers(0, len(data) - 1))
            data[at : at + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


@fuzz(20)
@example(MANY_ARTICLES_ZIP)
@given(zip_variant())
def test_zip_variants(data):
    check("fuzz.zip", data)


@fuzz(20)
@example({"line\nbreak": b"A title"})  # found by this test: an error of two lines
@given(
    st.dictionaries(
        # (the stdlib's writer cuts names at a NUL; the reader's handling of NULs is fuzzed above)
        st.text(
            st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
            min_size=1,
            max_size=20,
        ),
        st.binary(max_size=512),
        max_size=5,
    )
)
def test_zip_random_entries(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    check("fuzz.zip", buffer.getvalue())


# ---- Word documents: python-docx, then mutated ---------------------------------------------------
docx_run = st.one_of(
    words.map(lambda w: f"<w:r><w:t>{w.replace('&', '').replace('<', '')}</w:t></w:r>"),
    st.just("<w:r><w:t>&#x110000;</w:t></w:r>"),
    st.just('<w:r><w:t xml:space="preserve">  </w:t></w:r>'),
    st.just("<w:r><w:tab/><w:br/></w:r>"),
    st.just('<w:pPr><w:pStyle w:val="Heading1"/></w:pPr>'),
    st.just('<w:pPr><w:pStyle w:val="NoSuchStyle"/></w:pPr>'),
)
docx_block = st.one_of(
    st.lists(docx_run, max_size=6).map(lambda runs: f"<w:p>{''.join(runs)}</w:p>"),
    st.lists(docx_run, max_size=3).map(
        lambda runs: f"<w:tbl><w:tr><w:tc><w:p>{''.join(runs)}</w:p></w:tc></w:tr></w:tbl>"
    ),
    st.integers(1, 2_000).map(lambda n: "<w:p>" * n + "x" + "</w:p>" * n),
    st.just("<w:p><w:r>"),  # unclosed
)


@st.composite
def docx_variant(draw) -> bytes:
    # python-docx itself refuses control characters: the mutations below bring them in
    plain = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
    base = docx_bytes(draw(plain), draw(st.lists(plain, max_size=6)))
    mutation = draw(st.sampled_from(["none", "body", "drop", "truncate", "bytes"]))
    if mutation == "body":
        body = "".join(draw(st.lists(docx_block, max_size=12)))
        return docx_replace(base, {"word/document.xml": document_xml(body)})
    if mutation == "drop":
        part = draw(st.sampled_from(["word/styles.xml", "[Content_Types].xml", "_rels/.rels"]))
        source = zipfile.ZipFile(io.BytesIO(base))
        kept = {i.filename: source.read(i) for i in source.infolist() if i.filename != part}
        return zip_bytes(kept)
    if mutation == "truncate":
        return base[: draw(st.integers(0, len(base)))]
    if mutation == "bytes":
        data = bytearray(base)
        at = draw(st.integers(0, len(data) - 1))
        data[at : at + 8] = draw(st.binary(min_size=1, max_size=8))
        return bytes(data)
    return base


@fuzz(30)
@given(docx_variant())
def test_docx_variants(data):
    check("fuzz.docx", data)


# ---- PDF: built, then byte-mutated ---------------------------------------------------------------
pdf_line = st.one_of(words, st.just(""), st.text(max_size=30))


@st.composite
def pdf_variant(draw) -> bytes:
    pages = draw(
        st.lists(st.lists(pdf_line, max_size=40).map(text_content), min_size=1, max_size=4)
    )
    spec = PdfSpec(
        pages=pages,
        title=draw(st.one_of(st.none(), words, st.just("Microsoft Word - draft.docx"))),
        compress=draw(st.booleans()),
        shared=draw(st.booleans()),
    )
    data = pdf_bytes(spec)
    if draw(st.booleans()):
        data = pypdf_rewritten(data)
    mutation = draw(st.sampled_from(["none", "overwrite", "truncate", "duplicate", "numbers"]))
    if mutation == "overwrite":
        at = draw(st.integers(0, len(data) - 1))
        noise = draw(st.binary(min_size=1, max_size=16))
        data = data[:at] + noise + data[at + len(noise) :]
    elif mutation == "truncate":
        data = data[: draw(st.integers(9, len(data)))]
    elif mutation == "duplicate":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + data[at : at + 200] * draw(st.integers(2, 20)) + data[at:]
    elif mutation == "numbers":
        target = draw(st.sampled_from([b"/Count ", b"/Length ", b"0 R", b"startxref\n"]))
        number = str(draw(st.sampled_from([-1, 0, 2**31, 10**12, 99999]))).encode()
        data = data.replace(target, target + number + b" ", 1)
    return data


def pypdf_rewritten(data: bytes) -> bytes:
    """The same document as pypdf's writer lays it out (object streams, compressed xref)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.compress_identical_objects()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@fuzz(40)
@given(pdf_variant())
def test_pdf_variants(data):
    check("fuzz.pdf", data)

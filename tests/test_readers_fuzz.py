"""Random bytes never make a reader do anything but return a ReadResult or raise a ReadError."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archivist.errors import ReadError
from archivist.models import ReadResult
from archivist.readers import read_bytes

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(name: str, data: bytes) -> None:
    try:
        result = read_bytes(name, data)
    except ReadError as exc:
        assert str(exc).startswith(name)
        assert "Traceback" not in str(exc)
        return
    assert isinstance(result, ReadResult)
    for _, article in result.articles:
        assert article.title and article.paragraphs


@FUZZ
@given(st.binary(max_size=4096))
def test_html_random_bytes(data):
    check("fuzz.html", data)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "<div>",
                "</div>",
                "<p>",
                "</p>",
                "<script>",
                "</script>",
                "<h2>",
                "x y z ",
                "<title>",
                "</title>",
                "<!--",
                "-->",
                "&amp;",
                "\x00",
                "<meta property='og:title' content='t'>",
            ]
        ),
        max_size=300,
    )
)
def test_html_random_markup(parts):
    check("fuzz.htm", "".join(parts).encode())


@FUZZ
@given(st.binary(max_size=4096))
def test_pdf_random_bytes(data):
    check("fuzz.pdf", data)


@FUZZ
@given(st.binary(max_size=2048))
def test_pdf_random_bytes_after_a_header(data):
    check("fuzz.pdf", b"%PDF-1.4\n" + data)


@FUZZ
@given(st.binary(max_size=4096))
def test_docx_random_bytes(data):
    check("fuzz.docx", data)


@FUZZ
@given(st.binary(max_size=4096))
def test_zip_random_bytes(data):
    check("fuzz.zip", data)


@FUZZ
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


@FUZZ
@given(st.binary(min_size=30, max_size=600), st.integers(min_value=0, max_value=599))
def test_zip_with_corrupted_bytes(noise, at):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.txt", "Title\n\nA paragraph of text that will be damaged.\n")
        z.writestr("b.html", "<html><body><p>Another entry.</p></body></html>")
    data = bytearray(buffer.getvalue())
    at = at % len(data)
    data[at : at + len(noise)] = noise[: len(data) - at]
    check("fuzz.zip", bytes(data))

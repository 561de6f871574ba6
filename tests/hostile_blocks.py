"""The building blocks of the hostile corpus (tests/hostile_corpus.py): what is expected of an
input, compressed zeros, seeded news-like text and Word documents."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import NamedTuple

READ = "read"  # stored: at least one article, nothing failed
REFUSED = "refused"  # nothing stored, and a one-line reason naming the input
PARTIAL = "partial"  # the good parts stored, each bad part reported
EITHER = "read or refused"  # both are fine, as long as it is bounded and said clearly


@dataclass(frozen=True)
class Expect:
    outcome: str
    mentions: str = ""  # a word the refusal must use (lower case), e.g. "password"
    heavy: bool = False  # takes seconds to make or to read: the tests mark it slow
    timeout_s: float = 30.0  # a test's guard: far under what the unfixed code took to fail
    note: str = ""  # what the input is, and the issue item it comes from


class Case(NamedTuple):
    name: str  # a file name (its extension picks the reader), or a URL
    data: bytes
    expect: Expect


MB = 1024 * 1024


# ---- building blocks ---------------------------------------------------------------------------
def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression, compresslevel=9) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zero_deflate(size: int, wbits: int) -> bytes:
    """`size` zero bytes compressed, made in milliseconds: after a full flush the compressor
    forgets its history, so every further megabyte compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    whole, rest = divmod(size, MB)
    if whole == 0:
        return compressor.compress(bytes(rest)) + compressor.flush()
    first = compressor.compress(bytes(MB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(bytes(MB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(bytes(rest)) + compressor.flush()
    return first + repeat * (whole - 1) + tail


def _zeros_crc(size: int) -> int:
    crc = 0
    chunk = bytes(MB)
    for _ in range(size // MB):
        crc = zlib.crc32(chunk, crc)
    return zlib.crc32(bytes(size % MB), crc)


def gzip_zeros(size: int) -> bytes:
    """A gzip member of `size` zeros (about 1,000 times smaller)."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", _zeros_crc(size), size & 0xFFFFFFFF)
    return header + _zero_deflate(size, -15) + trailer


def zip_of_zeros(name: str, size: int, declared: int | None = None) -> bytes:
    """A ZIP of one entry of `size` zeros, written without ever holding them; its headers say
    it holds `declared` bytes (by default the truth)."""
    raw = _zero_deflate(size, -15)
    return _zip_one_entry(name.encode(), raw, _zeros_crc(size), declared=declared or size)


def _zip_one_entry(name: bytes, raw: bytes, crc: int, declared: int) -> bytes:
    """A one-entry deflated ZIP whose headers declare `declared` bytes (true or not)."""
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(raw), declared, len(name), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0x21,
        crc,
        len(raw),
        declared,
        len(name),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + name + raw
    directory = central + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    return body + directory + end


def seeded(name: str) -> random.Random:
    return random.Random(hashlib.sha256(name.encode()).digest())


WORDS = (
    "council harbour ferry budget minister election school bridge river market station hospital "
    "report police weather storm league coach festival museum library farmers prices workers "
    "union strike court judge village mayor residents plans project funding energy wind solar "
    "train airport tourism fishing"
).split()


def sentence(rng: random.Random, words: int = 14) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random, sentences: int = 4) -> str:
    return " ".join(sentence(rng, rng.randint(8, 20)) for _ in range(sentences))


def news_text(rng: random.Random, paragraphs: int, sentences: int = 4) -> str:
    """An article in the news-desk layout the text reader knows (kicker, caption, credit)."""
    lines = [
        "Harbour: Evening ferry leaves earlier",
        "Harbour",
        "Evening ferry leaves earlier",
        "The ferry at the quay in the morning. photo",
        "© Example Agency",
        sentence(rng, 20),
    ]
    for n in range(paragraphs):
        if n and n % 6 == 0:
            lines.append(f"What the council said {n}")
        lines.append(paragraph(rng, sentences))
    lines += ["dpa", "source Harbour Gazette"]
    return "\n\n".join(lines) + "\n"


# ---- Word documents ------------------------------------------------------------------------
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_bytes(title: str, paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(title, 0)
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_replace(data: bytes, parts: dict[str, bytes], stored: tuple[str, ...] = ()) -> bytes:
    """The package with some parts replaced or added (`stored` ones left uncompressed)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in source.infolist():
            if info.filename not in parts:
                out.writestr(info.filename, source.read(info))
        for name, content in parts.items():
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            out.writestr(name, content, compress_type=method)
    return buffer.getvalue()


def document_xml(body: str, doctype: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'{doctype}<w:document xmlns:w="{W_NS}"><w:body>{body}</w:body></w:document>'
    ).encode()


def docx_paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"

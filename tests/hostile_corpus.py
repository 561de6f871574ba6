"""Hostile inputs for every reader and for the fetcher (issue #17), made as bytes at run time:
nothing binary is committed.

* `file_case(name, full)` / `file_cases(full)`: files for `Archive.add_bytes`;
* `feed_case(name)` / `feed_cases()`: RSS and Atom for `parse_feed` and for polls;
* `hostile_server()`: a server on 127.0.0.1 with the fetcher's hostile endpoints (compression
  bombs, drips, redirect loops, bad redirect targets) and the feeds, and `url_cases(base)`.

`full=True` gives the sizes the issue measured (for `benchmarks/hostile.py`); the tests use
smaller ones where the size only adds time. Every input says what is expected of it (`Expect`).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import random
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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


# ---- PDF, assembled by hand (so a page can share a stream, or be encrypted) --------------------
def pdf_escape(text: str) -> bytes:
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_content(lines: list[str], leading: int = 14) -> bytes:
    """A page's content stream writing `lines` top to bottom, a blank line as a paragraph gap."""
    ops = [b"BT /F1 11 Tf %d TL 72 760 Td" % leading]
    for line in lines:
        ops.append(b"T*" if not line else b"(" + pdf_escape(line) + b") Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops)


@dataclass
class PdfSpec:
    pages: list[bytes]  # content streams; several pages may name the same one (see `shared`)
    title: str | None = None
    compress: bool = True
    shared: bool = False  # every page draws pages[0]: one stream object, many pages
    user_password: str | None = None  # None: not encrypted; "" opens without a password
    owner_password: str = "owner"
    objects: list[bytes] = field(default_factory=list)


def pdf_bytes(spec: PdfSpec) -> bytes:
    """A PDF of `spec`: catalog, pages, one font, content streams, optionally an Info title and
    the standard security handler (AES-128, revision 4)."""
    file_id = hashlib.md5(repr((spec.title, len(spec.pages))).encode()).digest()
    crypt = (
        _PdfCrypt(spec.user_password, spec.owner_password, file_id)
        if spec.user_password is not None
        else None
    )
    streams = spec.pages[:1] if spec.shared else spec.pages
    n_pages = len(spec.pages)
    first_stream = 4 + n_pages
    objects: dict[int, bytes] = {}
    kids = b" ".join(b"%d 0 R" % (4 + i) for i in range(n_pages))
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n_pages
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    for i in range(n_pages):
        content = first_stream + (0 if spec.shared else i)
        objects[4 + i] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content
        )
    for i, content in enumerate(streams):
        number = first_stream + i
        data = zlib.compress(content, 9) if spec.compress else content
        if crypt:
            data = crypt.encrypt(number, data)
        extra = b" /Filter /FlateDecode" if spec.compress else b""
        objects[number] = (
            b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"
        )
    trailer_extra = b""
    next_number = first_stream + len(streams)
    if spec.title is not None:
        title = spec.title.encode("latin-1", "replace")
        if crypt:
            objects[next_number] = (
                b"<< /Title <" + crypt.encrypt(next_number, title).hex().encode() + b"> >>"
            )
        else:
            objects[next_number] = b"<< /Title (" + pdf_escape(spec.title) + b") >>"
        trailer_extra += b" /Info %d 0 R" % next_number
        next_number += 1
    if crypt:
        objects[next_number] = crypt.dictionary()
        trailer_extra += b" /Encrypt %d 0 R" % next_number
    trailer_extra += b" /ID [<%s> <%s>]" % (file_id.hex().encode(), file_id.hex().encode())
    return _assemble(objects, trailer_extra)


def _assemble(objects: dict[int, bytes], trailer_extra: bytes) -> bytes:
    out = bytearray(b"%PDF-1.6\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += (
            b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 65535 f \n"
        )
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        trailer_extra,
        xref,
    )
    return bytes(out)


_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


class _PdfCrypt:
    """The standard security handler, revision 4 with AESV2 (PDF 1.6), for writing only."""

    P = -3904  # printing and copying not allowed: what "protected" published PDFs carry

    def __init__(self, user: str, owner: str, file_id: bytes) -> None:
        self.owner_value = self._owner_value(user, owner)
        digest = hashlib.md5(
            _padded(user) + self.owner_value + struct.pack("<i", self.P) + file_id
        ).digest()
        for _ in range(50):
            digest = hashlib.md5(digest).digest()
        self.key = digest
        check = hashlib.md5(_PAD + file_id).digest()
        for i in range(20):
            check = _rc4(bytes(b ^ i for b in self.key), check)
        self.user_value = check + bytes(16)

    def _owner_value(self, user: str, owner: str) -> bytes:
        digest = hashlib.md5(_padded(owner)).digest()
        for _ in range(50):
            digest = hashlib.md5(digest).digest()
        value = _padded(user)
        for i in range(20):
            value = _rc4(bytes(b ^ i for b in digest), value)
        return value

    def encrypt(self, number: int, data: bytes) -> bytes:
        key = hashlib.md5(self.key + struct.pack("<i", number)[:3] + b"\0\0sAlT").digest()
        iv = hashlib.md5(key + data[:64]).digest()
        return iv + aes128_cbc(key, iv, data)

    def dictionary(self) -> bytes:
        return (
            b"<< /Filter /Standard /V 4 /R 4 /Length 128 /P %d "
            b"/CF << /StdCF << /AuthEvent /DocOpen /CFM /AESV2 /Length 16 >> >> "
            b"/StmF /StdCF /StrF /StdCF /O <%s> /U <%s> >>"
            % (self.P, self.owner_value.hex().encode(), self.user_value.hex().encode())
        )


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _aes_sbox() -> list[int]:
    sbox = [0] * 256
    p = q = 1
    while True:
        p = (p ^ (p << 1) ^ (0x1B if p & 0x80 else 0)) & 0xFF
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        rotated = q ^ ((q << 1) | (q >> 7)) ^ ((q << 2) | (q >> 6))
        rotated ^= ((q << 3) | (q >> 5)) ^ ((q << 4) | (q >> 4))
        sbox[p] = (rotated ^ 0x63) & 0xFF
        if p == 1:
            break
    sbox[0] = 0x63
    return sbox


_SBOX = _aes_sbox()


def _xtime(b: int) -> int:
    return ((b << 1) ^ 0x1B) & 0xFF if b & 0x80 else b << 1


def _aes_round_keys(key: bytes) -> list[list[int]]:
    words = [list(key[i : i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        word = list(words[i - 1])
        if i % 4 == 0:
            word = [_SBOX[b] for b in word[1:] + word[:1]]
            word[0] ^= rcon
            rcon = _xtime(rcon)
        words.append([a ^ b for a, b in zip(words[i - 4], word, strict=True)])
    return [sum(words[r * 4 : r * 4 + 4], []) for r in range(11)]


def aes128_block(round_keys: list[list[int]], block: bytes) -> bytes:
    """One AES-128 block (FIPS-197); the test PDFs are small, so plain Python will do."""
    state = [b ^ k for b, k in zip(block, round_keys[0], strict=True)]
    for rnd in range(1, 11):
        state = [_SBOX[b] for b in state]
        state = [state[(i + 4 * (i % 4)) % 16] for i in range(16)]  # rows shifted left
        if rnd < 10:
            mixed = []
            for c in range(4):
                a = state[4 * c : 4 * c + 4]
                total = a[0] ^ a[1] ^ a[2] ^ a[3]
                mixed += [a[i] ^ total ^ _xtime(a[i] ^ a[(i + 1) % 4]) for i in range(4)]
            state = mixed
        state = [b ^ k for b, k in zip(state, round_keys[rnd], strict=True)]
    return bytes(state)


def aes128_cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    pad = 16 - len(data) % 16
    data += bytes([pad]) * pad
    round_keys = _aes_round_keys(key)
    out = bytearray()
    previous = iv
    for i in range(0, len(data), 16):
        block = bytes(a ^ b for a, b in zip(data[i : i + 16], previous, strict=True))
        previous = aes128_block(round_keys, block)
        out += previous
    return bytes(out)


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


# ---- feeds -------------------------------------------------------------------------------------
def article_page(title: str, seed: str, paragraphs: int = 4) -> bytes:
    rng = seeded(seed)
    body = "".join(f"<p>{paragraph(rng)}</p>" for _ in range(paragraphs))
    return (
        f"<html><head><title>{title} - Harbour Gazette</title></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def rss(title: str, items: list[tuple[str, str, str]]) -> bytes:
    """RSS 2.0 with items (title, link, description), each inserted as is (not escaped)."""
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        "<link>http://127.0.0.1/</link><description>Local news</description>"
    ]
    for n, (item_title, link, text) in enumerate(items):
        parts.append(
            f"<item><title>{item_title}</title><link>{link}</link><guid>item-{n}</guid>"
            "<pubDate>Mon, 06 May 2024 10:00:00 GMT</pubDate>"
            f"<description>{text}</description></item>"
        )
    return ("".join(parts) + "</channel></rss>").encode()


def _summary(seed: str) -> str:
    return " ".join(paragraph(seeded(seed)) for _ in range(2))


def _idna_feed(base: str) -> bytes:
    return rss(
        "Bad links",
        [
            ("Ferry timetable changes", f"{base}/news/ferry", _summary("ferry")),
            ("A link with an empty IDNA label", "http://xn--/", "Short."),
            ("A link with an open bracket", "http://[::1", "Short."),
            ("Bridge reopens", f"{base}/news/bridge", _summary("bridge")),
        ],
    )


def _entity_feed(base: str) -> bytes:
    return rss(
        "Bad entities",
        [
            ("School lunches", f"{base}/news/school", _summary("school")),
            ("Out of range &#x110000; here", f"{base}/news/library", "&#99999999999; and &#xD800;"),
        ],
    )


def _zip_item_feed(base: str) -> bytes:
    return rss(
        "A bundle",
        [
            ("A ZIP of many articles", f"{base}/bundle.zip", "Short."),
            ("Wind farm approved", f"{base}/news/wind", _summary("wind")),
        ],
    )


def _many_items_feed(base: str) -> bytes:
    # no links: each item is its own text, so a poll costs no fetch per item
    pool = [_summary(f"item {n}") for n in range(20)]
    items = [(f"Item {n}", "", f"Item {n}. {pool[n % 20]}") for n in range(5_000)]
    return rss("Many items", items)


def _deep_feed(base: str) -> bytes:
    deep = "&lt;div&gt;" * 20_000 + "deep" + "&lt;/div&gt;" * 20_000
    return rss("Deep", [("Deep item", f"{base}/news/market", deep)])


FeedMaker = Callable[[str], bytes]

FEEDS: dict[str, tuple[FeedMaker, Expect]] = {
    "idna.rss": (
        _idna_feed,
        Expect(PARTIAL, note="item links http://xn--/ and http://[::1 (item 2)"),
    ),
    "entity.rss": (_entity_feed, Expect(EITHER, note="character references out of range (item 2)")),
    "zip-item.rss": (_zip_item_feed, Expect(PARTIAL, note="an item linking to a ZIP (item 9)")),
    "many-items.rss": (_many_items_feed, Expect(EITHER, note="5,000 items")),
    "deep.rss": (_deep_feed, Expect(EITHER, note="an item's HTML nested 20,000 deep")),
}


def feed_case(name: str, base: str = "http://127.0.0.1:9") -> Case:
    maker, expect = FEEDS[name]
    return Case(name, maker(base), expect)


def feed_cases(base: str = "http://127.0.0.1:9") -> Iterator[Case]:
    for name in FEEDS:
        yield feed_case(name, base)


# ---- the hostile server ------------------------------------------------------------------------
def brotli_stored(data: bytes) -> bytes:
    """`data` as a brotli stream of uncompressed meta-blocks (RFC 7932), with no library."""
    bits: list[int] = [0]  # WBITS = 16

    def put(value: int, count: int) -> None:
        bits.extend((value >> i) & 1 for i in range(count))

    out = bytearray()
    for start in range(0, len(data), 65536):
        block = data[start : start + 65536]
        put(0, 1)  # ISLAST
        put(0, 2)  # MNIBBLES: 4
        put(len(block) - 1, 16)
        put(1, 1)  # ISUNCOMPRESSED
        bits.extend([0] * (-len(bits) % 8))
        out += _pack_bits(bits) + block
        bits = []
    put(1, 1)  # ISLAST
    put(1, 1)  # ISLASTEMPTY
    bits.extend([0] * (-len(bits) % 8))
    return bytes(out + _pack_bits(bits))


def _pack_bits(bits: list[int]) -> bytes:
    return bytes(
        sum(bit << i for i, bit in enumerate(bits[n : n + 8])) for n in range(0, len(bits), 8)
    )


class UrlCase(NamedTuple):
    name: str
    target: str  # a path on the hostile server, or a whole (malformed) URL
    expect: Expect

    def url(self, base: str) -> str:
        return self.target if "://" in self.target else base + self.target


URLS: list[UrlCase] = [
    UrlCase("page", "/page", Expect(READ, note="an ordinary article page")),
    UrlCase(
        "gzip-gzip", "/gzip-gzip", Expect(REFUSED, note="gzip, gzip: 2.5 KB -> 1 GiB (item 1)")
    ),
    UrlCase("gzip", "/gzip", Expect(REFUSED, note="one gzip layer: 1 MB -> 1 GiB (item 1)")),
    UrlCase("br", "/br", Expect(EITHER, note="Content-Encoding: br")),
    UrlCase(
        "drip-headers", "/drip-headers", Expect(REFUSED, note="headers at a byte a second (item 4)")
    ),
    UrlCase("drip-body", "/drip-body", Expect(REFUSED, note="a body at a byte a second (item 4)")),
    UrlCase("redirect-loop", "/loop", Expect(REFUSED, note="a redirect to itself")),
    UrlCase(
        "bad-location", "/bad-location", Expect(REFUSED, note="Location: http://[::1 (item 8)")
    ),
    UrlCase(
        "idna-location", "/idna-location", Expect(REFUSED, note="Location: http://xn--/ (item 8)")
    ),
    UrlCase("huge-length", "/huge-length", Expect(REFUSED, note="Content-Length: 1 TB")),
    UrlCase("bracket-url", "http://[::1", Expect(REFUSED, note="the URL http://[::1 (item 8)")),
    UrlCase("idna-url", "http://xn--/", Expect(REFUSED, note="the URL http://xn--/ (item 8)")),
]


@dataclass
class HostileServer:
    base: str
    full: bool
    drip_interval: float
    stop: threading.Event = field(default_factory=threading.Event)
    hits: dict[str, int] = field(default_factory=dict)
    _cache: dict[str, bytes] = field(default_factory=dict)

    def body(self, key: str, make: Callable[[], bytes]) -> bytes:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def _bomb_size(server: HostileServer) -> int:
    return (1024 if server.full else 64) * MB


def _write(handler: http.server.BaseHTTPRequestHandler, raw: bytes) -> None:
    handler.wfile.write(raw)
    handler.wfile.flush()


def _respond(handler, status: int, headers: dict[str, str], body: bytes = b"") -> None:
    head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", "Connection: close"]
    head += [f"{key}: {value}" for key, value in headers.items()]
    if "Content-Length" not in headers:
        head.append(f"Content-Length: {len(body)}")
    _write(handler, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def _drip(handler, server: HostileServer, head: bytes, limit_s: float = 300.0) -> None:
    """`head`, then a byte every `drip_interval` seconds until the client goes (or the server
    stops, or `limit_s` passes: a bounded loop either way)."""
    _write(handler, head)
    ends = time.monotonic() + limit_s
    while not server.stop.wait(server.drip_interval) and time.monotonic() < ends:
        try:
            _write(handler, b"a")
        except OSError:  # the client closed the connection: the drip has done its job
            return


def _routes(server: HostileServer) -> dict[str, Callable]:
    html = {"Content-Type": "text/html; charset=utf-8"}
    bomb = _bomb_size(server)

    def stacked(h):
        body = server.body("gzip-gzip", lambda: gzip.compress(gzip_zeros(bomb), 9))
        _respond(h, 200, {**html, "Content-Encoding": "gzip, gzip"}, body)

    def single(h):
        _respond(
            h,
            200,
            {**html, "Content-Encoding": "gzip"},
            server.body("gzip", lambda: gzip_zeros(bomb)),
        )

    def brotli(h):
        body = brotli_stored(article_page("Brotli page", "br"))
        _respond(h, 200, {**html, "Content-Encoding": "br"}, body)

    def drip_headers(h):
        _drip(h, server, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Drip: ")

    def drip_body(h):
        _drip(
            h,
            server,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<p>",
        )

    def bundle(h):
        entries = {f"story{n}.txt": news_text(seeded(f"bundle {n}"), 3).encode() for n in range(3)}
        _respond(h, 200, {"Content-Type": "application/zip"}, zip_bytes(entries))

    routes: dict[str, Callable] = {
        "/page": lambda h: _respond(h, 200, html, article_page("Ferry timetable changes", "page")),
        "/gzip-gzip": stacked,
        "/gzip": single,
        "/br": brotli,
        "/drip-headers": drip_headers,
        "/drip-body": drip_body,
        "/loop": lambda h: _respond(h, 302, {"Location": "/loop"}),
        "/bad-location": lambda h: _respond(h, 302, {"Location": "http://[::1"}),
        "/idna-location": lambda h: _respond(h, 302, {"Location": "http://xn--/"}),
        "/huge-length": lambda h: _respond(h, 200, {**html, "Content-Length": str(10**12)}, b"<p>"),
        "/bundle.zip": bundle,
        "/links.html": lambda h: _respond(h, 200, html, discovery_page()),
    }
    for name, (maker, _) in FEEDS.items():
        routes[f"/feeds/{name}"] = lambda h, m=maker: _respond(
            h, 200, {"Content-Type": "application/rss+xml"}, m(server.base)
        )
    return routes


def _news_page(handler, path: str) -> bool:
    if not path.startswith("/news/"):
        return False
    topic = path.rsplit("/", 1)[-1]
    _respond(handler, 200, {"Content-Type": "text/html"}, article_page(topic.title(), topic))
    return True


@contextmanager
def hostile_server(
    full: bool = False, drip_interval: float = 1.0, lifetime_s: float = 900.0
) -> Iterator[HostileServer]:
    """The hostile endpoints on 127.0.0.1 (a free port), served from a thread. The server stops
    when the block ends, or after `lifetime_s` whatever happens."""
    state: dict[str, HostileServer] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            server = state["server"]
            path = self.path.split("?", 1)[0]
            server.hits[path] = server.hits.get(path, 0) + 1
            route = routes.get(path)
            try:
                if route is not None:
                    route(self)
                elif not _news_page(self, path):
                    _respond(self, 404, {"Content-Type": "text/plain"}, b"not found")
            except OSError:
                pass  # the client went away mid-answer: expected of a client with a deadline

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server = HostileServer(f"http://127.0.0.1:{httpd.server_address[1]}", full, drip_interval)
    state["server"] = server
    routes = _routes(server)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.2,), daemon=True)
    thread.start()
    timer = threading.Timer(lifetime_s, server.stop.set)
    timer.daemon = True
    timer.start()
    watcher = threading.Thread(target=lambda: (server.stop.wait(), httpd.shutdown()), daemon=True)
    watcher.start()
    try:
        yield server
    finally:
        timer.cancel()
        server.stop.set()
        watcher.join(10)
        httpd.server_close()

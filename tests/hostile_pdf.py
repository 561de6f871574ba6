"""PDFs assembled by hand for the hostile corpus (tests/hostile_corpus.py), so a page can share a
stream or be encrypted (RC4 and AES-128, written out here: no crypto package needed)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field


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

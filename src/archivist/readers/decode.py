"""Bytes to text: UTF-8 first, then cp1252, then latin-1 (which never fails); NULs stripped."""

from __future__ import annotations

import unicodedata

_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"


def looks_binary(data: bytes, sample: int = 65536) -> bool:
    """True for data that is not text in any encoding we read (an image, random bytes).

    NULs are ignored (text with stray NULs, or UTF-16 without a BOM, is still text); other
    control characters are rare in text and common in binary data.
    """
    head = data[:sample].replace(b"\x00", b"")
    if not head:
        return False
    controls = sum(head.count(bytes([c])) for c in _CONTROL)
    return controls / len(head) > 0.02


def decode_text(data: bytes) -> str:
    data = data.replace(b"\x00", b"")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return _clean(data.decode("utf-16"))
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8", "cp1252"):
        try:
            return _clean(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    return _clean(data.decode("latin-1"))


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    # control characters other than newline and tab carry no text and confuse tokenizers
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    return unicodedata.normalize("NFC", text)

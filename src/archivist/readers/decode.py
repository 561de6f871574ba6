"""Bytes to text: UTF-8 first, then cp1252, then latin-1 (which never fails); NULs stripped."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"
# Control characters (Unicode category Cc, but newline and tab) and lone surrogates (Cs) carry
# no text and confuse tokenizers. "\r" is absent: it is turned into a newline before this runs.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# white space other than single spaces between words
_MESSY_SPACE = re.compile(r"[^\S ]|  |^ | $")
_NOT_SPACE = re.compile(r"\S")
_SLICE = 64 * 1024
_DELETE_CONTROLS = dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000)]
)


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
    # str.replace and normalize return their input itself when there is nothing to change, and
    # the search only reads: clean text (the usual case) is never copied
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL_CHARS.search(text) is not None:
        text = _strip_controls(text)
    return unicodedata.normalize("NFC", text)


def _strip_controls(text: str) -> str:
    # str.translate writes the result directly; re.sub would hold every piece between two
    # matches at once, a million small strings for text dense with control characters
    return text.translate(_DELETE_CONTROLS)


def collapse_space(text: str) -> str:
    """`" ".join(text.split())`: runs of white space made one space, none at either end.

    A clean text is returned as it is; a messy long one is collapsed a slice at a time, never
    as a list of all its words (2 MB of words would be 28 MB of small strings).
    """
    if _MESSY_SPACE.search(text) is None:
        return text
    out: list[str] = []
    start, length = 0, len(text)
    while start < length:
        # slices end where a word begins, so no run of white space is cut in two
        after = _NOT_SPACE.search(text, start + _SLICE) if start + _SLICE < length else None
        end = after.start() if after is not None else length
        piece = " ".join(text[start:end].split())
        if piece:
            if out and text[start - 1].isspace():
                out.append(" ")
            out.append(piece)
        start = end
    return "".join(out)

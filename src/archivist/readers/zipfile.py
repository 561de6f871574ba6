"""ZIP archives (`.zip`): every supported file inside, read in memory.

Each entry is read by its own reader through `archivist.readers.read_bytes`, under the origin
``archive.zip!folder/file.html``. Nothing is written to disk: an entry named ``../../x`` is only a
label. Entries that cannot be read (unsupported formats, no file extension, encrypted or damaged
entries, ZIPs nested too deeply, bzip2 or LZMA compression) are reported as failures, never
dropped silently; operating-system clutter (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``) is
skipped, and listed as skipped.

Limits (`Limits`): the number of entries, their total uncompressed size, the compression ratio,
and the articles of all entries together (`max_articles_per_file`: the archive is one input).
The sizes an archive declares are checked before anything is inflated; entries are then inflated
a chunk at a time, never past the size they declare nor the archive's budget (a header can lie).
A nested ZIP shares its parent's budget.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile as _zip
import zlib
from pathlib import PurePosixPath

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError, UnsupportedFormat
from archivist.models import ReadFailure, ReadResult

EXTENSIONS = (".zip",)

MAX_NESTING = 2  # a ZIP inside a ZIP inside a ZIP is read; one level deeper is refused
CHUNK = 64 * 1024
_CLUTTER_DIRS = ("__MACOSX/",)
_CLUTTER_FILES = {".ds_store", "thumbs.db", "desktop.ini"}
# methods zipfile inflates with a bound on each step's output; see `_refusal`
_STREAMED_METHODS = (_zip.ZIP_STORED, _zip.ZIP_DEFLATED)
_METHOD_NAMES = {_zip.ZIP_BZIP2: "bzip2", _zip.ZIP_LZMA: "LZMA", 9: "Deflate64"}
# an entry's name is only a label, shown on one line: control characters and line breaks in it
# are shown as "?"
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# what a damaged entry raises while it is inflated
_DAMAGE = (_zip.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError)


class _Budget(Exception):
    """The bytes actually inflated went over the archive's budget."""


def read(origin: str, data: bytes, limits: Limits) -> ReadResult:
    from archivist.readers import read_bytes

    try:
        archive = _zip.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (_zip.BadZipFile, _zip.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ReadError(
            origin, f"not a readable ZIP archive ({exc or type(exc).__name__})"
        ) from None
    _check_declared(origin, data, infos, limits)

    result = ReadResult()
    inflated = 0
    for info in infos:
        name = _label(info)
        entry_origin = f"{origin}!{name}"
        if name.startswith(_CLUTTER_DIRS) or PurePosixPath(name).name.lower() in _CLUTTER_FILES:
            result.skipped.append(
                ReadFailure(entry_origin, "operating-system file, not an article")
            )
            continue
        if (refusal := _refusal(origin, name, info)) is not None:
            kind, reason = refusal
            result.failures.append(ReadFailure(entry_origin, reason, kind))
            continue
        try:
            content = _inflate(archive, info, limits.max_zip_total_bytes - inflated)
        except _Budget:
            raise InputTooLarge(
                origin,
                f"the archive inflates to more than {limits.max_zip_total_bytes / 1e6:.0f} MB "
                "(more than its entries declare); refused as a possible ZIP bomb",
            ) from None
        except _DAMAGE as exc:
            result.failures.append(ReadFailure(entry_origin, _damaged(exc), ReadError.kind))
            continue
        inflated += len(content)
        # a nested archive may only spend what is left of this one's budget
        entry_limits = dataclasses.replace(
            limits, max_zip_total_bytes=max(0, limits.max_zip_total_bytes - inflated)
        )
        try:
            result.extend(read_bytes(entry_origin, content, entry_limits))
        except ReadError as exc:
            result.failures.append(ReadFailure(entry_origin, exc.reason, exc.kind))
        # the archive is one input: its entries' articles together stay within the limit
        if len(result.articles) > limits.max_articles_per_file:
            raise InputTooLarge(
                origin,
                f"more than {limits.max_articles_per_file} articles in the archive, over the "
                "limit for one file",
            )
    if not result.articles and not result.failures:
        what = "only operating-system files" if result.skipped else "no files"
        raise ReadError(origin, f"the ZIP archive has {what}")
    return result


def _refusal(origin: str, name: str, info: _zip.ZipInfo) -> tuple[str, str] | None:
    """(kind, reason) of an entry that is not read, decided before any of it is inflated; None
    to read it."""
    from archivist.readers import extension_of, supported_extensions

    if info.flag_bits & 0x1:
        return UnsupportedFormat.kind, "the entry is encrypted"
    if not extension_of(name):
        supported = ", ".join(supported_extensions())
        return UnsupportedFormat.kind, f"no file extension; supported: {supported}"
    if name.lower().endswith(".zip") and origin.count("!") >= MAX_NESTING:
        return InputTooLarge.kind, f"ZIPs nested more than {MAX_NESTING + 1} deep are not read"
    if info.compress_type not in _STREAMED_METHODS:
        method = _METHOD_NAMES.get(info.compress_type, f"compression method {info.compress_type}")
        # Python's zipfile inflates these a whole read at a time, whatever the entry declares:
        # 241 bytes of bzip2 became 100 MB in one step
        return UnsupportedFormat.kind, (
            f"compressed with {method}, which is not read; only stored and deflate-compressed "
            "entries are (the usual ZIP compression)"
        )
    return None


def _label(info: _zip.ZipInfo) -> str:
    """The entry's name as shown in a message (and read by its extension)."""
    return _UNPRINTABLE.sub("?", info.filename.replace("\x00", ""))


def _damaged(exc: Exception) -> str:
    if isinstance(exc, zlib.error):
        return "damaged entry: its compressed data is corrupt"
    if "CRC" in str(exc):
        return "damaged entry: its checksum does not match its content"
    return f"damaged entry ({exc or type(exc).__name__})"


def _check_declared(origin: str, data: bytes, infos: list[_zip.ZipInfo], limits: Limits) -> None:
    if len(infos) > limits.max_zip_entries:
        raise InputTooLarge(
            origin, f"{len(infos)} entries, over the limit of {limits.max_zip_entries}"
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_zip_total_bytes:
        raise InputTooLarge(
            origin,
            f"the archive unpacks to {total / 1e6:.1f} MB, over the limit of "
            f"{limits.max_zip_total_bytes / 1e6:.1f} MB; refused as a possible ZIP bomb",
        )
    ratio = total / max(1, len(data))
    if ratio > limits.max_zip_ratio:
        raise InputTooLarge(
            origin,
            f"the archive unpacks to {ratio:.0f} times its size "
            f"(limit {limits.max_zip_ratio:.0f}); "
            "refused as a possible ZIP bomb",
        )
    for info in infos:
        entry_ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > 1024 * 1024 and entry_ratio > limits.max_zip_ratio:
            raise InputTooLarge(
                origin,
                f"entry {_label(info)} unpacks to {entry_ratio:.0f} times its size; "
                "refused as a possible ZIP bomb",
            )


def _inflate(archive: _zip.ZipFile, info: _zip.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, inflated a chunk at a time (zipfile gives deflate `max_length` per
    step), stopping as soon as they go over the archive's budget or the size the entry declares:
    a header can lie, and only declared sizes were checked."""
    out = io.BytesIO()  # getvalue() hands over its buffer: no second copy of the entry
    with archive.open(info) as stream:
        while chunk := stream.read(CHUNK):
            out.write(chunk)
            if out.tell() > budget:
                raise _Budget()
            if out.tell() > info.file_size:
                raise _zip.BadZipFile(
                    f"it inflates to more than the {info.file_size:,} bytes it declares"
                )
    return out.getvalue()

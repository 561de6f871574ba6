"""ZIP archives (`.zip`): every supported file inside, read in memory.

Each entry is read by its own reader through `archivist.readers.read_bytes`, under the origin
``archive.zip!folder/file.html``. Nothing is written to disk: an entry named ``../../x`` is only a
label. Entries that cannot be read (unsupported formats, encrypted or damaged entries, ZIPs nested
too deeply) are reported as failures, never dropped silently; operating-system clutter
(``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``) is skipped, and listed as skipped.

Limits (`Limits`): the number of entries, their total uncompressed size, and the compression
ratio. The sizes an archive declares are checked before anything is inflated, and the bytes
actually inflated are counted too (a header can lie). A nested ZIP shares its parent's budget.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile as _zip
from pathlib import PurePosixPath

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.models import ReadFailure, ReadResult

EXTENSIONS = (".zip",)

MAX_NESTING = 2  # a ZIP inside a ZIP inside a ZIP is read; one level deeper is refused
CHUNK = 64 * 1024
_CLUTTER_DIRS = ("__MACOSX/",)
_CLUTTER_FILES = {".ds_store", "thumbs.db", "desktop.ini"}


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
        name = info.filename.replace("\x00", "")
        entry_origin = f"{origin}!{name}"
        if name.startswith(_CLUTTER_DIRS) or PurePosixPath(name).name.lower() in _CLUTTER_FILES:
            result.skipped.append(
                ReadFailure(entry_origin, "operating-system file, not an article")
            )
            continue
        if info.flag_bits & 0x1:
            result.failures.append(ReadFailure(entry_origin, "the entry is encrypted"))
            continue
        if name.lower().endswith(".zip") and origin.count("!") >= MAX_NESTING:
            result.failures.append(
                ReadFailure(
                    entry_origin, f"ZIPs nested more than {MAX_NESTING + 1} deep are not read"
                )
            )
            continue
        try:
            content = _inflate(archive, info, limits.max_zip_total_bytes - inflated)
        except _Budget:
            raise InputTooLarge(
                origin,
                f"the archive inflates to more than {limits.max_zip_total_bytes / 1e6:.0f} MB "
                "(more than its entries declare); refused as a possible ZIP bomb",
            ) from None
        except (_zip.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
            result.failures.append(ReadFailure(entry_origin, f"damaged entry ({exc})"))
            continue
        inflated += len(content)
        # a nested archive may only spend what is left of this one's budget
        entry_limits = dataclasses.replace(
            limits, max_zip_total_bytes=max(0, limits.max_zip_total_bytes - inflated)
        )
        try:
            result.extend(read_bytes(entry_origin, content, entry_limits))
        except ReadError as exc:
            result.failures.append(ReadFailure(entry_origin, exc.reason))
    if not result.articles and not result.failures:
        what = "only operating-system files" if result.skipped else "no files"
        raise ReadError(origin, f"the ZIP archive has {what}")
    return result


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
                f"entry {info.filename!r} unpacks to {entry_ratio:.0f} times its size; "
                "refused as a possible ZIP bomb",
            )


def _inflate(archive: _zip.ZipFile, info: _zip.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, stopping as soon as they go over the budget."""
    out = bytearray()
    with archive.open(info) as stream:
        while chunk := stream.read(CHUNK):
            out += chunk
            if len(out) > budget or len(out) > info.file_size:
                raise _Budget()
    return bytes(out)

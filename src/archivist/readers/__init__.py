"""Readers: one module per input format, each turning bytes into `Article`s.

Every reader module has `EXTENSIONS` (lower-case, with the dot) and
`read(origin: str, data: bytes, limits: Limits) -> ReadResult`. A reader raises `ReadError`
when the whole input is unusable, and records a `ReadFailure` for a bad part of a bulk input
(a broken JSONL line) while keeping the good parts.
"""

from __future__ import annotations

import importlib
from pathlib import Path, PurePosixPath

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError, UnsupportedFormat
from archivist.models import ReadResult

# extension -> module name under archivist.readers (imported lazily: some pull heavy libraries)
_MODULES = {
    ".txt": "text",
    ".md": "text",
    ".json": "jsonfile",
    ".jsonl": "jsonfile",
    ".ndjson": "jsonfile",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".zip": "zipfile",
}


def supported_extensions() -> list[str]:
    # every reader's library is a dependency; importing them here just to list them would load
    # trafilatura and pypdf into a process that leaves reading to its workers
    return sorted(_MODULES)


def extension_of(name: str) -> str:
    return PurePosixPath(name.lower()).suffix


def read_bytes(name: str, data: bytes, limits: Limits | None = None) -> ReadResult:
    """Read one input by its name's extension, in a worker process within the read budget
    (`archivist.sandbox`). Raises ReadError (with the name) when unusable."""
    from archivist import sandbox

    limits = limits or Limits()
    _check_size(name, len(data), limits)
    _module_for(name)
    if not data.strip(b"\x00 \t\r\n"):
        raise ReadError(name, "the file is empty")
    return sandbox.call(read_here, name, data, limits, origin=name, size=len(data), limits=limits)


def read_path(path: str | Path, limits: Limits | None = None) -> ReadResult:
    """Read a file (see `read_bytes`); the worker reads it from disk itself."""
    from archivist import sandbox

    path = Path(path)
    limits = limits or Limits()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(str(path), f"cannot open: {exc.strerror or exc}") from None
    _check_size(str(path), size, limits)
    _module_for(str(path))
    return sandbox.call(
        read_file_here, str(path), limits, origin=str(path), size=size, limits=limits
    )


def read_file_here(path: str, limits: Limits) -> ReadResult:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReadError(path, f"cannot read: {exc.strerror or exc}") from None
    if not data.strip(b"\x00 \t\r\n"):
        raise ReadError(path, "the file is empty")
    return read_here(path, data, limits)


def read_here(name: str, data: bytes, limits: Limits) -> ReadResult:
    """`read_bytes` in this process, with no time or memory budget: for the worker processes,
    and for a ZIP's entries (read inside the ZIP's worker)."""
    _check_size(name, len(data), limits)
    try:
        module = importlib.import_module(f"archivist.readers.{_module_for(name)}")
    except ImportError:
        raise UnsupportedFormat(name, f"{extension_of(name)} files are not supported yet") from None
    if not data.strip(b"\x00 \t\r\n"):
        raise ReadError(name, "the file is empty")
    try:
        return module.read(name, data, limits)  # type: ignore[no-any-return]
    except ReadError:
        raise
    except RecursionError:
        raise ReadError(name, "the file is nested too deeply to read") from None
    except MemoryError:
        raise
    except Exception as exc:  # a library choking on hostile input must not become a traceback
        raise ReadError(name, f"could not be read ({type(exc).__name__}: {exc})") from exc


def _check_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise InputTooLarge(
            name,
            f"file is {size / 1e6:.1f} MB, over the limit of {limits.max_file_bytes / 1e6:.1f} MB",
        )


def _module_for(name: str) -> str:
    """The reader module for a name's extension (not imported here: some are heavy)."""
    ext = extension_of(name)
    module_name = _MODULES.get(ext)
    if module_name is None:
        supported = ", ".join(supported_extensions())
        if not ext:
            raise UnsupportedFormat(name, f"no file extension; supported: {supported}")
        raise UnsupportedFormat(name, f"unsupported format {ext}; supported: {supported}")
    return module_name

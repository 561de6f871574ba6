"""Checks of the machine: Python, the installed packages, the metrics address, and a reader
worker process started as every upload starts one."""

from __future__ import annotations

import errno
import socket
import sys
import time
import urllib.request

from archivist.config import Settings
from archivist.doctor.report import FAIL, OK, WARN, Check, one_line

MIN_PYTHON = (3, 11)
# shown on the packages line; every requirement of the package is checked
KEY_PACKAGES = ("torch", "onnxruntime", "faiss-cpu", "numpy", "discord.py", "sentence-transformers")
SAMPLE_NAME = "doctor-check.txt"
SAMPLE = b"Archivist doctor\n\nA reader worker process read this paragraph of plain text.\n"


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("python", OK, f"Python {version} ({sys.executable})")
    return Check(
        "python",
        FAIL,
        f"Python {version}; Archivist needs 3.11 or newer",
        "install Python 3.11+, then rebuild the venv: rm -rf .venv && make install PY=python3.11",
    )


def check_packages() -> Check:
    from importlib import metadata

    from packaging.requirements import Requirement

    fix = "run `make install` in the clone (or `pip install -e .` in its venv)"
    try:
        requirements = [Requirement(r) for r in metadata.requires("archivist") or []]
    except metadata.PackageNotFoundError:
        return Check("packages", FAIL, "archivist is not installed in this Python", fix)
    wrong = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra (tests, benchmarks)
        try:
            found = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{req.name} is missing")
            continue
        if not req.specifier.contains(found, prereleases=True):
            wrong.append(f"{req.name} {found} (needs {req.specifier})")
    if wrong:
        return Check("packages", FAIL, "; ".join(wrong), fix)
    return Check("packages", OK, ", ".join(_versions(KEY_PACKAGES)))


def _versions(names: tuple[str, ...]) -> list[str]:
    from importlib import metadata

    out = []
    for name in names:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} missing")
    return out


def check_metrics(raw: str) -> Check:
    raw = raw.strip()
    if not raw:
        return Check("metrics", OK, "off (ARCHIVIST_METRICS_ADDR is not set)")
    host, _, port_text = raw.rpartition(":")
    host = host.strip("[]")
    shape = "set ARCHIVIST_METRICS_ADDR to HOST:PORT, e.g. 127.0.0.1:9108"
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return Check("metrics", FAIL, f"ARCHIVIST_METRICS_ADDR={raw} is not HOST:PORT", shape)
    port = int(port_text)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _metrics_in_use(raw, host, port)
        return Check(
            "metrics",
            FAIL,
            f"cannot listen on {raw} ({exc.strerror or exc})",
            "use an address of this machine: " + shape,
        )
    return Check("metrics", OK, f"{raw} is free")


def _metrics_in_use(raw: str, host: str, port: int) -> Check:
    """Taken: by the running bot (its /metrics answers) or by another program."""
    url_host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{url_host}:{port}/metrics", timeout=1) as answer:
            serves_metrics = b"# HELP" in answer.read(65536)
    except (OSError, ValueError):
        serves_metrics = False
    if serves_metrics:
        return Check(
            "metrics",
            WARN,
            f"{raw} is in use by a server answering /metrics: the running bot, most likely",
            "nothing if the bot runs; otherwise choose another port in ARCHIVIST_METRICS_ADDR",
        )
    return Check(
        "metrics",
        FAIL,
        f"{raw} is in use by another program",
        f"choose another port in ARCHIVIST_METRICS_ADDR (`ss -ltnp sport = :{port}` shows who)",
    )


def check_readers(settings: Settings) -> Check:
    """A small text read the way every upload is: in a worker process (`archivist.sandbox`)."""
    from archivist import readers

    fix = (
        f"run `archivist -v doctor` for details; the workers run `{sys.executable} -m "
        "archivist.sandbox`, which must start (ARCHIVIST_READ_MEMORY_MB, ARCHIVIST_READ_TIMEOUT_S)"
    )
    started = time.monotonic()
    try:
        result = readers.read_bytes(SAMPLE_NAME, SAMPLE, settings.limits)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Check("readers", FAIL, f"the reader worker failed: {one_line(exc)}", fix)
    if len(result.articles) != 1:
        return Check("readers", FAIL, "the reader worker read no article from a text", fix)
    seconds = time.monotonic() - started
    return Check("readers", OK, f"a worker process read a text file in {seconds:.1f} s")

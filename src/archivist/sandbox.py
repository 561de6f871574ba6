"""Reading untrusted input in worker processes that can be stopped.

Every reader is linear in its input and checks its own limits, but a parser library can still
meet a shape nobody foresaw. So files, pages and feeds are read in a small pool of worker
processes, each read with a wall-clock and a memory budget (`Limits.read_budget`):

* time: the caller waits at most the budget, then the worker is killed (SIGKILL) and replaced;
* memory: the worker's data segment may grow by at most the budget (RLIMIT_DATA, which counts
  the heap and anonymous mappings); going over is a MemoryError inside the worker, or its death;
* CPU: workers run at a lower priority, so answering questions keeps its share of the cores.

A failure is a `ReadError` naming the input and the budget it went over; it never touches
another read. Workers come from a fork server that has imported the readers once, so a new
worker is ready in milliseconds. Inside a worker reads run in process (a ZIP's entries too).

`call(fn, *args, origin=..., size=..., limits=...)` runs a module-level function there.
"""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_WORKERS = 2  # reads at once in this process; more wait for a free worker
STARTUP_S = 60.0  # a new worker's imports, on a busy machine
RETIRE_BYTES = 200 * 2**20
WORKER_NICENESS = 10
PRELOAD = [
    "archivist.readers",
    "archivist.readers.text",
    "archivist.readers.jsonfile",
    "archivist.readers.zipfile",
    "archivist.readers.html",
    "archivist.readers.pdf",
    "archivist.readers.docx",
    "archivist.feeds.parser",
]

_in_worker = False


class _Worker:
    """A `python -m archivist.sandbox` process; pickled messages over its stdin and stdout."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env.pop("DISCORD_TOKEN", None)  # a reader never needs it: a parser bug cannot leak it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "archivist.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.send_conn = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.recv_conn = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.baseline = 0  # its data segment once ready, in bytes

    def ready(self) -> bool:
        """Waits for the worker's imports: they are not part of any read's budget."""
        try:
            if not self.recv_conn.poll(STARTUP_S):
                return False
            kind, self.baseline = self.recv_conn.recv()
            return bool(kind == "ready")
        except (EOFError, OSError, ValueError):
            return False

    def bloated(self) -> bool:
        """Holds much more memory than when it started (a big read's heap, kept by the
        allocator): replaced, so that the next read has its whole budget."""
        return _data_bytes(self.process.pid) > self.baseline + RETIRE_BYTES

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)
        self.send_conn.close()
        self.recv_conn.close()


class ReaderPool:
    """At most `workers` worker processes, started on demand, each running one read at a time."""

    def __init__(self, workers: int = MAX_WORKERS) -> None:
        self.workers = workers
        self._idle: list[_Worker] = []
        self._busy = 0
        self._cond = threading.Condition()

    def _start(self) -> _Worker:
        return _Worker()

    def _take(self) -> _Worker | None:
        with self._cond:
            while not self._idle and self._busy >= self.workers:
                self._cond.wait()
            self._busy += 1
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
            return None

    def _give_back(self, worker: _Worker | None) -> None:
        with self._cond:
            self._busy -= 1
            if worker is not None:
                self._idle.append(worker)
            self._cond.notify()

    def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        origin: str,
        size: int,
        limits: Limits,
    ) -> T:
        """`fn(*args)` in a worker within the budget for an input of `size` bytes."""
        seconds, memory = limits.read_budget(size)
        worker = self._take()
        outcome: tuple = ("lost",)
        try:
            if worker is None:
                worker = self._start()
                if not worker.ready():
                    raise OSError("the reader worker did not start")
            worker.send_conn.send((fn.__module__, fn.__qualname__, args, memory))
            if worker.recv_conn.poll(seconds):
                outcome = worker.recv_conn.recv()
            else:
                outcome = ("timeout",)
        except (EOFError, OSError):
            pass  # the worker died: outcome stays "lost"
        finally:
            if worker is not None and (outcome[0] not in ("ok", "error") or worker.bloated()):
                worker.kill()  # over a budget, dead, or interrupted: its state is not trusted
                worker = None
            self._give_back(worker)
        kind = outcome[0]
        if kind == "ok":
            return outcome[1]  # type: ignore[no-any-return]
        if kind == "error":
            _, cls_name, error_origin, reason, *why = outcome
            error_class = _READ_ERRORS.get(cls_name, ReadError)
            raise error_class(error_origin or origin, reason, kind=why[0] if why else None)
        if kind == "timeout":
            raise ReadError(
                origin,
                f"reading took longer than {seconds:.3g} s, the limit "
                "(ARCHIVIST_READ_TIMEOUT_S); stopped",
                kind="timeout",
            )
        if kind == "memory":
            raise InputTooLarge(
                origin, f"reading needs more than {_memory_limit(memory)}; stopped", kind="memory"
            )
        raise ReadError(
            origin,
            "the reader stopped unexpectedly (most likely over its memory limit, "
            f"{_memory_limit(memory)}); stopped",
            kind="memory",
        )

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


def _memory_limit(memory: int) -> str:
    return f"{memory / 2**20:.0f} MB of memory (ARCHIVIST_READ_MEMORY_MB plus 4x the input)"


def _read_error_classes() -> dict[str, type[ReadError]]:
    from archivist import errors

    return {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, ReadError)
    }


_READ_ERRORS = _read_error_classes()


def _data_bytes(pid: int | str = "self") -> int:
    """A process's data segment now (VmData), what RLIMIT_DATA limits."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _serve() -> None:
    """A worker's loop: one (function, arguments, memory budget) at a time, from stdin; the
    answers go to what was stdout (now stderr, so nothing a library prints gets in the way)."""
    global _in_worker
    _in_worker = True
    requests = Connection(os.dup(0), writable=False)
    conn = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    # budgets count from here: memory a past read left in the allocator counts against the next
    baseline = _data_bytes()
    conn.send(("ready", baseline))
    while True:
        try:
            module, name, args, memory = requests.recv()
        except (EOFError, OSError):
            return
        limit = baseline + memory
        resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.RLIM_INFINITY))
        try:
            fn = getattr(importlib.import_module(module), name)
            outcome: tuple = ("ok", fn(*args))
        except MemoryError:
            outcome = ("memory",)
        except ReadError as exc:
            outcome = ("error", type(exc).__name__, exc.origin, exc.reason, exc.kind)
        except Exception as exc:  # noqa: BLE001 - the parent gets one line, never a traceback
            log.debug("worker: %s failed", name, exc_info=True)
            outcome = ("error", "ReadError", None, _describe(exc))
        finally:
            resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY,) * 2)
        try:
            conn.send(outcome)
        except MemoryError:
            conn.send(("memory",))
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            conn.send(("error", "ReadError", None, _describe(exc)))
        if outcome[0] == "memory":
            return  # the parent replaces this worker


def _describe(exc: BaseException) -> str:
    text = f"could not be read ({type(exc).__name__}: {exc})"
    return text if len(text) <= 200 else text[:197] + "..."


_pool: ReaderPool | None = None
_pool_lock = threading.Lock()


def pool() -> ReaderPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ReaderPool()
        return _pool


def call(fn: Callable[..., T], *args: Any, origin: str, size: int, limits: Limits) -> T:
    """`fn(*args)` within the read budget: in a worker, or here when already in one."""
    if _in_worker:
        return fn(*args)
    started = time.monotonic()
    try:
        return pool().call(fn, *args, origin=origin, size=size, limits=limits)
    finally:
        log.debug("read %s in %.2f s", origin, time.monotonic() - started)


if __name__ == "__main__":
    _serve()

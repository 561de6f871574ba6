"""Reads run in worker processes with a time and memory budget; a read over either is stopped
with a one-line error naming the input, and the next read goes on as usual."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import pytest
from conftest import SAMPLES

from archivist import sandbox
from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError, UnsupportedFormat
from archivist.readers import read_bytes, read_here, read_path

SAMPLE = SAMPLES / "01_harwick_bridge_reopens.txt"


def quick(**changes) -> Limits:
    return dataclasses.replace(Limits(), **changes)


def test_a_read_in_a_worker_gives_what_a_read_here_gives():
    data = SAMPLE.read_bytes()
    assert read_bytes(SAMPLE.name, data) == read_here(SAMPLE.name, data, Limits())
    assert read_path(SAMPLE) == read_here(str(SAMPLE), data, Limits())


@pytest.mark.timeout(30)
def test_a_read_over_its_time_is_stopped_and_the_next_one_works():
    started = time.monotonic()
    with pytest.raises(ReadError) as caught:
        sandbox.call(time.sleep, 60, origin="slow.pdf", size=0, limits=quick(read_timeout_s=1))
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith("slow.pdf: reading took longer than 1 s")
    assert "ARCHIVIST_READ_TIMEOUT_S" in message and "\n" not in message
    assert read_path(SAMPLE).articles  # a new worker took the stopped one's place


@pytest.mark.timeout(60)
def test_a_read_over_its_memory_is_stopped_and_the_next_one_works():
    with pytest.raises(InputTooLarge) as caught:
        sandbox.call(bytearray, 2**31, origin="bomb.docx", size=0, limits=quick(read_memory_mb=64))
    assert str(caught.value).startswith("bomb.docx: reading needs more than 64 MB of memory")
    assert read_path(SAMPLE).articles


@pytest.mark.timeout(60)
def test_a_worker_that_dies_is_a_clear_error_and_is_replaced():
    with pytest.raises(ReadError) as caught:
        sandbox.call(os._exit, 3, origin="crash.pdf", size=0, limits=Limits())
    assert str(caught.value).startswith("crash.pdf: the reader stopped unexpectedly")
    assert read_path(SAMPLE).articles


def test_the_memory_budget_grows_with_the_input():
    limits = quick(read_timeout_s=10, read_memory_mb=100)
    assert limits.read_budget(0) == (10, 100 * 2**20)
    seconds, memory = limits.read_budget(50 * 2**20)
    assert seconds == 60 and memory == 300 * 2**20


def test_reader_errors_keep_their_kind_and_name_the_input():
    with pytest.raises(ReadError) as caught:
        read_bytes("broken.pdf", b"%PDF-1.7 not really a PDF")
    assert str(caught.value).startswith("broken.pdf: ")
    with pytest.raises(UnsupportedFormat):
        read_bytes("picture.png", b"\x89PNG")


@pytest.mark.timeout(120)
def test_reads_from_many_threads_each_get_their_own_answer():
    files = sorted(SAMPLES.glob("*.txt"))
    results: dict[str, str] = {}

    def read(path):
        results[path.name] = read_path(path).articles[0][1].title

    threads = [threading.Thread(target=read, args=(p,)) for p in files * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {
        p.name: read_here(str(p), p.read_bytes(), Limits()).articles[0][1].title for p in files
    }
    assert results == expected


@pytest.mark.timeout(60)
def test_a_stopped_read_does_not_hold_up_a_read_beside_it():
    """Two workers: while one is stuck on a slow input, the other keeps reading."""
    stuck = threading.Thread(
        target=lambda: pytest.raises(
            ReadError,
            sandbox.call,
            time.sleep,
            60,
            origin="slow",
            size=0,
            limits=quick(read_timeout_s=10),
        )
    )
    stuck.start()
    time.sleep(0.5)
    assert read_path(SAMPLE).articles
    assert stuck.is_alive()  # answered while the stuck read still held the other worker
    stuck.join()


def test_a_worker_never_holds_the_bot_token(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "a-secret-token")
    sandbox.pool().close()  # workers started from now on see this environment
    found = sandbox.call(os.getenv, "DISCORD_TOKEN", origin="env", size=0, limits=Limits())
    assert found is None

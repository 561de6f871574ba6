"""Kill a real `archivist ingest` at random moments; the archive must stay whole and resume."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_DATA, need

from archivist.readers import read_path
from archivist.store import content_hash

pytestmark = pytest.mark.slow

KILLS = 10


def archivist(data_dir: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, "-m", "archivist.cli", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        **kwargs,
    )


def run_json(data_dir: Path, *args: str) -> tuple[int, dict]:
    proc = archivist(data_dir, *args)
    out, err = proc.communicate(timeout=1500)
    assert b"Traceback" not in err, err.decode()
    return proc.returncode, json.loads(out)


def stored_articles(data_dir: Path) -> int:
    db = data_dir / "store" / "archive.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


@pytest.mark.timeout(1800)
def test_ingest_survives_kill_9_at_random_moments(tmp_path):
    corpus = need(SHARED_DATA / "bbc-news" / "txt")
    # every text file, README.TXT included, as `ingest` finds them
    files = [p for p in corpus.rglob("*") if p.suffix.lower() == ".txt"]
    expected = {content_hash(read_path(p).articles[0][1]) for p in files}
    data_dir = tmp_path / "data"
    rng = random.Random(int(os.environ.get("ARCHIVIST_KILL_SEED", "20261128")))
    survived = 0
    counts = []
    previous = 0
    for _ in range(KILLS):
        proc = archivist(data_dir, "ingest", str(corpus), "--json")
        # kill while it writes: once it has stored something new, at a random moment after
        while proc.poll() is None and stored_articles(data_dir) <= previous:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 4.0))
        if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # the next start reconciles the index file with SQLite; then every invariant holds
        code, stats = run_json(data_dir, "stats", "--json")
        assert code == 0 and stats["passages"] == stats["indexed"], stats
        code, report = run_json(data_dir, "check", "--json")
        assert code == 0 and report["ok"], report
        counts.append(report["collections"].get("default", {}).get("articles", 0))
        previous = counts[-1]
        print(f"kill {survived + 1}: {counts[-1]} articles stored, invariants hold", flush=True)
        survived += 1
    assert survived == KILLS, f"the ingest finished after {survived} kills; lengthen the corpus"
    assert counts == sorted(counts), counts  # nothing stored is ever lost

    code, report = run_json(data_dir, "ingest", str(corpus), "--json")
    assert code == 0, report["failed"][:3]
    assert report["failed"] == []
    code, state = run_json(data_dir, "check", "--json")
    assert state["ok"], state
    stored = state["collections"]["default"]
    assert stored["articles"] == len(expected)  # every article once: resumed, no duplicates
    assert stored["passages"] == stored["indexed"] == stored["fts"]

    code, answer = run_json(data_dir, "ask", "Why did Time Warner's profits jump?", "--json")
    assert code == 0 and answer["answered"]
    assert any("TimeWarner" in h["passage"] or "Time Warner" in h["title"] for h in answer["hits"])

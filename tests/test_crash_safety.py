"""Kill `archivist ingest` in the middle of its write transactions; the archive must stay whole and
resume. The property is the store's, so the killed process runs the real command on the fake
embedder (`crash_ingest.py`): its writes come fast, and every kill is aimed at one. A quarter of
the BBC corpus (every fourth file, all five categories) leaves room for ten kills: the command
reads every file before it stores the first, at each restart."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, SHARED_DATA, need
from crash_ingest import fake_archive

from archivist.cli import cli
from archivist.readers import read_path
from archivist.store import content_hash

pytestmark = pytest.mark.slow

KILLS = 10
# of the kills made (an ingest that finishes first ends the round early, more often on a busy
# machine), the share that must land inside a write transaction; and the fewest kills made
LANDED_SHARE = 0.75
FEWEST_KILLS = 6
ENTRY = Path(__file__).with_name("crash_ingest.py")


def a_quarter_of_the_bbc_corpus(target: Path) -> Path:
    corpus = need(SHARED_DATA / "bbc-news" / "txt")
    # every text file, README.TXT included, as `ingest` finds them
    files = sorted(p for p in corpus.rglob("*") if p.suffix.lower() == ".txt")
    for path in files[::4]:
        copy = target / path.relative_to(corpus)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    return target


def ingest_process(data_dir: Path, corpus: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        [sys.executable, str(ENTRY), "--data-dir", str(data_dir), "ingest", str(corpus), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )


def run_json(data_dir: Path, *args: str) -> tuple[int, dict]:
    """The command in this process (opening the archive is the next start after a kill)."""
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args], obj=fake_archive)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


def stored_articles(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def writing(db: Path) -> bool:
    """Whether another connection holds the write lock (is inside a write transaction)."""
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        conn.close()


def kill_while_writing(proc: subprocess.Popen, db: Path, patience_s: float = 5.0) -> bool:
    """SIGKILL `proc` as soon as it is seen inside a write transaction (or after `patience_s`
    anyway); True when the kill landed while it was writing."""
    deadline = time.monotonic() + patience_s
    landed = False
    while proc.poll() is None and time.monotonic() < deadline:
        if writing(db):
            landed = True
            break
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return landed


@pytest.mark.timeout(900)
def test_ingest_survives_kill_9_in_its_write_transactions(tmp_path):
    corpus = a_quarter_of_the_bbc_corpus(tmp_path / "corpus")
    expected = {content_hash(read_path(p).articles[0][1]) for p in corpus.rglob("*.*")}
    data_dir = tmp_path / "data"
    db = data_dir / "store" / "archive.db"
    rng = random.Random(int(os.environ.get("ARCHIVIST_KILL_SEED", "20261128")))
    landed, counts, previous = 0, [], 0
    for kill in range(KILLS):
        proc = ingest_process(data_dir, corpus)
        # once it has stored something new, a random moment later, in its next transaction
        while proc.poll() is None and stored_articles(db) <= previous:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.2))
        if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
            break
        mid_write = kill_while_writing(proc, db)
        landed += mid_write
        # the next start reconciles the index file with SQLite; then every invariant holds
        code, stats = run_json(data_dir, "stats", "--json")
        assert code == 0 and stats["passages"] == stats["indexed"], stats
        code, report = run_json(data_dir, "check", "--json")
        assert code == 0 and report["ok"], report
        counts.append(report["collections"].get("default", {}).get("articles", 0))
        previous = counts[-1]
        where = "in a write transaction" if mid_write else "between writes"
        print(f"kill {kill + 1} {where}: {previous} articles stored, invariants hold")
    assert len(counts) >= FEWEST_KILLS, f"only {len(counts)} kills before the ingest finished"
    assert landed >= LANDED_SHARE * len(counts), f"{landed} of {len(counts)} kills landed mid-write"
    assert counts == sorted(counts), counts  # nothing stored is ever lost

    code, report = run_json(data_dir, "ingest", str(corpus), "--json")
    assert code == 0, report["failed"][:3]
    assert report["failed"] == []
    code, state = run_json(data_dir, "check", "--json")
    assert state["ok"], state
    stored = state["collections"]["default"]
    assert stored["articles"] == len(expected)  # every article once: resumed, no duplicates
    assert stored["passages"] == stored["indexed"] == stored["fts"]

    # the resumed archive answers from its index: an article's own title finds it
    title = read_path(next(corpus.glob("business/*.txt"))).articles[0][1].title
    code, answer = run_json(data_dir, "ask", title, "--json")
    assert code == 0 and title in [hit["title"] for hit in answer["hits"]], answer

"""One writer at a time, any number of readers: asks keep working during ingests, two ingests
queue instead of failing, and no "database is locked" ever reaches a caller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.maintenance import check
from archivist.models import Article, Paragraph

TOPICS = ["harbour", "railway", "museum", "election", "vineyard", "glacier", "stadium", "bakery"]


def synthetic(n: int, tag: str) -> list[tuple[str, Article]]:
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        paras = tuple(
            Paragraph(
                f"Report {tag}-{i} part {j}: the {topic} committee met on day {i} and "
                f"agreed measure {j * 7 + i} after a debate about the {topic} budget, the "
                f"schedule for {tag} and the views of {i % 13} local residents."
            )
            for j in range(3)
        )
        out.append(
            (f"{tag}-{i}", Article(title=f"{topic.title()} news {tag} {i}", paragraphs=paras))
        )
    return out


def test_asks_during_ingest_threads(tmp_path):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    archive.add_articles(synthetic(20, "seed"), collection="g")
    stop = threading.Event()
    served, failures = [], []

    def reader():
        while not stop.is_set():
            try:
                answer = archive.ask("harbour committee budget", collection="g")
                assert answer.hits
                served.append(1)
            except Exception as exc:  # any failure is a test failure
                failures.append(repr(exc))

    def writer(tag: str):
        for start in range(0, 200, 40):
            report = archive.add_articles(synthetic(200, tag)[start : start + 40], collection="g")
            if report.failed:
                failures.append(report.failed)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    writers = [threading.Thread(target=writer, args=(t,)) for t in ("w1", "w2")]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert failures == []
    assert len(served) > 20
    assert archive.stats(collection="g")["articles"] == 420
    assert check(archive).ok


def write_folder(folder: Path, tag: str, n: int) -> Path:
    folder.mkdir(parents=True)
    for origin, article in synthetic(n, tag):
        body = "\n\n".join(p.text for p in article.paragraphs)
        (folder / f"{origin}.txt").write_text(f"{article.title}\n\n{body}\n")
    return folder


@pytest.mark.slow
def test_two_ingest_processes_and_asks_at_once(tmp_path, real_embedder):
    data_dir = tmp_path / "data"
    archive = Archive(data_dir, embedder=real_embedder)
    archive.add_articles(synthetic(5, "seed"), collection="default")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "archivist.cli",
                "--data-dir",
                str(data_dir),
                "ingest",
                str(write_folder(tmp_path / tag, tag, 150)),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        for tag in ("p1", "p2")
    ]
    asked, failures = 0, []
    while any(p.poll() is None for p in procs):
        try:
            if archive.ask("vineyard committee measure", collection="default").hits:
                asked += 1
        except Exception as exc:
            failures.append(repr(exc))
    outputs = [p.communicate() for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"locked" not in err and b"Traceback" not in err
        report = json.loads(out)
        assert len(report["added"]) == 150 and report["failed"] == []
    assert failures == []
    assert asked > 0
    # this long-lived Archive (the bot's view) sees both processes' articles
    assert archive.stats(collection="default")["articles"] == 305
    # ... in its vector index too, not only in SQLite
    stats = archive.stats(collection="default")
    assert stats["indexed"] == stats["passages"] == 305 * 3
    assert archive.ask("vineyard committee measure", collection="default").hits
    assert check(archive).ok

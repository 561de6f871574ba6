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
    assert archive.stats(collection="g").articles == 420
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
    assert archive.stats(collection="default").articles == 305
    # ... in its vector index too, not only in SQLite
    stats = archive.stats(collection="default")
    assert stats.indexed == stats.passages == 305 * 3
    assert archive.ask("vineyard committee measure", collection="default").hits
    assert check(archive).ok


class MeetingEmbedder(HashingEmbedder):
    """Holds every ingest's first batch until all of them have embedded it: each has then
    made its first look for duplicates before any stores, as when two ingests of the same
    feed or file run at once."""

    def __init__(self, barrier) -> None:
        super().__init__()
        self.barrier = barrier
        self.met = threading.local()

    def encode(self, texts):
        if not getattr(self.met, "done", False):
            self.met.done = True
            self.barrier.wait(timeout=60)
        return super().encode(texts)


def accounted(report, inputs) -> None:
    """Every input of an ingest is either added or a duplicate of a stored article."""
    assert report.failed == []
    done = [a.origin for a in report.added] + [d.origin for d in report.duplicates]
    assert sorted(done) == sorted(origin for origin, _ in inputs)


def stored_once(archive, inputs) -> None:
    titles = [a.title for a in archive.recent(collection="g", limit=10_000)]
    assert sorted(titles) == sorted({article.title for _, article in inputs})


# two overlapping sets: 20..39 in both, more than one batch each (EMBED_BATCH_ARTICLES = 32)
OVERLAPPING = [synthetic(60, "same")[:40], synthetic(60, "same")[20:]]


def test_the_same_articles_ingested_by_two_threads_at_once(tmp_path):
    barrier = threading.Barrier(2)
    archive = Archive(tmp_path, embedder=MeetingEmbedder(barrier))  # as the bot's upload and poll
    reports, errors = {}, []

    def ingest(n: int) -> None:
        try:
            reports[n] = archive.add_articles(OVERLAPPING[n], collection="g")
        except Exception as exc:  # the bug: an IntegrityError out of add_articles
            errors.append(repr(exc))
            barrier.abort()

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(2):
        accounted(reports[n], OVERLAPPING[n])
    added = [a.id for n in range(2) for a in reports[n].added]
    assert len(added) == len(set(added)) == 60
    stored = {a.id for n in range(2) for a in reports[n].added}
    assert {d.existing_id for n in range(2) for d in reports[n].duplicates} <= stored
    stored_once(archive, OVERLAPPING[0] + OVERLAPPING[1])
    assert check(archive).ok
    archive.close()


def test_one_id_claimed_by_two_threads_at_once(tmp_path):
    barrier = threading.Barrier(2)
    archives = [Archive(tmp_path, embedder=MeetingEmbedder(barrier)) for _ in range(2)]
    texts = ["Alpha body text for the first claim.", "Beta body text for the second claim."]
    inputs = [
        [(f"in{n}", Article(title=f"T{n}", paragraphs=(Paragraph(texts[n]),), id="x"))]
        for n in range(2)
    ]
    reports, errors = {}, []

    def ingest(n: int) -> None:
        try:
            reports[n] = archives[n].add_articles(inputs[n], collection="g")
        except Exception as exc:
            errors.append(repr(exc))
            barrier.abort()

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    outcomes = sorted((len(r.added), [f.to_json() for f in r.failed]) for r in reports.values())
    assert outcomes[1] == (1, [])
    loser = "in1" if reports[0].added else "in0"
    assert outcomes[0] == (
        0,
        [{"path": loser, "error": "id 'x' is already used by another article"}],
    )
    assert archives[0].count(collection="g") == 1
    for archive in archives:
        archive.close()


def _ingest_in_process(data_dir, barrier, n, results) -> None:
    try:
        archive = Archive(data_dir, embedder=MeetingEmbedder(barrier))
        report = archive.add_articles(OVERLAPPING[n], collection="g")
        archive.close()
        results.put((n, report.to_json() | {"origins": [a.origin for a in report.added]}))
    except Exception as exc:
        barrier.abort()
        results.put((n, {"error": repr(exc)}))


@pytest.mark.timeout(180)
def test_the_same_articles_ingested_by_two_processes_at_once(tmp_path):
    import multiprocessing

    Archive(tmp_path, embedder=HashingEmbedder()).close()  # the store exists: opening is item 2
    ctx = multiprocessing.get_context("fork")  # no model, no threads yet: forking is safe
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_ingest_in_process, args=(tmp_path, barrier, n, results))
        for n in range(2)
    ]
    for p in procs:
        p.start()
    reports = dict(results.get(timeout=150) for _ in procs)
    for p in procs:
        p.join()
    assert [reports[n].get("error") for n in range(2)] == [None, None]
    for n in range(2):
        report = reports[n]
        assert report["failed"] == []
        done = report["origins"] + [d["origin"] for d in report["duplicates"]]
        assert sorted(done) == sorted(origin for origin, _ in OVERLAPPING[n])
    added = reports[0]["added"] + reports[1]["added"]
    assert len(added) == len(set(added)) == 60
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    stored_once(archive, OVERLAPPING[0] + OVERLAPPING[1])
    # each process saved its own index file; opening brings it up to date with the store
    stats = archive.stats(collection="g")
    assert stats.indexed == stats.passages == 60 * 3
    assert check(archive).ok
    archive.close()

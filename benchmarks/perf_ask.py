"""`Archive.ask` at 10k, 100k and 1M passages: latency (warm, in process), its parts, dense
recall of the index against exact search, hit@5 on SQuAD questions, cold `archivist ask`, peak
RSS, database and index size on disk.

    .venv/bin/python benchmarks/perf_ask.py all --sizes 10000,100000,1000000
    .venv/bin/python benchmarks/perf_ask.py build|ask|recall|cold --size N

The archives are built from real MiniLM vectors (the shared cache, see perf_cache.py): every
SQuAD v1.1 dev paragraph (so its questions have a gold passage at every size), then BBC and
Reuters passages, then, past what is cached, copies of those with their vectors perturbed
(unit noise of norm 0.4, cosine ~0.93 to the original) and the same text. Never random vectors.
They are written straight into the store (no dedup, no model) under
ARCHIVIST_BENCH_CACHE/archives/<size>, then the index is built as `Archive` would build it.
Each step runs in its own process so peak RSS is per step.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
from perf_archives import COLLECTION, archive_dir, build
from perf_common import (
    CACHE,
    ROOT,
    peak_rss_mb,
    percentiles,
    save_result,
    squad_items,
)

QUESTIONS = 150
ASK_QUESTIONS = 60


def questions(n: int = QUESTIONS):
    _, qs = squad_items()
    random.Random(5).shuffle(qs)
    return qs[:n]


def fts_or(terms: list[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def fts_and(terms: list[str]) -> str:
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


class Clock:
    """Wall and CPU time per named step: on a busy machine the wall time includes waiting for
    a core; the process CPU time is close to what a quiet machine's wall time would be (for
    ONNX Runtime's 2 threads it is an upper bound)."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    @contextmanager
    def __call__(self, name: str):
        w, c = time.perf_counter(), time.process_time()
        yield
        self.wall.setdefault(name, []).append((time.perf_counter() - w) * 1000)
        self.cpu.setdefault(name, []).append((time.process_time() - c) * 1000)

    def summary(self) -> dict:
        out = {}
        for name, samples in self.wall.items():
            out[f"{name}_ms"] = {k: round(v, 2) for k, v in percentiles(samples).items()}
            out[f"{name}_cpu_ms"] = {k: round(v, 2) for k, v in percentiles(self.cpu[name]).items()}
        return out


def ask(size: int) -> dict:
    from archivist.archive import Archive
    from archivist.embedding import default_embedder
    from archivist.ranking.lexical import question_terms

    started = time.perf_counter()
    archive = Archive(archive_dir(size), embedder=default_embedder())
    index = archive.checked_index(COLLECTION)
    archive.embedder.encode(["warm up"])
    open_s = time.perf_counter() - started
    qs = questions()
    for q in qs[:20]:  # warm: page in the lists and the SQLite pages the questions touch
        archive.ask(q.text, collection=COLLECTION)
    clock, hits, and_empty, scalable_empty, asked = Clock(), 0, 0, 0, 0
    try:  # the lexical query search.py builds at scale (issue 4), when it is there
        from archivist.ranking.lexical import lookup_keys, query_terms, scalable_fts_query
    except ImportError:
        scalable_fts_query = None
    for n, q in enumerate(qs):
        if n < ASK_QUESTIONS:  # the whole ask (with its reranking) is slow: fewer of them
            with clock("ask"):
                answer = archive.ask(q.text, collection=COLLECTION)
            hits += any(h.article_id == q.gold for h in answer.hits[:5])
            asked += 1
        if scalable_fts_query is not None:
            with clock("fts_issue4_query"):
                words = question_terms(q.text)
                doc_freq = archive.store.doc_freqs(lookup_keys(words))
                qt = query_terms(q.text, doc_freq, archive.store.passage_total())
                match = scalable_fts_query(qt, doc_freq, archive.search_config)
                found = archive.store.fts_search(match, COLLECTION, 50) if match else []
            scalable_empty += not found
        with clock("embed_query"):
            vector = archive.embedder.encode([q.text])[0]
        with clock("dense_top50"):
            index.search(vector, 50)
        terms = question_terms(q.text)
        if terms:
            with clock("fts_or_all_terms"):
                archive.store.fts_search(fts_or(terms), COLLECTION, 50)
            with clock("fts_and_all_terms"):
                found = archive.store.fts_search(fts_and(terms), COLLECTION, 50)
            and_empty += not found
        # the retrieval core without any reranking: embed, dense top-50, lexical top-50
        # (AND of the content words, OR when that finds nothing), fuse, fetch the top 5
        with clock("core_retrieval"):
            vector = archive.embedder.encode([q.text])[0]
            dense_ids, _ = index.search(vector, 50)
            lexical = []
            if terms:
                lexical = archive.store.fts_search(
                    fts_and(terms), COLLECTION, 50
                ) or archive.store.fts_search(fts_or(terms), COLLECTION, 50)
            scores: dict[int, float] = {}
            for ranking in ([int(i) for i in dense_ids], [i for i, _ in lexical]):
                for r, pid in enumerate(ranking):
                    scores[pid] = scores.get(pid, 0.0) + 1.0 / (61 + r)
            top = sorted(scores, key=lambda pid: -scores[pid])[:5]
            archive.store.passages_by_ids(top, COLLECTION)
    n_fts = len(clock.wall.get("fts_and_all_terms", [])) or 1
    result = {
        "passages": index.ntotal,
        "index_type": index.kind,
        "nprobe": index.nprobe,
        "open_s": round(open_s, 2),
        **clock.summary(),
        "fts_and_empty_share": round(and_empty / n_fts, 3),
        "fts_issue4_empty_share": round(scalable_empty / len(qs), 3),
        "hit_at_5": round(hits / max(1, asked), 4),
        "questions": len(qs),
        "ask_questions": asked,
        "peak_rss_mb": round(peak_rss_mb()),
        "load_average": os.getloadavg()[0],
    }
    archive.close()
    print(json.dumps(result), flush=True)
    return result


def latency(size: int, n: int = 200) -> dict:
    """`Archive.ask` alone, warm, in process, on `n` SQuAD questions: p50 / p95 of the whole
    call and of its stages (the question's embedding and the dense search run beside the
    lexical side, which reads and analyses its passages; then the ranking)."""
    import functools

    import archivist.archive as archive_module
    from archivist.archive import Archive
    from archivist.embedding import default_embedder

    archive = Archive(archive_dir(size), embedder=default_embedder())
    # archives built before the analysis was stored get it now, as `archivist reindex` does
    analysed = archive.analyse_stored()
    if analysed:
        print(f"{size}: stored the analysis of {analysed} passages first", flush=True)
    index = archive.checked_index(COLLECTION)
    stages: dict[str, list[float]] = {}

    def timed(owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                stages.setdefault(label, []).append((time.perf_counter() - started) * 1000)

        setattr(owner, name, wrapper)

    timed(archive.embedder, "encode", "embed question")
    timed(index, "search", "dense top-50")
    timed(archive, "_lexical", "lexical (FTS5 + read + analyse)")
    timed(archive_module, "rank", "rank")
    qs = questions(n + 20)
    for q in qs[:20]:
        archive.ask(q.text, collection=COLLECTION)
    stages.clear()
    whole, hits = [], 0
    for q in qs[20:]:
        started = time.perf_counter()
        answer = archive.ask(q.text, collection=COLLECTION)
        whole.append((time.perf_counter() - started) * 1000)
        hits += any(h.article_id == q.gold for h in answer.hits[:5])
    result = {
        "passages": index.ntotal,
        "index_type": index.kind,
        "nprobe": index.nprobe,
        "ask_ms": {k: round(v, 2) for k, v in percentiles(whole).items()},
        "stages_ms": {
            name: {k: round(v, 2) for k, v in percentiles(samples).items()}
            for name, samples in stages.items()
        },
        "hit_at_5": round(hits / n, 4),
        "peak_rss_mb": round(peak_rss_mb()),
        "load_average": os.getloadavg()[0],
    }
    archive.close()
    return result


def recall(size: int) -> dict:
    """The index's top-10 / top-50 against exact inner product over every stored vector."""
    from archivist.archive import Archive
    from archivist.embedding import default_embedder

    archive = Archive(archive_dir(size), embedder=default_embedder())
    index = archive.checked_index(COLLECTION)
    qs = questions(200)
    qv = archive.embedder.encode([q.text for q in qs])
    k = 50
    best_s = np.full((len(qs), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(qs), k), -1, dtype=np.int64)
    for ids, vectors in archive.store.iter_vectors(COLLECTION, archive.embedder.dim):
        scores = qv @ vectors.T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        cs = np.concatenate([best_s, np.take_along_axis(scores, top, 1)], 1)
        ci = np.concatenate([best_i, ids[top]], 1)
        keep = np.argsort(-cs, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cs, keep, 1), np.take_along_axis(ci, keep, 1)

    def measure():
        r10, r50, took = [], [], []
        for v, exact in zip(qv, best_i, strict=True):
            t0 = time.perf_counter()
            found, _ = index.search(v, k)
            took.append((time.perf_counter() - t0) * 1000)
            r10.append(len(set(found[:10]) & set(exact[:10])) / 10)
            r50.append(len(set(found) & set(exact)) / k)
        return (
            round(float(np.mean(r10)), 4),
            round(float(np.mean(r50)), 4),
            round(float(np.median(took)), 2),
        )

    r10, r50, took = measure()
    result = {
        "recall_at_10": r10,
        "recall_at_50": r50,
        "dense_ms_p50": took,
        "index_type": index.kind,
        "nprobe": index.nprobe,
    }
    if index.is_ivf:  # what a deeper probe would give
        sweep = {}
        base = index.nprobe
        for nprobe in (base // 2, base * 2, base * 4):
            index.nprobe = nprobe
            sweep[nprobe] = measure()
        index.nprobe = base
        result["nprobe_sweep (r@10, r@50, ms)"] = sweep
    archive.close()
    print(json.dumps(result), flush=True)
    return result


def cold(size: int, repeats: int = 5) -> dict:
    """`archivist ask` in a fresh process, wall time to its answer (the model cached on disk)."""
    exe = ROOT / ".venv" / "bin" / "archivist"
    import resource

    times, cpus = [], []
    for q in questions(repeats):
        t0 = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [str(exe), "--data-dir", str(archive_dir(size)), "ask", q.text, "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        assert out.returncode == 0, out.stderr[-2000:]
        assert json.loads(out.stdout)["hits"]
    result = {
        "cold_ask_s": {k: round(v, 3) for k, v in percentiles(times).items()},
        "cold_ask_cpu_s": {k: round(v, 3) for k, v in percentiles(cpus).items()},
        "runs": [round(t, 2) for t in times],
    }
    print(json.dumps(result), flush=True)
    return result


def calibrate(size: int) -> dict:
    """Re-choose nprobe for an archive built by an earlier version (no retraining)."""
    from archivist.archive import Archive
    from archivist.embedding import default_embedder

    archive = Archive(archive_dir(size), embedder=default_embedder())
    index = archive.checked_index(COLLECTION)
    t0 = time.perf_counter()
    nprobe = index.calibrate(archive.store)
    result = {"nprobe": nprobe, "calibrate_s": round(time.perf_counter() - t0, 1)}
    archive.close()
    print(json.dumps(result), flush=True)
    return result


def run_step(step: str, size: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, step, "--size", str(size)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        print(out.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{step} {size} failed")
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"{step} {size}: no result in {out.stdout[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "step", choices=["build", "calibrate", "ask", "latency", "recall", "cold", "all"]
    )
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--steps", default="build,ask,recall,cold")
    args = parser.parse_args()
    if args.step != "all":
        steps = {
            "build": build,
            "calibrate": calibrate,
            "ask": ask,
            "latency": latency,
            "recall": recall,
            "cold": cold,
        }
        result = steps[args.step](args.size)
        print(json.dumps(result), flush=True)
        return
    previous = CACHE / "results" / "perf_ask.json"
    results = json.loads(previous.read_text()).get("sizes", {}) if previous.exists() else {}
    for size in [int(s) for s in re.split(r"[ ,]+", args.sizes) if s]:
        entry = results.setdefault(str(size), {})
        for step in args.steps.split(","):
            print(f"== {step} {size}", flush=True)
            entry[step] = run_step(step, size)
            print(entry[step], flush=True)
            save_result("perf_ask", {"sizes": results})


if __name__ == "__main__":
    main()

"""Ingest speed end to end (read, chunk, embed, store, index) beside plain
`SentenceTransformer.encode` (fp32, its defaults) of the same passage texts, in the same run.

    .venv/bin/python benchmarks/perf_ingest.py [--bbc N] [--reuters N] [--repeats R] [--torch]

N articles of each corpus (BBC: every k-th file of the txt folder, read from disk; Reuters: the
first N lines of the JSONL, written to a temp file and read back); 0 = all. The runs alternate
(plain encode, our ingest, ...) so a busy machine slows both alike; medians are reported.
`--torch` adds one end-to-end ingest with the sentence-transformers back end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from perf_common import DATA, need, passage_texts, peak_rss_mb, read_items, save_result


class Timed:
    """Wraps a callable and adds its wall time to a phase."""

    def __init__(self, phases: dict, name: str, func) -> None:
        self.phases, self.name, self.func = phases, name, func

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.func(*args, **kwargs)
        finally:
            self.phases[self.name] = self.phases.get(self.name, 0.0) + time.perf_counter() - started


class TimedEmbedder:
    def __init__(self, inner, phases: dict) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.encode = Timed(phases, "embed", inner.encode)
        self.count_tokens = Timed(phases, "count tokens", inner.count_tokens)


def ingest(paths: list[Path], embedder) -> tuple[float, int, dict]:
    from archivist.archive import Archive

    phases: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp(prefix="perf-ingest-"))
    try:
        archive = Archive(folder, embedder=TimedEmbedder(embedder, phases))
        archive.store.insert_articles = Timed(phases, "store", archive.store.insert_articles)
        index = archive.checked_index("default")
        index.add = Timed(phases, "index", index.add)
        index.checkpoint = Timed(phases, "index save", index.checkpoint)
        started, cpu = time.perf_counter(), time.process_time()
        report = archive.add_paths(paths, collection="default")
        elapsed = time.perf_counter() - started
        phases["cpu"] = time.process_time() - cpu
        passages = archive.stats(collection="default").passages
        archive.close()
        assert not report.failed, report.failed[:3]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    cpu = phases.pop("cpu")
    phases["other (read, chunk, dedup)"] = (
        elapsed - sum(phases.values()) + phases.get("count tokens", 0.0)
    )
    phases["cpu"] = cpu
    return elapsed, passages, phases


def corpus_paths(name: str, n: int, work: Path) -> list[Path]:
    if name == "bbc":
        files = sorted(need(DATA / "bbc-news" / "txt").rglob("*.txt"))
        if n and n < len(files):
            step = len(files) / n
            files = [files[int(i * step)] for i in range(n)]
        return files
    source = need(DATA / "reuters-21578" / "articles.jsonl")
    if not n:
        return [source]
    subset = work / "reuters-subset.jsonl"
    with open(source, encoding="utf-8") as src, open(subset, "w", encoding="utf-8") as out:
        for i, line in enumerate(src):
            if i >= n:
                break
            out.write(line)
    return [subset]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bbc", type=int, default=300)
    parser.add_argument("--reuters", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch", action="store_true")
    args = parser.parse_args()

    from archivist.embedding import OnnxEmbedder, SentenceTransformerEmbedder

    onnx = OnnxEmbedder()
    onnx.encode(["warm up"])
    assert onnx.backend == "onnx", onnx.fallback_reason
    reference = SentenceTransformerEmbedder()
    model = reference._load()  # the plain SentenceTransformer object
    model.encode(["warm up"])

    work = Path(tempfile.mkdtemp(prefix="perf-ingest-data-"))
    results = {}
    for name, n in (("bbc", args.bbc), ("reuters", args.reuters)):
        if n < 0:
            continue
        paths = corpus_paths(name, n, work)
        from archivist.store import content_hash

        items, seen = [], set()
        for p in paths:
            for origin, article in read_items(p):
                digest = content_hash(article)  # the ingest stores a duplicate once
                if digest not in seen:
                    seen.add(digest)
                    items.append((origin, article))
        texts = passage_texts(items)
        plain, ours, phases_all, plain_cpu, ours_cpu = [], [], [], [], []
        for r in range(args.repeats):
            started, cpu = time.perf_counter(), time.process_time()
            model.encode(texts, normalize_embeddings=True)
            plain.append(len(texts) / (time.perf_counter() - started))
            plain_cpu.append(len(texts) / (time.process_time() - cpu))
            elapsed, passages, phases = ingest(paths, onnx)
            assert passages == len(texts), (passages, len(texts))
            ours.append(passages / elapsed)
            ours_cpu.append(passages / phases.pop("cpu"))
            phases_all.append({k: round(v, 2) for k, v in phases.items()})
            print(
                f"{name} #{r + 1}: {len(items)} articles, {len(texts)} passages; plain "
                f"SentenceTransformer.encode {plain[-1]:.1f}/s; archivist ingest (ONNX, end "
                f"to end) {ours[-1]:.1f}/s; per CPU-second {plain_cpu[-1]:.1f} and "
                f"{ours_cpu[-1]:.1f}; phases {phases_all[-1]}",
                flush=True,
            )
        result = {
            "articles": len(items),
            "passages": len(texts),
            "plain_st_encode_per_s": round(statistics.median(plain), 1),
            "ingest_onnx_per_s": round(statistics.median(ours), 1),
            "speedup": round(statistics.median(o / p for o, p in zip(ours, plain, strict=True)), 2),
            "runs_plain": [round(x, 1) for x in plain],
            "runs_ingest": [round(x, 1) for x in ours],
            # passages per CPU-second (all threads): robust to other jobs on the machine
            "plain_st_per_cpu_s": round(statistics.median(plain_cpu), 1),
            "ingest_onnx_per_cpu_s": round(statistics.median(ours_cpu), 1),
            "cpu_ratio": round(
                statistics.median(o / p for o, p in zip(ours_cpu, plain_cpu, strict=True)), 2
            ),
            "phases_s": phases_all,
        }
        if args.torch:
            elapsed, passages, phases = ingest(paths, reference)
            result["ingest_torch_per_s"] = round(passages / elapsed, 1)
            result["ingest_torch_per_cpu_s"] = round(passages / phases.pop("cpu"), 1)
            result["phases_torch_s"] = {k: round(v, 2) for k, v in phases.items()}
            print(
                f"{name}: archivist ingest (sentence-transformers back end) "
                f"{result['ingest_torch_per_s']}/s {result['phases_torch_s']}",
                flush=True,
            )
        results[name] = result
        print(name, result, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    results["peak_rss_mb"] = round(peak_rss_mb())
    print(save_result("perf_ingest", results))


if __name__ == "__main__":
    main()

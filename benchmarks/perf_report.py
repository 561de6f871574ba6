"""Write the `## Performance` section of docs/benchmarks.md from the perf_* results.

    .venv/bin/python benchmarks/perf_report.py [--notes FILE]

Only that section is replaced (or appended); the file is re-read right before writing, since
other benchmarks write their own sections.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from perf_common import CACHE, ROOT

DOC = ROOT / "docs" / "benchmarks.md"


def load(name: str) -> dict | None:
    path = CACHE / "results" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def ms(d: dict | None, key: str = "p50") -> str:
    return "-" if not d else f"{d[key]:.1f}"


def section(notes: str) -> str:
    out = ["## Performance", ""]
    ingest, ask, peer, peer_news = (
        load("perf_ingest"),
        load("perf_ask"),
        load("perf_peer"),
        load("perf_peer_news"),
    )
    parity = load("perf_parity")
    first = next(r for r in (ingest, ask, peer) if r)
    out += [
        f"`benchmarks/perf_*.py`. Measured {first['when']} on {first['machine']} "
        f"(commit {first['rev']} plus work in progress), while other jobs kept both cores "
        "busy (load average 6-12): absolute times are several times what a quiet machine "
        "gives; ratios measured in the same run are the meaningful figures.",
        "",
    ]
    if ingest:
        out += [
            "### Ingest (end to end: read, chunk, embed, store, index)",
            "",
            "`perf_ingest.py --bbc 80 --reuters 120 --repeats 3 --torch`: representative "
            "subsets (every k-th BBC txt file; the first Reuters JSONL lines); runs "
            "alternate with plain `SentenceTransformer.encode` (fp32, its defaults) of the "
            "same passage texts; medians of 3.",
            "",
            "Wall: passages per second of elapsed time; CPU: passages per CPU-second of "
            "the process (all threads), which other jobs on the machine disturb much less.",
            "",
            "| corpus | articles | passages | plain ST encode /s wall (CPU) | archivist ingest, "
            "ONNX /s wall (CPU) | ratio wall (CPU), median of runs | archivist ingest, "
            "PyTorch back end /s wall (CPU) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name in ("bbc", "reuters"):
            r = ingest.get(name)
            if r:
                out.append(
                    f"| {name} | {r['articles']} | {r['passages']} | "
                    f"{r['plain_st_encode_per_s']} ({r.get('plain_st_per_cpu_s', '-')}) | "
                    f"{r['ingest_onnx_per_s']} ({r.get('ingest_onnx_per_cpu_s', '-')}) | "
                    f"{r['speedup']}x ({r.get('cpu_ratio', '-')}x) | "
                    f"{r.get('ingest_torch_per_s', '-')} "
                    f"({r.get('ingest_torch_per_cpu_s', '-')}) |"
                )
        r = ingest.get("reuters") or ingest.get("bbc")
        phases = r["phases_s"][0]
        total = sum(v for k, v in phases.items() if k != "count tokens")
        share = ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in phases.items())
        out += ["", f"Where an ingest's time goes (first Reuters run): {share}.", ""]
    if parity:
        out += [
            "### ONNX and PyTorch give the same retrieval",
            "",
            f"`perf_parity.py`: the {parity['passages']:,} SQuAD v1.1 dev passages and "
            f"{parity['questions']} questions embedded by both back ends in one run: lowest "
            f"cosine between the two vectors of a text {parity['min_cosine_passages']:.7f} "
            f"(passages), {parity['min_cosine_questions']:.7f} (questions); dense hit@5 "
            f"ONNX {parity['dense_hit_at_5_onnx']}, PyTorch {parity['dense_hit_at_5_torch']}.",
            "",
        ]
    if ask:
        out += [
            "### Ask at 10k, 100k, 1M passages",
            "",
            "`perf_ask.py all --sizes 10000,100000,1000000`: archives built from real "
            "MiniLM vectors (SQuAD v1.1 dev paragraphs, then BBC + Reuters passages, then "
            "copies of the news passages with perturbed vectors, noise norm 0.4, to reach the "
            "size); SQuAD questions, warm, in process, one at a time. `ask` is the whole "
            "`Archive.ask` of the working tree (with issue 4's reranking, on 60 questions); "
            "`core` is embed + dense top-50 + lexical top-50 (AND, OR when empty) + fusion + "
            "fetching 5 rows, without reranking (150 questions).",
            "",
            "Times are ms, p50 / p95; *wall* is what the clock said on the busy machine, "
            "*CPU* the process CPU time of the same calls (close to a quiet machine's wall "
            "time; for ONNX Runtime's two threads an upper bound).",
            "",
            "| passages | index | ask wall | ask CPU | core wall | core CPU | embed q CPU | "
            "dense top-50 CPU | FTS OR-all CPU | FTS AND CPU (share empty) | FTS issue-4 "
            "query CPU | dense recall@10 / @50 | hit@5 | open s | cold `archivist ask` "
            "p50 s | peak RSS MB | db MB | index MB |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for size, e in ask["sizes"].items():  # a build run on its own left only its marker
            marker = CACHE / "archives" / size / "built.json"
            if "build" not in e and marker.exists():
                e["build"] = json.loads(marker.read_text())
        for size, e in sorted(ask["sizes"].items(), key=lambda kv: int(kv[0])):
            if int(size) < 10_000:  # smoke runs
                continue
            a, b = e.get("ask", {}), e.get("build", {})
            rec, cold = e.get("recall", {}), e.get("cold", {})
            kind = a.get("index_type", b.get("index_type", "?"))
            kind = (
                "exact"
                if kind.startswith("IDMap")
                else f"{kind.split(',')[0]}, nprobe {a.get('nprobe', '?')}"
            )

            def pp(key, a=a):
                d = a.get(key)
                return "-" if not d else f"{d['p50']:.1f} / {d['p95']:.1f}"

            out.append(
                f"| {int(size):,} | {kind} | {pp('ask_ms')} | {pp('ask_cpu_ms')} | "
                f"{pp('core_retrieval_ms')} | {pp('core_retrieval_cpu_ms')} | "
                f"{ms(a.get('embed_query_cpu_ms'))} | {pp('dense_top50_cpu_ms')} | "
                f"{pp('fts_or_all_terms_cpu_ms')} | {pp('fts_and_all_terms_cpu_ms')} "
                f"({a.get('fts_and_empty_share', '-')}) | {pp('fts_issue4_query_cpu_ms')} | "
                f"{rec.get('recall_at_10', '-')} / {rec.get('recall_at_50', '-')} | "
                f"{a.get('hit_at_5', '-')} | {a.get('open_s', '-')} | "
                f"{cold.get('cold_ask_s', {}).get('p50', '-')} "
                f"({cold.get('cold_ask_cpu_s', {}).get('p50', '-')} CPU) | "
                f"{a.get('peak_rss_mb', '-')} | "
                f"{b.get('db_mb', '-')} | {b.get('index_mb', '-')} |"
            )
        out.append("")
        builds = [
            f"{int(s):,}: store {e['build']['store_s']} s, index {e['build']['index_build_s']} s"
            f" (peak RSS {e['build']['peak_rss_build_mb']} MB)"
            for s, e in sorted(ask["sizes"].items(), key=lambda kv: int(kv[0]))
            if "build" in e and int(s) >= 10_000
        ]
        out += [
            "Build times (rows written straight to SQLite, then the index built as `Archive` "
            "builds it): " + "; ".join(builds) + ".",
            "",
        ]
    for label, p in (("SQuAD v1.1 dev alone", peer), ("SQuAD + BBC + Reuters", peer_news)):
        if not p:
            continue
        if label.startswith("SQuAD v1.1"):
            out += [
                "### The peer: chromadb, same vectors",
                "",
                "`perf_peer.py [--news]`: chromadb " + p.get("chromadb", "?") + " (HNSW, "
                "cosine) given the same cached MiniLM vectors through a custom embedding "
                "function. Ingest = storage and indexing only (vectors cached) for both. "
                "Query latency: chroma and our dense index with the cached question vector; "
                "`Archive.ask` embeds the question and reranks. hit@5 on the same "
                f"{p['questions']} SQuAD v1.1 dev questions.",
                "",
                "| corpus | passages | ingest s (archivist / chroma) | archivist ask p50 / p95 ms "
                "| archivist dense p50 / p95 ms | chroma query p50 / p95 ms | hit@5 archivist ask "
                "| hit@5 archivist dense | hit@5 chroma | disk MB (archivist / chroma) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
        out.append(
            f"| {label} | {p['passages']:,} | {p['archivist_ingest_s']} / {p['chroma_ingest_s']} | "
            f"{ms(p['archivist_ask_ms'])} / {ms(p['archivist_ask_ms'], 'p95')} | "
            f"{ms(p['archivist_dense_ms'])} / {ms(p['archivist_dense_ms'], 'p95')} | "
            f"{ms(p['chroma_query_ms'])} / {ms(p['chroma_query_ms'], 'p95')} | "
            f"{p['archivist_hit_at_5']} | {p['archivist_dense_hit_at_5']} | "
            f"{p['chroma_hit_at_5']} | "
            f"{p['archivist_disk_mb']} / {p['chroma_disk_mb']} |"
        )
    out.append("")
    if notes:
        out += [notes.strip(), ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=Path)
    args = parser.parse_args()
    text = section(args.notes.read_text() if args.notes else "")
    current = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Performance\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        new = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        new = current.rstrip("\n") + "\n\n" + text + "\n"
    DOC.write_text(new)
    print(text)


if __name__ == "__main__":
    main()

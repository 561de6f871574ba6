"""Ten thousand servers in one process (issue 16 item 4): every server a collection of 100 to
2,000 passages, the open indexes kept within ARCHIVIST_INDEX_MEMORY_MB (`IndexCache`).

    .venv/bin/python benchmarks/perf_servers.py --servers 1000     # a first, smaller run
    .venv/bin/python benchmarks/perf_servers.py                    # 10,000 servers

Built once under ARCHIVIST_BENCH_CACHE/servers-<N> (the build's time is printed and kept):
short texts of made-up words, ten passages an article, random unit vectors (384 dimensions),
written through `Store.insert_articles` (one transaction a server, FTS and the stored analysis
included), each server's exact index saved as `Archive` saves it.

Then, in a fresh process (so RSS is the bot's, not the build's), through `Archive.ask` with the
fake embedder (`HashingEmbedder(384)`: ~0.1 ms a question; the real int8 model adds ~3 ms):
- start: `Archive(...)` and `open_all_indexes()`, as the bot starts (imports not counted);
- cold: every server's first question (its index not open: opened and checked against the store);
- warm: a second question to servers whose index is open;
- RSS (now and peak) with every server asked once, open file handles, what the cache holds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from itertools import chain, islice, product
from pathlib import Path

import numpy as np
from perf_common import CACHE, dir_bytes, peak_rss_mb, percentiles, save_result

DIM = 384
PASSAGES_PER_ARTICLE = 10
POOL = 20_000  # distinct passage texts
SYLLABLES = "ka lo mer tin sa ru vel don pi ast en or bra cul fen gor hal jup nim qua".split()


def vocabulary(size: int = 40_000) -> list[str]:
    """Made-up words of two to four syllables (stemmed like any word, none an English one)."""
    shapes = (product(SYLLABLES, repeat=n) for n in (2, 3, 4))
    return ["".join(parts) for parts in islice(chain.from_iterable(shapes), size)]


def passage_pool(size: int, seed: int) -> list[tuple[str, str]]:
    """(text, stored analysis) of `size` passages: two sentences of words drawn with Zipf-like
    frequencies (a few common words, a long tail), as in news. Servers draw their passages from
    it, so the analysis is made once a text, not once a row (the build's slowest part)."""
    from archivist.ranking import stored_analysis

    rng = np.random.default_rng(seed)
    words = np.array(vocabulary())
    rng.shuffle(words)  # frequent words of every shape, not the alphabet's first
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.07
    lengths = rng.integers(12, 19, size=(size, 2))
    drawn = iter(rng.choice(len(words), size=int(lengths.sum()), p=weights / weights.sum()))
    pool = []
    for first, second in lengths:
        sentences = [" ".join(words[next(drawn)] for _ in range(n)) for n in (first, second)]
        text = " ".join(s.capitalize() + "." for s in sentences)
        pool.append((text, stored_analysis(text)))
    return pool


def collection(n: int) -> str:
    return f"{100_000_000_000 + n}"  # a Discord guild id's shape


# -- build -------------------------------------------------------------------------------------
def server_size(rng: random.Random, sizes: str) -> int:
    """Passages of one server, 100 to 2,000: `uniform` (mean 1,050), or `loguniform` (mean
    ~634: most servers small, a few large, as communities are; 10,000 uniform servers would need
    ~62 GB of disk, more than this machine has free)."""
    if sizes == "loguniform":
        return round(math.exp(rng.uniform(math.log(100), math.log(2_000))))
    return rng.randint(100, 2_000)


def build(where: Path, servers: int, seed: int, sizes: str = "uniform") -> dict:
    from archivist.embedding import HashingEmbedder
    from archivist.index import VectorIndex
    from archivist.models import Article, Paragraph, Passage
    from archivist.store import NewArticle, Store, content_hash

    store_dir = where / "store"
    store = Store(store_dir / "archive.db")
    model = HashingEmbedder(DIM).name
    store.set_meta("embedder", model)
    store.set_meta("dim", str(DIM))
    pool = passage_pool(POOL, seed)
    rng = random.Random(seed)
    vectors_rng = np.random.default_rng(seed)
    started = time.perf_counter()
    passages = 0
    for n in range(servers):
        size = server_size(rng, sizes)
        items = []
        for a in range(0, size, PASSAGES_PER_ARTICLE):
            picked = [rng.choice(pool) for _ in range(min(PASSAGES_PER_ARTICLE, size - a))]
            texts = [text for text, _ in picked]
            article = Article(
                title=f"Report {n}-{a // PASSAGES_PER_ARTICLE}",
                paragraphs=tuple(Paragraph(t) for t in texts),
                source="Bench",
            )
            vectors = vectors_rng.normal(size=(len(texts), DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            digest = content_hash(article)
            items.append(
                NewArticle(
                    article=article,
                    article_id=digest[:12],
                    content_hash=digest,
                    passages=[Passage(i, t) for i, t in enumerate(texts)],
                    vectors=vectors,
                    origin=f"bench-{n}",
                    stems=[stems for _, stems in picked],
                )
            )
        inserted = store.insert_articles(collection(n), items, None)
        index = VectorIndex(store_dir / "index", collection(n), DIM, model)
        for item, ids in inserted.stored:
            index.add(np.array(ids, dtype=np.int64), item.vectors)
        index.save()
        passages += size
        if (n + 1) % 100 == 0:
            elapsed = time.perf_counter() - started
            print(f"  built {n + 1}/{servers} servers, {passages:,} passages, {elapsed:.0f}s")
    store.close()
    return {
        "servers": servers,
        "sizes": sizes,
        "passages": passages,
        "build_s": round(time.perf_counter() - started, 1),
        "disk_mb": round(dir_bytes(where) / 2**20),
    }


# -- measure (a fresh process) -----------------------------------------------------------------
def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def question_for(archive, name: str, rng: random.Random) -> str:
    """Five words of one of the server's passages (read before the clock starts)."""
    row = archive.store.db.execute(
        "SELECT text FROM passages WHERE collection = ? ORDER BY id LIMIT 1 OFFSET ?",
        [name, rng.randint(0, 99)],
    ).fetchone()
    words = row[0].rstrip(".").split()
    start = rng.randint(0, len(words) - 5)
    return " ".join(words[start : start + 5])


def measure(where: Path, servers: int, budget_mb: float, warm: int, seed: int) -> dict:
    from archivist.archive import Archive
    from archivist.config import Limits
    from archivist.embedding import HashingEmbedder

    embedder = HashingEmbedder(DIM)
    embedder.encode(["warm up"])
    started = time.perf_counter()
    archive = Archive(where, embedder=embedder, limits=Limits(index_memory_mb=budget_mb))
    archive.open_all_indexes()
    start_s = time.perf_counter() - started
    at_start = archive.indexes.use()
    rss_start = rss_mb()
    rng = random.Random(seed)
    order = [collection(n) for n in range(servers)]
    rng.shuffle(order)
    cold: list[float] = []
    warm_ms: list[float] = []
    answered = 0
    for i, name in enumerate(order):
        question = question_for(archive, name, rng)
        t = time.perf_counter()
        answer = archive.ask(question, collection=name)
        cold.append((time.perf_counter() - t) * 1000)
        answered += bool(answer.hits)
        if i % 20 == 19:  # a few servers asked again while their index is open
            for again in archive.indexes.open_collections()[-warm:]:
                question = question_for(archive, again, rng)
                t = time.perf_counter()
                archive.ask(question, collection=again)
                warm_ms.append((time.perf_counter() - t) * 1000)
    use = archive.indexes.use()
    rss_all = rss_mb()
    # the index's share of a cold ask: opening and checking it alone, on servers not open now
    open_ms: list[float] = []
    for name in [c for c in order if c not in set(archive.indexes.open_collections())][:300]:
        t = time.perf_counter()
        archive.checked_index(name)
        open_ms.append((time.perf_counter() - t) * 1000)
    result = {
        "budget_mb": budget_mb,
        "start_s": round(start_s, 2),
        "checked_at_start": at_start.open,
        "rss_after_start_mb": round(rss_start),
        "cold_ms": {k: round(v, 2) for k, v in percentiles(cold).items()},
        "warm_ms": {k: round(v, 2) for k, v in percentiles(warm_ms).items()},
        "index_open_ms": (
            {k: round(v, 2) for k, v in percentiles(open_ms).items()} if open_ms else None
        ),
        "answered_share": round(answered / len(order), 3),
        "rss_mb": round(rss_all),
        "peak_rss_mb": round(peak_rss_mb()),
        "open_files": open_files(),
        "indexes_open": use.open,
        "index_memory_mb": round(use.memory_bytes / 2**20),
    }
    archive.close()
    return result


def migrate(where: Path) -> float:
    """Seconds to open the store once: a build from an older schema is migrated then (m008
    rebuilds the full text), before the measured process opens it."""
    from archivist.store import Store

    started = time.perf_counter()
    Store(where / "store" / "archive.db").close()
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--budget-mb", type=float, default=None, help="default: the setting's")
    parser.add_argument("--warm", type=int, default=5, help="servers asked again every 20")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--sizes", choices=("uniform", "loguniform"), default="uniform", help="passages a server"
    )
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    where = (
        CACHE / f"servers-{args.servers}"
        if args.sizes == "uniform"
        else (CACHE / f"servers-{args.servers}-{args.sizes}")
    )
    built = where / "built.json"
    if args.measure_only:
        from archivist.config import Limits

        budget = args.budget_mb or Limits().index_memory_mb
        print(json.dumps(measure(where, args.servers, budget, args.warm, args.seed)))
        return
    if not built.exists():
        print(f"building {args.servers} servers under {where} (once)")
        where.mkdir(parents=True, exist_ok=True)
        built.write_text(json.dumps(build(where, args.servers, args.seed, args.sizes)))
    info = json.loads(built.read_text())
    print(f"built: {info}")
    migrate_s = migrate(where)
    print(f"opened (migrated if older) in {migrate_s} s")
    cmd = [sys.executable, __file__, "--measure-only", "--servers", str(args.servers)]
    cmd += ["--sizes", args.sizes]
    cmd += ["--warm", str(args.warm), "--seed", str(args.seed)]
    if args.budget_mb:
        cmd += ["--budget-mb", str(args.budget_mb)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    measured = json.loads(out.strip().splitlines()[-1])
    result = {**info, "migrate_s": migrate_s, **measured, "load": os.getloadavg()[0]}
    print(json.dumps(result, indent=2))
    budget = f"-{args.budget_mb:g}mb" if args.budget_mb else ""
    sizes = "" if args.sizes == "uniform" else f"-{args.sizes}"
    save_result(f"perf_servers-{args.servers}{sizes}{budget}", result)


if __name__ == "__main__":
    main()

"""Shared pieces of the performance benchmarks: data, the on-disk embedding cache, timing.

The data lives in ../shared/data (see its README); benchmarks skip with a message without it.
Embeddings are cached outside the repository (ARCHIVIST_BENCH_CACHE, default
~/.cache/archivist-bench) as shards of (texts, vectors), keyed by the exact text, so a run can be
interrupted and resumed and the 100k / 1M sets are built once.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DATA = Path(os.environ.get("ARCHIVIST_BENCH_DATA", ROOT.parent / "shared" / "data"))
CACHE = Path(os.environ.get("ARCHIVIST_BENCH_CACHE", Path.home() / ".cache" / "archivist-bench"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def need(path: Path) -> Path:
    if not path.exists():
        print(f"skipped: {path} is missing (see ../shared/data/README.md)")
        sys.exit(0)
    return path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50": statistics.median(s),
        "p95": s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))],
        "mean": statistics.fmean(s),
        "n": len(s),
    }


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# -- corpora -----------------------------------------------------------------------------------


def read_items(path: Path) -> list:
    """(origin, Article) pairs through the project's own readers, as `archivist add` reads."""
    from archivist import readers
    from archivist.config import Limits

    items = []
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        items.extend(readers.read_path(p, Limits()).articles)
    return items


def passage_texts(items) -> list[str]:
    """What `Archive.add_articles` embeds for these articles, in order."""
    from archivist.chunking import chunk_article, embed_text
    from archivist.embedding import count_model_tokens

    texts = []
    for _, article in items:
        for p in chunk_article(article, count_model_tokens):
            texts.append(embed_text(article.title, p.heading, p.text))
    return texts


def news_items() -> list:
    """BBC + Reuters (exact duplicates left out), as the quality benchmark loads them."""
    from quality_data import load_news

    need(DATA / "reuters-21578" / "articles.jsonl")
    return load_news(DATA)


def squad_items():
    from quality_data import load_squad

    need(DATA / "squad-v1.1-dev")
    return load_squad(DATA)


def news_texts() -> list[str]:
    return passage_texts(news_items())


def squad_texts() -> list[str]:
    articles, questions = squad_items()
    return passage_texts(articles) + [q.text for q in questions]


def cached_embedder():
    """The default embedder behind the shared on-disk cache (see perf_cache.py)."""
    from quality_data import CachingEmbedder

    from archivist.embedding import default_embedder

    return CachingEmbedder(default_embedder(), CACHE / "vectors")


def git_rev() -> str:
    try:
        return subprocess.check_output(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], text=True
        ).strip()
    except Exception:
        return "?"


def save_result(name: str, result: dict) -> Path:
    """Results as JSON under CACHE/results/ (the docs section is written from them)."""
    out = CACHE / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "rev": git_rev(),
        **result,
    }
    out.write_text(json.dumps(result, indent=2))
    return out

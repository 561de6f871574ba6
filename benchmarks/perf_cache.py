"""Fill the shared embedding cache the 100k / 1M / chromadb benchmarks read (once; resumable).

    .venv/bin/python benchmarks/perf_cache.py [news] [squad]

The cache is `quality_data.CachingEmbedder`'s (ARCHIVIST_BENCH_CACHE, default
~/.cache/archivist-bench/vectors/<model>), shared with the quality benchmark: vectors keyed by a
hash of the exact text embedded. This fills it with the default (ONNX) embedder in fp32, whose
vectors equal sentence-transformers' (cosine >= 0.9999, checked at load). The news texts are walked
from the end, so a quality run filling the same cache from the start meets this one in the
middle; texts another process cached meanwhile are skipped.
"""

from __future__ import annotations

import os
import sys
import time

from perf_common import news_texts, squad_texts


def main(which: list[str]) -> None:
    # fp32 vectors, keyed by the text alone (`_key(t)` below), as the benchmarks read them
    os.environ["ARCHIVIST_PRECISION"] = "fp32"
    from quality_data import CachingEmbedder
    from quality_data import cache_key as _key

    from archivist.embedding import default_embedder

    inner = default_embedder()
    for name in which or ["news", "squad"]:
        texts = news_texts() if name == "news" else squad_texts()
        texts = list(dict.fromkeys(reversed(texts)))
        started = time.perf_counter()
        done = 0
        for start in range(0, len(texts), 2048):
            cache = CachingEmbedder(inner)  # re-read: another process may have added shards
            part = [t for t in texts[start : start + 2048] if _key(t) not in cache._rows]
            if not part and start > 0 and all(_key(t) in cache._rows for t in texts[start:]):
                print(f"{name}: the rest is cached already", flush=True)
                break
            cache.encode(part)
            cache.save()
            done += len(part)
            rate = done / (time.perf_counter() - started)
            print(
                f"{name}: {start + 2048}/{len(texts)} walked, {done} embedded ({rate:.0f}/s)",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])

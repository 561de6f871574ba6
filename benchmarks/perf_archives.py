"""The archives `perf_ask.py` measures: 10k, 100k or 1M passages of real MiniLM vectors (every
SQuAD v1.1 dev paragraph, then BBC and Reuters passages, then copies of those with perturbed
vectors), written straight into the store and indexed as `Archive` would index them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from perf_common import CACHE, dir_bytes, news_items, peak_rss_mb, squad_items

COLLECTION = "default"  # what `archivist ask` searches
NOISE = 0.4


def archive_dir(size: int) -> Path:
    return CACHE / "archives" / str(size)


def cached_pool():
    """(Article, article id, passages, vectors) for every article whose passages are cached."""
    from quality_data import CachingEmbedder

    from archivist.chunking import chunk_article, embed_text
    from archivist.embedding import count_model_tokens, default_embedder

    cache = CachingEmbedder(default_embedder(), CACHE / "vectors")
    squad, _ = squad_items()
    out, skipped = [], 0
    for group in (squad, news_items()):
        for origin, article in group:
            passages = chunk_article(article, count_model_tokens)
            texts = [embed_text(article.title, p.heading, p.text) for p in passages]
            vectors = cache.cached(texts) if passages else None
            if vectors is None:
                skipped += 1
                continue
            out.append((article, article.id or origin, passages, vectors))
    print(
        f"pool: {len(out)} articles, {sum(len(p[2]) for p in out)} passages cached "
        f"({skipped} articles not cached yet)",
        flush=True,
    )
    return out


def build(size: int) -> dict:
    from archivist.archive import Archive
    from archivist.embedding import default_embedder
    from archivist.ranking.analysis import stored_analysis as passage_stems
    from archivist.store import NewArticle

    folder = archive_dir(size)
    marker = folder / "built.json"
    if marker.exists():
        return json.loads(marker.read_text())
    pool = cached_pool()
    rng = np.random.default_rng(size)
    archive = Archive(folder, embedder=default_embedder())
    started = time.perf_counter()
    total, batch, copy = 0, [], 0
    while total < size:
        for article, article_id, passages, vectors in pool:
            if total >= size:
                break
            if copy and article_id.startswith("squad:"):
                continue  # copies of a gold paragraph would compete with it for hit@5
            passages = passages[: size - total]
            vectors = vectors[: len(passages)]
            aid = article_id
            if copy:
                noise = rng.normal(size=vectors.shape).astype(np.float32)
                noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
                vectors = vectors + noise
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                aid = f"{article_id}~{copy}"
            batch.append(
                NewArticle(
                    article,
                    aid,
                    f"bench:{aid}",
                    passages,
                    np.ascontiguousarray(vectors, dtype=np.float32),
                    "bench",
                    [passage_stems(p.text) for p in passages],
                )
            )
            total += len(passages)
            if len(batch) >= 2000:
                archive.store.insert_articles(COLLECTION, batch, "bench")
                batch = []
        copy += 1
    if batch:
        archive.store.insert_articles(COLLECTION, batch, "bench")
    stored_s = time.perf_counter() - started
    print(f"{size}: {total} passages stored in {stored_s:.0f}s ({copy} rounds)", flush=True)
    started = time.perf_counter()
    index = archive.checked_index(COLLECTION)
    index_s = time.perf_counter() - started
    info = {
        "passages": total,
        "store_s": round(stored_s, 1),
        "index_build_s": round(index_s, 1),
        "index_type": index.kind,
        "nprobe": index.nprobe,
        "rounds_of_copies": copy - 1,
        "peak_rss_build_mb": round(peak_rss_mb()),
    }
    archive.close()
    info["db_mb"] = round(
        sum(p.stat().st_size for p in (folder / "store").glob("archive.db*")) / 2**20, 1
    )
    info["index_mb"] = round(dir_bytes(folder / "store" / "index") / 2**20, 1)
    marker.write_text(json.dumps(info, indent=2))
    print(info, flush=True)
    return info

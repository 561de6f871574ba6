"""The peer, side by side: chromadb with the same vectors (through a custom embedding function;
it cannot download its own model here) on the same corpus.

    .venv/bin/pip install chromadb   # only for this benchmark
    .venv/bin/python benchmarks/perf_peer.py [--news] [--questions 200]

Corpus: every SQuAD v1.1 dev paragraph as its own article (as the quality benchmark stores
them), plus with --news every BBC and Reuters passage as distractors (~76k passages). Vectors
come from the shared cache (perf_cache.py), so ingest times are storage + indexing only, for
both. Reported: ingest time, query latency (one question at a time, warm; ours includes
embedding the question; our dense index alone and chroma get the cached question vector), and
hit@5 (the gold paragraph among the first five) for `Archive.ask`, for our dense index alone
and for chroma, on the same questions.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from perf_common import (
    cached_embedder,
    news_items,
    passage_texts,
    peak_rss_mb,
    percentiles,
    save_result,
    squad_items,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--news", action="store_true")
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    try:
        import chromadb
        from chromadb.api.types import EmbeddingFunction
    except ImportError:
        raise SystemExit("chromadb is not installed: .venv/bin/pip install chromadb") from None

    from archivist.archive import Archive

    embedder = cached_embedder()
    articles, questions = squad_items()
    items = list(articles) + (news_items() if args.news else [])
    texts = passage_texts(items)
    embedder.encode(texts)  # all cached: fills the lookup, not timed
    random.Random(7).shuffle(questions)
    sample = questions[: args.questions]
    embedder.encode([q.text for q in questions])
    work = Path(tempfile.mkdtemp(prefix="perf-peer-"))
    result: dict = {
        "passages": len(texts),
        "questions": len(sample),
        "corpus": "SQuAD v1.1 dev" + (" + BBC + Reuters" if args.news else ""),
    }
    try:
        # -- ours ------------------------------------------------------------------------
        archive = Archive(work / "archivist", embedder=embedder)
        t0 = time.perf_counter()
        archive.add_articles(items, collection="bench")
        result["archivist_ingest_s"] = round(time.perf_counter() - t0, 2)
        index = archive.checked_index("bench")
        gold_pids: dict[str, set[int]] = {}
        for pid, row in archive.store.passages_by_ids(
            [int(i) for i in archive.store.passage_ids("bench")], "bench"
        ).items():
            if row.article_id.startswith("squad:"):
                gold_pids.setdefault(row.article_id, set()).add(pid)
        from archivist.embedding import default_embedder

        real = default_embedder()  # ask embeds the question for real
        archive.embedder = real
        for q in sample[:10]:
            archive.ask(q.text, collection="bench")
        ask_ms, hits, dense_hits = [], 0, 0
        for q in sample:
            t0 = time.perf_counter()
            answer = archive.ask(q.text, collection="bench")
            ask_ms.append((time.perf_counter() - t0) * 1000)
            hits += any(h.article_id == q.gold for h in answer.hits[:5])
        dense_ms = []
        qvec = embedder.encode([q.text for q in sample])
        for q, v in zip(sample, qvec, strict=True):
            t0 = time.perf_counter()  # the cached question vector, as chroma gets it
            ids, _ = index.search(v, 5)
            dense_ms.append((time.perf_counter() - t0) * 1000)
            dense_hits += bool(gold_pids.get(q.gold, set()) & {int(i) for i in ids})
        result["archivist_ask_ms"] = {k: round(v, 2) for k, v in percentiles(ask_ms).items()}
        result["archivist_hit_at_5"] = round(hits / len(sample), 4)
        result["archivist_dense_ms"] = {k: round(v, 2) for k, v in percentiles(dense_ms).items()}
        result["archivist_dense_hit_at_5"] = round(dense_hits / len(sample), 4)
        result["archivist_index"] = index.kind
        archive.close()
        result["archivist_disk_mb"] = round(
            sum(p.stat().st_size for p in (work / "archivist").rglob("*") if p.is_file()) / 2**20, 1
        )

        # -- chroma ----------------------------------------------------------------------
        class Cached(EmbeddingFunction):
            def __init__(self) -> None:
                pass

            def __call__(self, input):  # noqa: A002 - chroma's name
                return [v for v in embedder.encode(list(input))]

            @staticmethod
            def name() -> str:
                return "archivist-cached-minilm"

            def get_config(self):
                return {}

            @staticmethod
            def build_from_config(config):
                return Cached()

        client = chromadb.PersistentClient(path=str(work / "chroma"))
        collection = client.create_collection(
            "bench", embedding_function=Cached(), metadata={"hnsw:space": "cosine"}
        )
        ids = [f"p{i}" for i in range(len(texts))]
        owner = []
        for origin, article in items:
            from archivist.chunking import chunk_article
            from archivist.embedding import count_model_tokens

            owner += [article.id or origin] * len(chunk_article(article, count_model_tokens))
        batch = min(5000, client.get_max_batch_size())
        t0 = time.perf_counter()
        for start in range(0, len(texts), batch):
            collection.add(
                ids=ids[start : start + batch],
                documents=texts[start : start + batch],
                metadatas=[{"article": a} for a in owner[start : start + batch]],
            )
        result["chroma_ingest_s"] = round(time.perf_counter() - t0, 2)
        for q in sample[:10]:
            collection.query(query_texts=[q.text], n_results=5)
        chroma_ms, chroma_hits = [], 0
        for q in sample:
            t0 = time.perf_counter()
            found = collection.query(query_texts=[q.text], n_results=5, include=["metadatas"])
            chroma_ms.append((time.perf_counter() - t0) * 1000)
            chroma_hits += any(m["article"] == q.gold for m in found["metadatas"][0])
        result["chroma_query_ms"] = {k: round(v, 2) for k, v in percentiles(chroma_ms).items()}
        result["chroma_hit_at_5"] = round(chroma_hits / len(sample), 4)
        result["chroma_disk_mb"] = round(
            sum(p.stat().st_size for p in (work / "chroma").rglob("*") if p.is_file()) / 2**20, 1
        )
        result["chromadb"] = chromadb.__version__
        result["peak_rss_mb"] = round(peak_rss_mb())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(result, flush=True)
    print(save_result("perf_peer_news" if args.news else "perf_peer", result))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

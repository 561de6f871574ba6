"""ONNX vs PyTorch on SQuAD v1.1 dev: cosine between the two back ends' vectors of the same
texts, and dense hit@5 with each (the retrieval-quality check for making ONNX the default).

    .venv/bin/python benchmarks/perf_parity.py [--questions 500]

Both sets are computed in this run: SentenceTransformer.encode (fp32) and the ONNX embedder.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from perf_common import passage_texts, save_result, squad_items


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=500)
    args = parser.parse_args()
    from archivist.chunking import chunk_article
    from archivist.embedding import OnnxEmbedder, SentenceTransformerEmbedder, count_model_tokens

    articles, questions = squad_items()
    texts = passage_texts(articles)
    owner = [a.id for _, a in articles for _ in chunk_article(a, count_model_tokens)]
    random.Random(11).shuffle(questions)
    sample = questions[: args.questions]
    qtexts = [q.text for q in sample]
    result = {"passages": len(texts), "questions": len(sample)}
    vectors = {}
    for name, embedder in (("onnx", OnnxEmbedder()), ("torch", SentenceTransformerEmbedder())):
        t0 = time.perf_counter()
        vectors[name] = (embedder.encode(texts), embedder.encode(qtexts))
        result[f"{name}_s"] = round(time.perf_counter() - t0, 1)
        print(name, result[f"{name}_s"], flush=True)
    for part, i in (("passages", 0), ("questions", 1)):
        a, b = vectors["onnx"][i], vectors["torch"][i]
        result[f"min_cosine_{part}"] = float(np.min(np.sum(a * b, axis=1)))
    owners = np.array(owner)
    for name, (p, q) in vectors.items():
        top = np.argsort(-(q @ p.T), axis=1)[:, :5]
        result[f"dense_hit_at_5_{name}"] = round(
            float(np.mean([qq.gold in set(owners[t]) for qq, t in zip(sample, top, strict=True)])),
            4,
        )
    print(result, flush=True)
    print(save_result("perf_parity", result))


if __name__ == "__main__":
    main()

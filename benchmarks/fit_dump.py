"""Dump every question's hybrid candidates once, so that combiners and answered rules can be
fitted and compared offline in seconds (issue 15) instead of re-running the whole harness.

    cd benchmarks && ../.venv/bin/python fit_dump.py --set news --out /tmp/fit/news.pkl

Each record: the question (its text, half, style, whether the archive can answer it), its
`QueryTerms`, the candidates' ids, their FEATURES (as `Ranker.candidates` gives them, exact
cosines included) and labels (the passage holds the answer); the passages themselves once per
file. `--set squad-tune` / `squad-test` ask every SQuAD question of one half's archive: the
other half's questions are out of archive (the answered rule's negatives).
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from news_quality import gold_paragraphs, is_right, load_questions
from quality_data import COLLECTION, CachingEmbedder, load_squad, open_archive, split_titles

from archivist.embedding import default_embedder

SETS = ("news", "squad", "squad-tune", "squad-test")


def squad_questions(limit: int | None, archive_half: str | None) -> list[dict]:
    _, questions = load_squad()
    tune, _ = split_titles(questions)
    if limit:
        questions = questions[:: max(1, len(questions) // limit)][:limit]
    out = []
    for q in questions:
        split = "tune" if q.article_title in tune else "test"
        out.append(
            {
                "id": q.id,
                "text": q.text,
                "split": split,
                "style": "squad",
                "answerable": archive_half is None or split == archive_half,
                "gold": q.gold,
            }
        )
    return out


def dump(name: str, limit: int | None, out: Path) -> None:
    embedder = CachingEmbedder(default_embedder())
    if name == "news":
        news = load_questions()
        paragraphs = gold_paragraphs(news)
        asked = [
            {
                "id": q.id,
                "text": q.text,
                "split": q.split,
                "style": q.style,
                "answerable": q.answerable,
                "dated": q.dated,
                "question": q,
            }
            for q in news
        ]
    else:
        half = name.removeprefix("squad-") if name != "squad" else None
        asked = squad_questions(limit, half)
    vectors = embedder.encode([q["text"] for q in asked])
    embedder.save()
    archive = open_archive(name, embedder)
    ranker = archive.ranker
    passages: dict[int, object] = {}
    records = []
    started = time.perf_counter()
    for q, vector in zip(asked, vectors, strict=True):
        retrieval = ranker.retrieve(q["text"], COLLECTION, depth=10, vector=vector)
        table = ranker.candidates(retrieval)
        rows = [table.rows[pid] for pid in table.ids]
        for row in rows:
            passages.setdefault(row.id, row)
        if name == "news":
            labels = [is_right(q["question"], r.article_id, r.text, paragraphs) for r in rows]
        else:
            labels = [q["answerable"] and r.article_id == q["gold"] for r in rows]
        record = {k: v for k, v in q.items() if k != "question"}
        record.update(
            terms=retrieval.terms,
            vector=np.asarray(vector, np.float32),
            ids=list(table.ids),
            features=table.features.copy(),
            labels=np.array(labels, bool),
        )
        records.append(record)
    archive.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        pickle.dump({"set": name, "records": records, "passages": passages}, fh)
    took = time.perf_counter() - started
    print(f"{name}: {len(records)} questions, {len(passages)} passages, {took:.0f}s -> {out}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fit_dump", description=__doc__.splitlines()[0])
    parser.add_argument("--set", required=True, choices=SETS)
    parser.add_argument("--limit", type=int, default=None, help="SQuAD: only this many questions")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    dump(args.set, args.limit, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

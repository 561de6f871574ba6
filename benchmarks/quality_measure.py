"""Measuring answer quality: every question through each ranking configuration, the metrics,
the `answered` thresholds, and fitting the combiner's weights (`quality.py --fit`).

Only the archive's public API: `Archive.ranker` retrieves once per question and answers under
each configuration; the fit reads the candidates' features from `ranking.features` through
`Ranker.candidates`, the same the ranking scores.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quality_data import (
    COLLECTION,
    CachingEmbedder,
    Question,
    data_root,
    load_squad,
    open_archive,
    split_titles,
)
from quality_report import format_out, format_set

from archivist.archive import Archive
from archivist.embedding import default_embedder
from archivist.ranking import SearchConfig
from archivist.ranking.features import RANKING_FEATURES
from archivist.ranking.highlights import likeliest_sentences

Say = Callable[[str], None]


def say_out(message: str) -> None:
    print(message, flush=True)


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One question under one configuration."""

    rank: int | None  # 0-based rank of the first passage of the gold article in the top 10
    signal: float  # what `answered` is decided on
    answered: bool
    bold_has_answer: bool | None  # for a right rank-1 hit: does the highlight hold an answer


def run_questions(
    archive: Archive,
    questions: Sequence[Question],
    configs: dict[str, SearchConfig],
    vectors: np.ndarray,
    depth: int = 10,
    progress=None,
) -> dict[str, list[Outcome]]:
    """Every question once through retrieval, then through each configuration's ranking (what
    `Archive.ask` does, with the candidate lists shared)."""
    ranker = archive.ranker
    out: dict[str, list[Outcome]] = {name: [] for name in configs}
    for i, question in enumerate(questions):
        retrieval = ranker.retrieve(question.text, COLLECTION, depth=depth, vector=vectors[i])
        for name, cfg in configs.items():
            scored = ranker.scored_answer(retrieval, depth, 0, cfg, highlighted=1)
            answer = scored.answer
            ids = [h.article_id for h in answer.hits]
            position = ids.index(question.gold) if question.gold in ids else None
            bold = None
            if position == 0:
                text = (answer.hits[0].highlight or "").lower()
                bold = any(a.lower() in text for a in question.answers)
            out[name].append(Outcome(position, scored.signal, answer.answered, bold))
        if progress and (i + 1) % 500 == 0:
            progress(i + 1, len(questions))
    return out


def quality(outcomes: Sequence[Outcome]) -> dict[str, float]:
    n = len(outcomes) or 1
    ranks = [o.rank for o in outcomes]
    right = [o for o in outcomes if o.rank == 0]
    return {
        "hit@1": sum(r is not None and r < 1 for r in ranks) / n,
        "hit@5": sum(r is not None and r < 5 for r in ranks) / n,
        "hit@10": sum(r is not None and r < 10 for r in ranks) / n,
        "mrr@10": sum(1.0 / (r + 1) for r in ranks if r is not None) / n,
        "bold": sum(bool(o.bold_has_answer) for o in right) / (len(right) or 1),
        "answered": sum(o.answered for o in outcomes) / n,
        "n": len(outcomes),
    }


def threshold_for(in_signals: Sequence[float], answer_share: float = 0.95) -> float:
    """The highest threshold that still answers `answer_share` of in-archive questions."""
    ordered = np.sort(np.asarray(in_signals, dtype=np.float64))
    return float(ordered[int(np.floor((1.0 - answer_share) * len(ordered)))])


def declined_at(out_signals: Sequence[float], threshold: float) -> float:
    values = np.asarray(out_signals, dtype=np.float64)
    return float(np.mean(values < threshold)) if len(values) else 0.0


# -- fitting the combiner ------------------------------------------------------------------------
def gather_features(
    archive: Archive,
    questions: Sequence[Question],
    vectors: np.ndarray,
    cfg: SearchConfig | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features, labels) per question: the hybrid ranking's candidate features plus the
    second stage's (the best cosine among the passage's `sentence_pool` sentences that share
    most with the question), for every candidate."""
    cfg = cfg or SearchConfig()
    out = []
    for i, question in enumerate(questions):
        retrieval = archive.ranker.retrieve(question.text, COLLECTION, depth=10, vector=vectors[i])
        table = archive.ranker.candidates(retrieval)
        if not table.ids:
            continue
        best = []
        for sentences, coverage in zip(table.sentences, table.coverage, strict=True):
            pool = likeliest_sentences(sentences, coverage, cfg.sentence_pool)
            pooled = [sentences[j] for j in pool]
            best.append(
                float(np.max(archive.embedder.encode(pooled) @ retrieval.vector)) if pooled else 0.0
            )
        features = np.hstack([table.features, np.array(best, np.float32)[:, None]])
        labels = np.array([table.rows[p].article_id == question.gold for p in table.ids])
        out.append((features, labels))
    return out


def fit(say: Say = say_out) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Fit both stages' weights on the SQuAD tune half (all paragraphs stored); say them."""
    embedder = CachingEmbedder(default_embedder())
    _, questions = load_squad()
    tune, _ = split_titles(questions)
    asked = [q for q in questions if q.article_title in tune]
    vectors = embedder.encode([q.text for q in asked])
    archive = open_archive("squad", embedder)
    samples = gather_features(archive, asked, vectors)
    embedder.save()
    archive.close()
    # the combiner's columns; FEATURES' others are the answered rule's (`fit_answered.py`)
    first = fit_listwise([(x[:, :RANKING_FEATURES], y) for x, y in samples])
    second = fit_listwise(
        [(np.hstack([x[:, :RANKING_FEATURES], x[:, -1:]]), y) for x, y in samples]
    )
    first_t = tuple(round(float(w), 2) for w in first)
    second_t = tuple(round(float(w), 2) for w in second)
    say(f"FIRST_STAGE_WEIGHTS = {first_t}\nSECOND_STAGE_WEIGHTS = {second_t}")
    return first_t, second_t


def fit_listwise(samples, l2: float = 1e-3, steps: int = 300) -> np.ndarray:
    """Weights of a linear scorer trained with a listwise softmax loss (the gold passage
    against the other candidates of its question), on standardized features, returned on
    the raw scale. Questions whose gold passage was not retrieved teach nothing and are
    skipped. Plain numpy, Adam steps."""
    samples = [(x.astype(np.float64), y) for x, y in samples if y.any()]
    stacked = np.concatenate([x for x, _ in samples])
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-6
    width = max(len(x) for x, _ in samples)
    n, f = len(samples), stacked.shape[1]
    X = np.zeros((n, width, f))
    Y = np.zeros((n, width))
    mask = np.full((n, width), -1e9)
    for i, (x, y) in enumerate(samples):
        X[i, : len(x)] = (x - mu) / sd
        Y[i, : len(y)] = y / y.sum()
        mask[i, : len(x)] = 0.0
    w = np.zeros(f)
    m = np.zeros(f)
    v = np.zeros(f)
    for step in range(1, steps + 1):
        s = X @ w + mask
        s -= s.max(1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(1, keepdims=True)
        g = np.einsum("nlf,nl->f", X, p - Y) / n + l2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w / sd


# -- the run -------------------------------------------------------------------------------------
def configurations() -> dict[str, SearchConfig]:
    return {
        "hybrid (shipped)": SearchConfig(),
        "hybrid + sentence stage": SearchConfig(rerank=3),
        "rrf": SearchConfig(mode="rrf"),
        "bm25 (FTS5)": SearchConfig(mode="bm25"),
        "dense": SearchConfig(mode="dense"),
        **_variants(),
    }


def _variants() -> dict[str, SearchConfig]:
    """Extra configurations to compare, from ARCHIVIST_EVAL_VARIANTS: `name=field:value,...;...`."""
    out = {}
    for spec in filter(None, os.environ.get("ARCHIVIST_EVAL_VARIANTS", "").split(";")):
        name, _, fields = spec.partition("=")
        values = {}
        for item in filter(None, fields.split(",")):
            key, _, raw = item.partition(":")
            values[key] = type(getattr(SearchConfig(), key))(raw)
        out[name] = SearchConfig(**values)
    return out


def evaluate(
    sets: Sequence[str] = ("squad", "mixed", "out"),
    limit: int | None = None,
    latency_samples: int = 300,
    say: Say = say_out,
) -> dict:
    """Measure every configuration on the chosen sets; returns the results (and says them)."""
    inner = default_embedder()
    embedder = CachingEmbedder(inner)
    _, questions = load_squad()
    tune, test = split_titles(questions)  # of every question, as the stores were split
    if limit:
        step = max(1, len(questions) // limit)
        questions = questions[::step][:limit]
    started = time.perf_counter()
    vectors = embedder.encode([q.text for q in questions])
    embedder.save()
    say(f"{len(questions)} questions embedded in {time.perf_counter() - started:.0f}s")
    qvec = {q.id: v for q, v in zip(questions, vectors, strict=True)}
    configs = configurations()
    results: dict = {"questions": len(questions), "sets": {}}

    def progress(done, total):
        say(f"  {done}/{total} ({time.perf_counter() - started:.0f}s)")

    def rows_for(outcomes, selected):
        return {
            name: quality([o for o, q in zip(outs, questions, strict=True) if selected(q)])
            for name, outs in outcomes.items()
        }

    for name in [s for s in ("squad", "mixed") if s in sets]:
        if name == "mixed" and not (data_root() / "reuters-21578" / "articles.jsonl").exists():
            say("mixed: skipped (news data missing)")
            continue
        started = time.perf_counter()
        archive = open_archive(name, embedder, progress=lambda n, d, t: say(f"  {n}: {d}/{t}"))
        passages = archive.stats(collection=COLLECTION).passages
        say(f"{name}: {passages} passages")
        outcomes = run_questions(archive, questions, configs, vectors, progress=progress)
        embedder.save()
        results["sets"][name] = {
            "passages": passages,
            "held_out": rows_for(outcomes, lambda q: q.article_title in test),
            "all": rows_for(outcomes, lambda q: True),
        }
        if latency_samples:
            results["sets"][name]["latency_ms"] = ask_latency(
                archive.data_dir, inner, questions, latency_samples
            )
        archive.close()
        say(format_set(name, results["sets"][name]))

    if "out" in sets:
        results["out"] = out_of_archive(embedder, questions, qvec, tune, test, configs, say)
        say(format_out(results["out"]))
    return results


def out_of_archive(embedder, questions, qvec, tune, test, configs, say) -> dict:
    """Index one half of SQuAD, ask both halves' questions. The threshold each configuration
    would ship with is fitted on the tune half's archive (answer 95% of its own questions)
    and applied to the test half's archive; `oracle` is the share declined at the threshold
    that answers 95% of in-archive questions, chosen on the set itself."""
    signals: dict[str, dict] = {}
    for half, own in (("squad-tune", tune), ("squad-test", test)):
        archive = open_archive(half, embedder)
        asked = questions
        vectors = np.stack([qvec[q.id] for q in asked])
        outcomes = run_questions(archive, asked, configs, vectors)
        archive.close()
        for name, outs in outcomes.items():
            entry = signals.setdefault(name, {})
            entry[half] = (
                [o.signal for o, q in zip(outs, asked, strict=True) if q.article_title in own],
                [o.signal for o, q in zip(outs, asked, strict=True) if q.article_title not in own],
            )
    out = {}
    for name, entry in signals.items():
        tune_in, _ = entry["squad-tune"]
        test_in, test_out = entry["squad-test"]
        fitted = threshold_for(tune_in)
        pooled_in = entry["squad-tune"][0] + test_in
        pooled_out = entry["squad-tune"][1] + test_out
        out[name] = {
            "threshold_fitted_on_tune": fitted,
            "held_out_answered": 1.0 - declined_at(test_in, fitted),
            "held_out_declined": declined_at(test_out, fitted),
            "oracle_declined_held_out": declined_at(test_out, threshold_for(test_in)),
            "oracle_declined_all": declined_at(pooled_out, threshold_for(pooled_in)),
        }
    return out


def ask_latency(directory: Path, embedder, questions, samples: int) -> dict:
    """`Archive.ask` end to end (the real model, not the cache), warm, in process."""
    archive = Archive(directory, embedder=embedder)
    picked = questions[:: max(1, len(questions) // samples)][:samples]
    for q in picked[:10]:  # warm up: the model, the index, SQLite's pages
        archive.ask(q.text, collection=COLLECTION)
    timings = []
    for q in picked:
        started = time.perf_counter()
        archive.ask(q.text, collection=COLLECTION)
        timings.append((time.perf_counter() - started) * 1000)
    archive.close()
    ordered = sorted(timings)
    return {
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))],
        "n": len(ordered),
    }

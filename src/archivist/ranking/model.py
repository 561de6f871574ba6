"""The ranking model: its settings, the fitted weights, the linear combiner, and the rule that
decides whether the best passage answers the question (a logistic regression over the best
candidate's features, read off the best score: `first_stage`, `answers`).

The shipped ranking (`mode="hybrid"`) scores the union of both candidate lists with a small
linear model over the FEATURES of `ranking.features`. An optional second stage (`rerank` > 0)
re-scores the best few with the vectors of their likeliest sentences, which also pick the
highlight: a little better, but several times slower on two cores. The weights were fitted by
`benchmarks/quality.py --fit` on one half of SQuAD and checked on the other and among news
distractors (docs/benchmarks.md). `bm25`, `dense` and `rrf` are kept as modes for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archivist.ranking.features import FEATURES

MODES = ("hybrid", "rrf", "bm25", "dense")

# Fitted on the SQuAD tune half and the news question set's tune half together (issue 15; each
# news question weighs as 10 SQuAD ones: listwise softmax regression on standardized features,
# given back on the raw scale, so no scaler ships); checked on both held-out halves
# (docs/benchmarks.md). Title coverage and the two lists' ranks were tried as features and
# added nothing; so did answer-type cues and article-level evidence on the news set. Later
# (fit_dump.py's candidates), 21 more inputs (per-question z-scores and ranks, the article's
# best and second cosine and candidate count, position, lead, neighbours' cosine, title
# coverage) lost as linear features (news test hit@1 0.522-0.594 vs 0.604 on the same
# candidates) and in a small LightGBM lambdarank (0.575-0.609; SQuAD unchanged): not shipped.
# A learned query-side map for the cosine (benchmarks/fit_adapter.py: I + A B^T of rank 32 on the
# question vector only, both tune halves) lost too, through the Ranker: news test hit@1 / hit@5
# 0.614 / 0.826 -> 0.614 / 0.826 (paraphrase 0.346 -> 0.327), SQuAD held out 0.859 / 0.967 ->
# 0.857 / 0.965: it learns the tune passages, not the questions (held-aside tune MRR 0.608 ->
# 0.617 at best).
FIRST_STAGE_WEIGHTS = (14.72, 0.67, 1.88, 3.77, 2.34, 1.52)
# SQuAD tune half only, before `untitled_sentence` (weighted 0 here: not refitted, the stage is
# off by default), the last weight the best sentence cosine's
SECOND_STAGE_WEIGHTS = (8.29, 1.93, 1.67, 3.86, 2.18, 0.0, 5.94)

# The best passage's score at which it is taken to answer the question (confidence 0.5), for
# a ranking without the sentence stage and with it. The first stage's scores are anchored there:
# its best score is this plus the log-odds of `ANSWER_WEIGHTS` (see `first_stage`).
# The sentence stage's: fitted by `benchmarks/quality.py` so that 95% of the SQuAD tune half's
# questions are answered from an archive of the tune half (docs/benchmarks.md, "Out of archive").
FIRST_STAGE_ANSWER_SCORE = 10.40
SENTENCE_STAGE_ANSWER_SCORE = 11.18

# The answered rule (issue 15): logistic regression over what the best candidate and the
# question show, fitted by `benchmarks/fit_answered.py` on the news set's tune half (its
# unanswerable questions the negatives) and on SQuAD's tune-half archive (the other half's
# questions the negatives), each of the four groups weighing alike but news half as much; the
# intercept then moved so that 95% of the answerable questions of each tune half are answered.
# At the threshold answering 95% of the tune half's answerable questions, the best score alone
# declined 0.24 of the news test half's unanswerable ones (0.957 answered), this rule 0.52
# (0.957); SQuAD held out, out of archive: 0.969 -> 0.949 declined (0.955 -> 0.946 answered).
ANSWER_INPUTS = (
    "score",  # the combiner's score of the best candidate
    "margin",  # its lead over the second
    "dense",  # its cosine
    "sentence_lexical",
    "passage_lexical",
    "untitled_sentence",
    "unseen",
    "best_dense",  # the best cosine among all candidates
    "rarest_missing",
    "year_missing",
    "terms",
)
ANSWER_WEIGHTS = (
    0.0669,
    0.2594,
    1.6884,
    -0.1701,
    0.3974,
    2.6887,
    -1.704,
    3.7548,
    -1.4518,
    -2.3919,
    0.0909,
)
ANSWER_INTERCEPT = -3.8626


@dataclass(frozen=True)
class SearchConfig:
    mode: str = "hybrid"  # one of MODES
    candidates: int = 50  # from each side
    rrf_k: int = 60
    # passages re-scored with their sentences' vectors: +0.01 hit@1 on SQuAD for ~6 sentence
    # encodes an ask (several times the rest of `ask` on 2 cores), so off by default
    rerank: int = 0
    sentence_pool: int = 2  # sentences of each such passage embedded (those sharing most words)
    weights: tuple[float, ...] = FIRST_STAGE_WEIGHTS
    rerank_weights: tuple[float, ...] = SECOND_STAGE_WEIGHTS
    # hybrid: `answered` is false when the best passage's `confidence` is below this
    answer_threshold: float = 0.5
    # the other modes: when the best cosine on the page is below this
    answer_cosine: float = 0.30
    # terms in more than this many passages are left out of the FTS5 query (their posting
    # lists cost the most and weigh the least); the rarest `min_query_terms` always stay.
    # SQuAD among 75k news passages, all 10,570 questions: hit@5 0.9428 at 5,000, 0.9416 at
    # 3,000, 0.9405 at 2,000; the FTS5 query's p50 / p95 4.6 / 10.9, 4.0 / 8.6, 3.2 / 6.6 ms
    max_term_docs: int = 3_000
    min_query_terms: int = 3
    # and all the terms kept bring at most this many passages: FTS5 scores each, ~1 us apiece.
    # SQuAD among 75k news passages (2026-11-28, irregular forms counted): hit@1 / hit@5
    # 0.8267 / 0.9426 at 10,000, 0.8261 / 0.9429 at 6,000, 0.8256 / 0.9425 at 5,000,
    # 0.8246 / 0.9416 at 4,000, 0.8182 / 0.9360 at 2,000. At 100k passages 6,000 takes ~1 ms
    # off the ask's p95 (docs/benchmarks.md, Ask)
    max_query_postings: int = 6_000


def check_mode(cfg: SearchConfig) -> None:
    if cfg.mode not in MODES:
        raise ValueError(f"unknown search mode {cfg.mode!r}; one of {', '.join(MODES)}")


def first_stage(features: np.ndarray, cfg: SearchConfig) -> tuple[np.ndarray, list[int]]:
    """Each candidate's score, and the candidates' order (best first, ties by position).

    The combiner's scores, all moved by one amount per question so that the best one is
    FIRST_STAGE_ANSWER_SCORE + `answer_log_odds`: the order, the gaps (the date preference,
    the copies) are the combiner's, and `answers` reads whether the question is answered off
    the best score, as every caller and the evaluation's thresholds already do."""
    weights = np.asarray(cfg.weights, dtype=np.float32)
    scores = features[:, : len(weights)] @ weights
    order = list(np.argsort(-scores, kind="stable"))
    if order:
        best = float(scores[order[0]])
        anchor = FIRST_STAGE_ANSWER_SCORE + answer_log_odds(features, scores, order)
        scores = (scores + np.float32(anchor - best)).astype(np.float32)
    return scores, order


# the columns of FEATURES that the rule reads off the best candidate, in ANSWER_INPUTS' order
# after the first two (from the scores) and before `best_dense` (from every candidate)
_TOP_COLUMNS = tuple(
    FEATURES.index(name)
    for name in ("dense", "sentence_lexical", "passage_lexical", "untitled_sentence", "unseen")
)
_LAST_COLUMNS = tuple(FEATURES.index(name) for name in ("rarest_missing", "year_missing", "terms"))
_DENSE = FEATURES.index("dense")


def answer_inputs(features: np.ndarray, scores: np.ndarray, order: Sequence[int]) -> list[float]:
    """ANSWER_INPUTS of a question's ranking (`scores`: the combiner's, `order`: best first)."""
    best = float(scores[order[0]])
    second = float(scores[order[1]]) if len(order) > 1 else best
    top = features[order[0]].tolist()
    return [
        best,
        best - second,
        *(top[i] for i in _TOP_COLUMNS),
        float(features[:, _DENSE].max()),
        *(top[i] for i in _LAST_COLUMNS),
    ]


def answer_log_odds(features: np.ndarray, scores: np.ndarray, order: Sequence[int]) -> float:
    """The log-odds that the best candidate answers the question, 0 at the fitted threshold."""
    inputs = answer_inputs(features, scores, order)
    return sum(w * x for w, x in zip(ANSWER_WEIGHTS, inputs, strict=True)) + ANSWER_INTERCEPT


def second_stage(features: np.ndarray, sentence_cosine: float, cfg: SearchConfig) -> float:
    """A passage's score once its best sentence's cosine is known."""
    weights = np.asarray(cfg.rerank_weights, dtype=np.float32)
    passage = features[: len(weights) - 1]
    return float(passage @ weights[:-1]) + float(weights[-1]) * sentence_cosine


def confidence(score: float, center: float) -> float:
    """The best passage's score as a 0..1 value, 0.5 at `center` (logistic: monotone, so a
    threshold on it is a threshold on the score)."""
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, score - center))))


def answers(signal: float, cfg: SearchConfig) -> bool:
    """Whether a question counts as answered: the hybrid's best score against its fitted
    center; the comparison modes keep the first rule, the best cosine on the page."""
    if cfg.mode != "hybrid":
        return signal >= cfg.answer_cosine
    center = SENTENCE_STAGE_ANSWER_SCORE if cfg.rerank else FIRST_STAGE_ANSWER_SCORE
    return confidence(signal, center) >= cfg.answer_threshold


def rrf_fuse(rankings: Sequence[Sequence[int]], k: int) -> list[tuple[int, float]]:
    """Plain reciprocal-rank fusion (kept as a mode to compare against)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

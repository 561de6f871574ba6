"""The features of (question, passage) pairs: cheap enough for a hundred candidates an ask."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from archivist.ranking.analysis import passage_analysis, stem_string
from archivist.ranking.lexical import QueryTerms
from archivist.store import PassageRow

# In this order (the columns of `candidate_features`):
FEATURES = (
    "dense",  # cosine of question and passage vectors
    "bm25",  # FTS5 bm25 / the best bm25 among this question's candidates (0 when not matched)
    "sentence_lexical",  # share of the question's idf weight in the passage's best sentence
    "passage_lexical",  # share of the question's idf weight in title + heading + passage
    "pairs",  # share of the question's adjacent term pairs found adjacent in the passage
)
# The second stage adds the best cosine between the question and one of the passage's sentences.

# below 1 the matched words are in most passages (a tiny archive): the bm25 ratio would be noise
BM25_FLOOR = 1.0


def coverage(terms: QueryTerms, present: set[str] | frozenset[str]) -> float:
    """The share of the question's idf weight among the stems `present`."""
    return sum(w for s, w in terms.idf.items() if s in present) / terms.weight


def candidate_features(
    terms: QueryTerms,
    question_vector: np.ndarray,
    rows: Sequence[PassageRow],
    vectors: np.ndarray,
    lexical: Mapping[int, float],
) -> tuple[np.ndarray, list[Sequence[str]], list[list[float]]]:
    """The FEATURES of each candidate (rows align with `rows`), its sentences, and the share
    of the question's weight each sentence covers.

    `lexical`: passage id -> bm25 for the candidates FTS5 found. Each passage's words are
    analysed once (and cached); per question only the question's few terms are looked up."""
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float32)
    best_bm25 = max(max(lexical.values(), default=0.0), BM25_FLOOR)
    # stems are \w+ tokens: " a " in " x a y " is a word test, " a b " a pair test
    pairs = {f" {a} {b} " for a, b in zip(terms.stems, terms.stems[1:], strict=False)}
    idf = [(f" {s} ", w) for s, w in terms.idf.items()]
    weight = terms.weight
    cosines = vectors @ question_vector if len(rows) else np.zeros(0)
    all_sentences: list[Sequence[str]] = []
    all_coverage: list[list[float]] = []
    for i, row in enumerate(rows):
        analysis = passage_analysis(row)
        body = analysis.body
        # a term missing from the passage is in none of its sentences (most candidates hold
        # few of the question's terms)
        present = [(s, w) for s, w in idf if s in body]
        per_sentence = [
            sum(w for s, w in present if s in sentence) / weight
            for sentence in analysis.sentence_stems
        ] or [0.0]
        around = stem_string(row.title) + (stem_string(row.heading) if row.heading else "")
        all_sentences.append(analysis.sentences)
        all_coverage.append(per_sentence)
        out[i] = (
            float(cosines[i]),
            lexical.get(row.id, 0.0) / best_bm25,
            max(per_sentence),
            sum(w for s, w in idf if s in body or s in around) / weight,
            sum(1 for pair in pairs if pair in body) / len(pairs) if pairs else 0.0,
        )
    return out, all_sentences, all_coverage

"""The highlight: the sentence of a passage that best answers the question (shown in bold)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from archivist.embedding import Embedder
from archivist.ranking.analysis import stems
from archivist.ranking.features import coverage
from archivist.ranking.lexical import QueryTerms


def most_covering(sentences: Sequence[str], per_sentence: Sequence[float]) -> str:
    """The sentence covering the most of the question's weight (no model needed)."""
    return sentences[int(np.argmax(per_sentence))]


def likeliest_sentences(
    sentences: Sequence[str], per_sentence: Sequence[float], size: int
) -> list[int]:
    """Which `size` sentences share the most with the question, the likeliest to answer it:
    the few worth embedding (encoding every sentence would cost more than the rest of `ask`)."""
    return sorted(range(len(sentences)), key=lambda j: -per_sentence[j])[:size]


def sentence_scores(
    question_vector: np.ndarray,
    terms: QueryTerms,
    sentences: Sequence[str],
    sentence_vectors: np.ndarray,
) -> np.ndarray:
    """How well each sentence answers: its cosine plus the share of the question it covers."""
    if not sentences:
        return np.zeros(0)
    dense = sentence_vectors @ question_vector
    lexical = np.array([coverage(terms, set(stems(s))) for s in sentences])
    return dense + 0.5 * lexical


def embedded_highlights(
    embedder: Embedder,
    question_vector: np.ndarray,
    terms: QueryTerms,
    sentences_per_passage: Sequence[Sequence[str]],
) -> list[str | None]:
    """Each passage's best sentence by `sentence_scores`, all sentences embedded at once (for
    passages the ranking did not read closely)."""
    flat = [s for sentences in sentences_per_passage for s in sentences]
    vectors = embedder.encode(flat) if flat else np.zeros((0, embedder.dim))
    out: list[str | None] = []
    start = 0
    for sentences in sentences_per_passage:
        scores = sentence_scores(
            question_vector, terms, sentences, vectors[start : start + len(sentences)]
        )
        out.append(sentences[int(np.argmax(scores))] if sentences else None)
        start += len(sentences)
    return out

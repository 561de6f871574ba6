"""Question -> ranked hits: dense (FAISS) and lexical (FTS5 bm25) candidates, fused, with the
best-answering sentence of each passage picked out for highlighting."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archivist.chunking import split_sentences
from archivist.errors import InvalidQuestion
from archivist.models import Answer, Hit
from archivist.store import PassageRow

# English function words: dropped from the lexical query (they only slow FTS and blur bm25).
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don did does doesn isn wasn weren ve ll re d m o y also many much""".split()
)
_TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32


@dataclass(frozen=True)
class SearchConfig:
    candidates: int = 50  # from each side
    rrf_k: int = 60
    # below this cosine between question and best passage, the archive holds no answer
    answer_threshold: float = 0.30


def question_terms(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(question.lower()):
        if token in STOP_WORDS or (len(token) == 1 and not token.isdigit()):
            continue
        seen.setdefault(token, None)
    return list(seen)[:MAX_QUERY_TERMS]


def fts_query(question: str) -> str | None:
    """A MATCH expression that cannot be a syntax error: each term a quoted string, OR'ed.

    Quoting makes FTS5 read `AND`, `NEAR`, `*`, `-`, `(`, `:` as plain text.
    """
    terms = question_terms(question)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def validate_question(question: str, max_chars: int) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InvalidQuestion("the question is empty: ask something about the stored articles")
    if len(question) > max_chars:
        raise InvalidQuestion(
            f"the question is {len(question):,} characters long; the limit is {max_chars:,}"
        )
    if not _TOKEN.search(question):
        raise InvalidQuestion("the question has no words to search for")
    return question


def rrf_fuse(rankings: Sequence[Sequence[int]], k: int) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def best_sentence(
    question_vector: np.ndarray, sentences: Sequence[str], sentence_vectors: np.ndarray,
    question: str,
) -> str | None:
    """The sentence nearest the question, dense similarity plus a little word overlap."""
    if not sentences:
        return None
    if len(sentences) == 1:
        return sentences[0]
    terms = set(question_terms(question))
    dense = sentence_vectors @ question_vector
    overlap = np.array(
        [len(terms & set(_TOKEN.findall(s.lower()))) / (len(terms) or 1) for s in sentences]
    )
    return sentences[int(np.argmax(dense + 0.5 * overlap))]


def make_hit(row: PassageRow, score: float, highlight: str | None) -> Hit:
    return Hit(
        article_id=row.article_id,
        title=row.title,
        source=row.source,
        date=row.date,
        url=row.url,
        passage=row.text,
        heading=row.heading,
        position=row.position,
        score=score,
        highlight=highlight,
    )


def build_answer(question: str, answered: bool, hits: list[Hit]) -> Answer:
    return Answer(question=question, answered=answered, hits=tuple(hits))

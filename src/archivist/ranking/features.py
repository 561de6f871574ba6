"""The features of (question, passage) pairs: cheap enough for a hundred candidates an ask."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from archivist.ranking.analysis import passage_analysis, stem_string
from archivist.store import PassageRow

if TYPE_CHECKING:  # lexical imports the model, which reads FEATURES from here
    from archivist.ranking.lexical import QueryTerms

# In this order (the columns of `candidate_features`):
FEATURES = (
    "dense",  # cosine of question and passage vectors
    "bm25",  # FTS5 bm25 / the best bm25 among this question's candidates (0 when not matched)
    "sentence_lexical",  # share of the question's idf weight in the passage's best sentence
    "passage_lexical",  # share of the question's idf weight in title + heading + passage
    "pairs",  # share of the question's adjacent term pairs found adjacent in the passage
    # share of the weight of the question's terms that the passage's title does not hold, in
    # its best sentence: within an article the title's words say nothing about which passage
    # answers (news: the lead restates the topic; issue 15)
    "untitled_sentence",
    # what the answered rule reads (`model.answer_log_odds`), weighted 0 by the combiner:
    # the highest idf among the question's terms that the passage (title and heading included)
    # lacks, over the idf of a term no passage holds (a near miss: the right company, but the
    # event's rare word is nowhere in the passage)
    "rarest_missing",
    # 1 when the question names a year the passage's text, title and date do not (2010 World
    # Cup, 2016 election: asked of an archive that ends earlier)
    "year_missing",
    # the share of the question's idf weight in terms no stored passage holds, and how many
    # content terms the question has: the same for every candidate of a question
    "unseen",
    "terms",
)
RANKING_FEATURES = 6  # the first columns, the combiner's; the rest are the answered rule's
# The second stage adds the best cosine between the question and one of the passage's sentences.

# below 1 the matched words are in most passages (a tiny archive): the bm25 ratio would be noise
BM25_FLOOR = 1.0

YEAR = re.compile(r"^(?:18|19|20)\d\d$")


def unseen_idf(terms: QueryTerms) -> float:
    """The idf `lexical.query_terms` gives a term that no passage holds."""
    return math.log(2.0 * terms.total + 2.0)


def rarest_lacking(by_rarity: Sequence[tuple[str, float]], held: set[str], around: str) -> float:
    """The idf of the rarest of the question's terms (" stem ", idf; rarest first) that neither
    the passage (`held`: those it holds) nor its title and heading (`around`) hold; 0 if none."""
    for term, idf in by_rarity:
        if term not in held and term not in around:
            return idf
    return 0.0


def year_missing(year: str, body: str, around: str, day: str | None) -> bool:
    """Whether a passage (its stems `body`, its title's and heading's `around`) and its
    article's date (ISO) lack a `year` the question names."""
    word = f" {year} "
    return word not in body and word not in around and year not in (day or "")


def question_features(terms: QueryTerms) -> tuple[float, float]:
    """`unseen` and `terms` of FEATURES: the share of the question's weight in terms no
    passage holds, and the number of its content terms."""
    top = unseen_idf(terms) - 1e-9
    return sum(w for w in terms.idf.values() if w >= top) / terms.weight, float(len(terms.idf))


def coverage(terms: QueryTerms, present: set[str] | frozenset[str]) -> float:
    """The share of the question's idf weight among the stems `present`."""
    return sum(w for s, w in terms.idf.items() if s in present) / terms.weight


def untitled_share(
    terms: Sequence[tuple[str, float]],
    present: Sequence[tuple[str, float]],
    title: str,
    sentence_stems: Sequence[str],
) -> float:
    """The best sentence's share of the weight of the question's `terms` (" stem ", idf) that
    `title` (a stem string) does not hold (`present`: those in the passage); 0 when the title
    holds them all."""
    return max(untitled_per_sentence(terms, present, title, sentence_stems), default=0.0)


def untitled_per_sentence(
    terms: Sequence[tuple[str, float]],
    present: Sequence[tuple[str, float]],
    title: str,
    sentence_stems: Sequence[str],
    covered: Sequence[float] | None = None,
    weight: float = 1.0,
) -> list[float]:
    """Each sentence's share of the weight of the question's terms the title does not hold.

    `covered` (each sentence's share of all of `terms`' weight `weight`), when known, is reused
    when the title holds none of the `present` terms (most candidates: the cost of a second
    pass over the sentences is half the features')."""
    total = sum(w for s, w in terms if s not in title)
    rest = [(s, w) for s, w in present if s not in title]
    if not total or not rest:
        return [0.0] * len(sentence_stems)
    if covered is not None and len(rest) == len(present):
        return [c * weight / total for c in covered[: len(sentence_stems)]]
    return [sum(w for s, w in rest if s in sentence) / total for sentence in sentence_stems]


def candidate_features(
    terms: QueryTerms,
    question_vector: np.ndarray,
    rows: Sequence[PassageRow],
    vectors: np.ndarray,
    lexical: Mapping[int, float],
) -> tuple[np.ndarray, list[Sequence[str]], list[list[float]], list[list[float]]]:
    """The FEATURES of each candidate (rows align with `rows`), its sentences, the share of the
    question's weight each sentence covers, and how likely each sentence holds the answer (the
    highlight: the share of the words the title does not hold first, then the whole share).

    `lexical`: passage id -> bm25 for the candidates FTS5 found. Each passage's words are
    analysed once (and cached); per question only the question's few terms are looked up."""
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float32)
    best_bm25 = max(max(lexical.values(), default=0.0), BM25_FLOOR)
    # stems are \w+ tokens: " a " in " x a y " is a word test, " a b " a pair test
    pairs = {f" {a} {b} " for a, b in zip(terms.stems, terms.stems[1:], strict=False)}
    idf = [(f" {s} ", w) for s, w in terms.idf.items()]
    weight = terms.weight
    rarest = unseen_idf(terms)
    by_rarity = sorted(idf, key=lambda term: -term[1])
    years = [s for s in terms.stems if YEAR.match(s)]
    unseen, count = question_features(terms)
    cosines = vectors @ question_vector if len(rows) else np.zeros(0)
    all_sentences: list[Sequence[str]] = []
    all_coverage: list[list[float]] = []
    all_answering: list[list[float]] = []
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
        title = stem_string(row.title)
        around = title + (stem_string(row.heading) if row.heading else "")
        all_sentences.append(analysis.sentences)
        all_coverage.append(per_sentence)
        # the sentence with most of what the title does not say holds the answer more often
        # than the one covering most of the question (news: 0.79 against 0.75 of right passages)
        untitled = untitled_per_sentence(
            idf, present, title, analysis.sentence_stems, per_sentence, weight
        )
        all_answering.append([u + 0.01 * c for u, c in zip(untitled, per_sentence, strict=False)])
        lacked = rarest_lacking(by_rarity, {s for s, _ in present}, around)
        out[i] = (
            float(cosines[i]),
            lexical.get(row.id, 0.0) / best_bm25,
            max(per_sentence),
            sum(w for s, w in idf if s in body or s in around) / weight,
            sum(1 for pair in pairs if pair in body) / len(pairs) if pairs else 0.0,
            max(untitled, default=0.0),
            lacked / rarest,
            float(bool(years) and any(year_missing(y, body, around, row.date) for y in years)),
            unseen,
            count,
        )
    return out, all_sentences, all_coverage, all_answering

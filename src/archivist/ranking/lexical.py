"""The lexical side of a question: its content words, their idf, and a bounded FTS5 query."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from archivist.errors import InvalidQuestion
from archivist.ranking.analysis import WORD, fts_term, stem, word_forms
from archivist.ranking.model import SearchConfig

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
MAX_QUERY_TERMS = 32


def validate_question(question: str, max_chars: int) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InvalidQuestion("The question is empty: ask something about the stored articles.")
    if len(question) > max_chars:
        raise InvalidQuestion(
            f"The question is {len(question):,} characters long; the limit is {max_chars:,}: "
            "shorten it."
        )
    if not WORD.search(question):
        raise InvalidQuestion(
            "The question has no words to search for: ask with words, e.g. “when is the vote?”"
        )
    return question


def question_terms(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for token in WORD.findall(question.lower()):
        if token in STOP_WORDS or (len(token) == 1 and not token.isdigit()):
            continue
        seen.setdefault(token, None)
    return list(seen)[:MAX_QUERY_TERMS]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts_query(question: str, terms: Sequence[str] | None = None) -> str | None:
    """A MATCH expression that cannot be a syntax error: each term a quoted string, OR'ed.

    Quoting makes FTS5 read `AND`, `NEAR`, `*`, `-`, `(`, `:` as plain text.
    """
    terms = question_terms(question) if terms is None else list(terms)
    if not terms:
        return None
    return " OR ".join(_quote(t) for t in terms)


def lookup_keys(words: Sequence[str]) -> list[str]:
    """The terms whose document frequencies a question needs: each word's stem (its idf)
    and the FTS5 term of each form the lexical query may ask for (its cost)."""
    keys = [stem(w) for w in words] + [fts_term(f) for w in words for f in word_forms(w)]
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class QueryTerms:
    """The question's content words: surface form (for FTS5), stem, and idf weight."""

    words: tuple[str, ...]
    stems: tuple[str, ...]
    idf: Mapping[str, float]  # stem -> idf
    total: int  # passages the document frequencies were counted over

    @property
    def weight(self) -> float:
        return sum(self.idf.values()) or 1.0


def query_terms(question: str, doc_freq: Mapping[str, int], total: int) -> QueryTerms:
    """Terms with idf from the stored document frequencies (`doc_freq`: stem -> passages)."""
    words = question_terms(question)
    stemmed = [stem(w) for w in words]
    idf = {}
    for s in stemmed:
        df = min(doc_freq.get(s, 0), total)
        idf[s] = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
    return QueryTerms(tuple(words), tuple(stemmed), idf, max(total, 1))


def scalable_fts_query(
    terms: QueryTerms, doc_freq: Mapping[str, int], cfg: SearchConfig
) -> str | None:
    """An OR of the question's terms without the very common ones.

    An OR over a common word walks a posting list as long as the archive (about 1 s at a
    million passages) and scores every passage on it; such a word adds little to bm25. The
    rarest few stay in even when common, so a question made only of common words still finds
    something. Terms are taken rarest first while the passages they bring stay within
    `max_query_postings` (FTS5 costs ~1 ms per 1,000 of them): a question whose rarest word is
    commoner than that is left to the dense side (None). An irregular verb's other forms
    (`word_forms`) are counted by the term FTS5 indexes for them, and left out when common:
    FTS5 stems "ate" to "at", "made" is in 4% of news passages. `doc_freq` must hold the
    `lookup_keys` of the question's words.
    """
    if not terms.words:
        return None
    by_rarity = sorted(
        zip(terms.words, terms.stems, strict=True), key=lambda ws: doc_freq.get(ws[1], 0)
    )
    chosen: dict[str, list[str]] = {}
    counted: set[str] = set()
    postings = 0
    for i, (word, s) in enumerate(by_rarity):
        own = fts_term(word)
        cost = 0 if own in counted else doc_freq.get(own, 0)
        if postings + cost > cfg.max_query_postings:
            break  # the rest are commoner still
        if doc_freq.get(s, 0) > cfg.max_term_docs and i >= cfg.min_query_terms:
            continue
        forms = [word]
        counted.add(own)
        postings += cost
        for form in word_forms(word):
            term = fts_term(form)
            cost = 0 if term in counted else doc_freq.get(term, 0)
            if form == word or cost > min(cfg.max_term_docs, cfg.max_query_postings - postings):
                continue
            forms.append(form)
            counted.add(term)
            postings += cost
        chosen[word] = forms
    if not chosen:
        return None
    # the question's own order
    return fts_query("", list(dict.fromkeys(f for w in terms.words for f in chosen.get(w, ()))))

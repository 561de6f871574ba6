"""Question -> ranked hits: dense (FAISS) and lexical (FTS5) candidates, re-scored together.

The shipped ranking (`mode="hybrid"`) scores the union of both candidate lists with a small
linear model over features that are cheap to compute for a hundred passages: the passage's
cosine to the question, its bm25, how much of the question's weight (idf) its best sentence
and the whole passage (with title and heading) cover, and matched word pairs; the highlight is
the sentence covering the most. An optional second stage (`rerank` > 0) re-scores the best few
with the vectors of their likeliest sentences, which also pick the highlight: a little better,
but several times slower on two cores. The weights were fitted by `benchmarks/quality.py --fit`
on one half of SQuAD and checked on the other and among news distractors (docs/benchmarks.md).
`bm25`, `dense` and `rrf` are kept as modes for comparison.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

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
MODES = ("hybrid", "rrf", "bm25", "dense")

# Features of a (question, passage) pair, in this order (see `candidate_features`).
FEATURES = (
    "dense",  # cosine of question and passage vectors
    "bm25",  # FTS5 bm25 / the best bm25 among this question's candidates (0 when not matched)
    "sentence_lexical",  # share of the question's idf weight in the passage's best sentence
    "passage_lexical",  # share of the question's idf weight in title + heading + passage
    "pairs",  # share of the question's adjacent term pairs found adjacent in the passage
)
# The second stage adds the best cosine between the question and one of the passage's sentences.

# Fitted by `benchmarks/quality.py --fit` on the SQuAD tune half (listwise softmax regression on
# standardized features, given back on the raw scale, so no scaler ships); checked on the
# held-out half and with news distractors (docs/benchmarks.md). Title coverage and the two
# lists' ranks were tried as features and added nothing.
BM25_FLOOR = 1.0
FIRST_STAGE_WEIGHTS = (12.53, 2.04, 3.02, 3.48, 2.45)
SECOND_STAGE_WEIGHTS = (8.29, 1.93, 1.67, 3.86, 2.18, 5.94)


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


def question_terms(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(question.lower()):
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


def validate_question(question: str, max_chars: int) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InvalidQuestion("The question is empty: ask something about the stored articles.")
    if len(question) > max_chars:
        raise InvalidQuestion(
            f"The question is {len(question):,} characters long; the limit is {max_chars:,}: "
            "shorten it."
        )
    if not _TOKEN.search(question):
        raise InvalidQuestion(
            "The question has no words to search for: ask with words, e.g. “when is the vote?”"
        )
    return question


# -- terms as FTS5 sees them ---------------------------------------------------------------------
_STEMMERS = threading.local()


def _stemmer():
    """This thread's Porter stemmer: PyStemmer's objects must not be used by two threads at
    once, and a question's lexical half runs in a worker thread."""
    stemmer = getattr(_STEMMERS, "porter", False)
    if stemmer is False:
        try:
            import Stemmer
        except ImportError:  # pragma: no cover - a dependency, but degrade rather than fail
            stemmer = None
        else:
            stemmer = Stemmer.Stemmer("porter")
        _STEMMERS.porter = stemmer
    return stemmer


# Irregular English verb forms, so "Who did he meet?" matches "they met" (Porter leaves them
# apart). Forms that are also common nouns or other words (left, found, saw, rose, fell, felt,
# lay, lead, bore, wound, ground) are left out.
_IRREGULAR = {
    form: base
    for base, forms in {
        "meet": "met",
        "win": "won",
        "begin": "began begun",
        "become": "became",
        "come": "came",
        "go": "went gone",
        "make": "made",
        "take": "took taken",
        "give": "gave given",
        "build": "built",
        "buy": "bought",
        "bring": "brought",
        "catch": "caught",
        "choose": "chose chosen",
        "draw": "drew drawn",
        "drive": "drove driven",
        "eat": "ate eaten",
        "fight": "fought",
        "fly": "flew flown",
        "forget": "forgot forgotten",
        "freeze": "froze frozen",
        "get": "got gotten",
        "grow": "grew grown",
        "hold": "held",
        "hide": "hid hidden",
        "keep": "kept",
        "know": "knew known",
        "lose": "lost",
        "mean": "meant",
        "pay": "paid",
        "run": "ran",
        "rise": "risen",
        "say": "said",
        "see": "seen",
        "sell": "sold",
        "send": "sent",
        "shoot": "shot",
        "sing": "sang sung",
        "sit": "sat",
        "sleep": "slept",
        "speak": "spoke spoken",
        "spend": "spent",
        "stand": "stood",
        "steal": "stole stolen",
        "strike": "struck",
        "swim": "swam swum",
        "teach": "taught",
        "tell": "told",
        "think": "thought",
        "throw": "threw thrown",
        "understand": "understood",
        "wake": "woke woken",
        "wear": "wore worn",
        "write": "wrote written",
        "break": "broke broken",
        "flee": "fled",
        "seek": "sought",
        "lead": "led",
    }.items()
    for form in forms.split()
}


_FORMS: dict[str, list[str]] = {}
for _form, _base in _IRREGULAR.items():
    _FORMS.setdefault(_base, [_base]).append(_form)


def word_forms(word: str) -> list[str]:
    """The word and, for an irregular verb, its other forms (for the FTS5 query)."""
    return _FORMS.get(_IRREGULAR.get(word, word), [word])


@lru_cache(maxsize=200_000)
def fts_term(word: str) -> str:
    """The term FTS5's `porter` tokenizer indexes for a lower-cased word (irregular forms
    stay apart: "met" is "met", "ate" is "at")."""
    stemmer = _stemmer()
    return stemmer.stemWord(word) if stemmer is not None else word


def lookup_keys(words: Sequence[str]) -> list[str]:
    """The terms whose document frequencies a question needs: each word's stem (its idf)
    and the FTS5 term of each form the lexical query may ask for (its cost)."""
    keys = [stem(w) for w in words] + [fts_term(f) for w in words for f in word_forms(w)]
    return list(dict.fromkeys(keys))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Porter stem of a lower-cased word (the form FTS5's `porter` tokenizer indexes), with
    irregular verb forms first brought to their base form."""
    return fts_term(_IRREGULAR.get(word, word))


def stems(text: str) -> list[str]:
    return list(map(stem, _TOKEN.findall(text.lower())))


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


# -- features ------------------------------------------------------------------------------------
def _coverage(terms: QueryTerms, present) -> float:
    present = present if isinstance(present, (set, frozenset)) else set(present)
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
    # below 1 the matched words are in most passages (a tiny archive): the ratio would be noise
    best_bm25 = max(max(lexical.values(), default=0.0), BM25_FLOOR)
    # stems are \w+ tokens: " a " in " x a y " is a word test, " a b " a pair test
    pairs = {f" {a} {b} " for a, b in zip(terms.stems, terms.stems[1:], strict=False)}
    idf = [(f" {s} ", w) for s, w in terms.idf.items()]
    weight = terms.weight
    cosines = vectors @ question_vector if len(rows) else np.zeros(0)
    all_sentences, all_coverage = [], []
    for i, row in enumerate(rows):
        text = _analysis(row)
        body = text.body
        # a term missing from the passage is in none of its sentences (most candidates hold
        # few of the question's terms)
        present = [(s, w) for s, w in idf if s in body]
        coverage = [
            sum(w for s, w in present if s in sentence) / weight for sentence in text.sentence_stems
        ] or [0.0]
        around = _stem_key(row.title) + (_stem_key(row.heading) if row.heading else "")
        all_sentences.append(text.sentences)
        all_coverage.append(coverage)
        out[i] = (
            float(cosines[i]),
            lexical.get(row.id, 0.0) / best_bm25,
            max(coverage),
            sum(w for s, w in idf if s in body or s in around) / weight,
            sum(1 for pair in pairs if pair in body) / len(pairs) if pairs else 0.0,
        )
    return out, all_sentences, all_coverage


@dataclass(frozen=True)
class _Text:
    """A passage analysed for the features: its sentences, and the stems of each sentence and
    of the whole passage, each as one string " stem stem … " (substring tests run in C)."""

    sentences: Sequence[str]
    sentence_stems: list[str]
    body: str


# The first line of a stored analysis (`passage_stems`): bump it when `split_sentences` or the
# stemming changes, and analyses stored before are ignored (made again from the text).
ANALYSIS_VERSION = "a1"


def _sentence_stems(sentences: Iterable[str]) -> list[str]:
    return [" ".join(stems(s)) for s in sentences]


def passage_stems(text: str) -> str:
    """What the store keeps of a passage for the ranking, made once at ingest: each sentence's
    stems, a line each, after ANALYSIS_VERSION. Asking then reads it instead of analysing the
    passage again (~30 us a passage, 100 candidates an ask)."""
    lines = _sentence_stems(split_sentences(text))
    return ANALYSIS_VERSION + "".join("\n" + line for line in lines)


def _text(joined: list[str], sentences: Sequence[str]) -> _Text:
    body = " " + " ".join(j for j in joined if j) + " "
    return _Text(sentences, [f" {j} " for j in joined], body)


@lru_cache(maxsize=50_000)
def _analysed(text: str) -> _Text:
    """A passage's analysis (cached: the same passages come up again)."""
    sentences = split_sentences(text)
    return _text(_sentence_stems(sentences), sentences)


class _Sentences(Sequence[str]):
    """A passage's sentences beside its stored stems: split only when read (the highlight of a
    page's few passages); most candidates never are."""

    def __init__(self, text: str, count: int) -> None:
        self._text, self._count = text, count
        self._items: list[str] | None = None

    def _split(self) -> list[str]:
        if self._items is None:
            items = split_sentences(self._text)
            # the same splitter made the stored lines (ANALYSIS_VERSION); should they still
            # differ in number, keep the stored count so sentence i is the stems' line i
            self._items = (items + [""] * self._count)[: self._count]
        return self._items

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i):  # type: ignore[override]
        return self._split()[i]


@lru_cache(maxsize=50_000)
def _stored(text: str, stored: str) -> _Text | None:
    lines = stored.split("\n")
    if lines[0] != ANALYSIS_VERSION:
        return None
    return _text(lines[1:], _Sentences(text, len(lines) - 1))


def _analysis(row: PassageRow) -> _Text:
    """The passage's analysis: from the stems stored at ingest, else made from its text."""
    if row.stems:
        found = _stored(row.text, row.stems)
        if found is not None:
            return found
    return _analysed(row.text)


def prepare(rows: Iterable[PassageRow]) -> None:
    """Analyse passages ahead of `candidate_features` (the analysis is cached), e.g. in the
    thread that found them while the question is still being embedded."""
    for row in rows:
        _analysis(row)
        _stem_key(row.title)
        if row.heading:
            _stem_key(row.heading)


@lru_cache(maxsize=20_000)
def _stem_key(text: str) -> str:
    return " " + " ".join(stems(text)) + " "


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
    lexical = np.array([_coverage(terms, set(stems(s))) for s in sentences])
    return dense + 0.5 * lexical


# The score at which the best passage is taken to answer the question, for a ranking with the
# sentence stage (`rerank` > 0) and without it: fitted by `benchmarks/quality.py` so that 95% of
# the tune half's questions are answered from an archive of the tune half (docs/benchmarks.md,
# "Out of archive"; the held-out half then has 94% answered and 97% of foreign questions declined).
SCORE_CENTER = 11.18
FIRST_STAGE_CENTER = 10.48


def confidence(score: float, center: float = SCORE_CENTER) -> float:
    """The best passage's score as a 0..1 value, 0.5 at `center` (logistic: monotone, so a
    threshold on it is a threshold on the score)."""
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, score - center))))


# -- plain rank fusion (kept as a mode to compare against) ---------------------------------------
def rrf_fuse(rankings: Sequence[Sequence[int]], k: int) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


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


# -- the ranking ---------------------------------------------------------------------------------
@dataclass
class Retrieval:
    """What one question fetched: its vector and terms, and both candidate lists (filtered)."""

    question: str
    vector: np.ndarray
    terms: QueryTerms
    dense: list[tuple[int, float]]  # (passage id, cosine), best first
    lexical: list[tuple[int, float]]  # (passage id, bm25; higher is better), best first
    rows: dict[int, PassageRow] = field(default_factory=dict)  # passages already read
    exact_scores: bool = True  # the dense scores are exact cosines (not an 8-bit index's)


@dataclass
class Ranked:
    """A question's ranking before it becomes an `Answer`: ids best first, their scores, the
    signal `answered` is decided on, and the best sentence of each re-scored passage."""

    ids: list[int]
    scores: list[float]
    signal: float
    highlights: dict[int, str] = field(default_factory=dict)
    rows: dict[int, PassageRow] = field(default_factory=dict)
    top_features: np.ndarray | None = None  # the best passage's FEATURES + its sentence cosine


class SearchSource(Protocol):
    """What ranking needs from the archive: passages, their vectors, and the model."""

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]: ...

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def rank(retrieval: Retrieval, cfg: SearchConfig, source: SearchSource, depth: int) -> Ranked:
    """Order the candidates by `cfg.mode`; `depth` (offset + k) is how far the caller reads."""
    dense_ids = [pid for pid, _ in retrieval.dense]
    lexical_ids = [pid for pid, _ in retrieval.lexical]
    top_cosine = retrieval.dense[0][1] if retrieval.dense else 0.0
    if cfg.mode == "dense":
        return Ranked(dense_ids, [s for _, s in retrieval.dense], top_cosine)
    if cfg.mode == "bm25":
        best = retrieval.lexical[0][1] if retrieval.lexical else 0.0
        return Ranked(lexical_ids, [s for _, s in retrieval.lexical], best)
    if cfg.mode == "rrf":
        fused = rrf_fuse([dense_ids, lexical_ids], cfg.rrf_k)
        return Ranked([p for p, _ in fused], [s for _, s in fused], top_cosine)
    if cfg.mode != "hybrid":
        raise ValueError(f"unknown search mode {cfg.mode!r}; one of {', '.join(MODES)}")

    candidates = list(dict.fromkeys(dense_ids + lexical_ids))
    if not candidates:
        return Ranked([], [], 0.0)
    rows = {pid: retrieval.rows[pid] for pid in candidates if pid in retrieval.rows}
    unread = [pid for pid in candidates if pid not in rows]
    if unread:
        rows.update(source.passages(unread))
    candidates = [pid for pid in candidates if pid in rows]
    # exact cosines: the dense side's when its index gives them, else from the stored vectors
    cosine = dict(retrieval.dense) if retrieval.exact_scores else {}
    missing = [pid for pid in candidates if pid not in cosine]
    vectors = dict(source.vectors(missing)) if missing else {}
    dim = len(retrieval.vector)
    matrix = np.stack(
        [vectors[pid] if pid in vectors else np.zeros(dim, np.float32) for pid in candidates]
    )
    # an index's exact cosines are kept as they are (an IVF index may not hand back vectors)
    ordered_rows = [rows[pid] for pid in candidates]
    features, sentences, coverage = candidate_features(
        retrieval.terms, retrieval.vector, ordered_rows, matrix, dict(retrieval.lexical)
    )
    for i, pid in enumerate(candidates):
        if pid in cosine:
            features[i, 0] = cosine[pid]
    scores = features @ np.asarray(cfg.weights, dtype=np.float32)
    second = np.asarray(cfg.rerank_weights, dtype=np.float32)
    order = list(np.argsort(-scores, kind="stable"))

    # second stage: the best few re-scored with the vectors of their sentences that share the
    # most with the question (encoding every sentence would cost more than the rest of `ask`)
    top = order[: cfg.rerank]
    pools = {
        i: sorted(range(len(sentences[i])), key=lambda j: -coverage[i][j])[: cfg.sentence_pool]
        for i in top
    }
    flat = [sentences[i][j] for i in top for j in pools[i]]
    sentence_vectors = source.encode(flat) if flat else np.zeros((0, dim), np.float32)
    highlights: dict[int, str] = {}
    rescored = {}
    sentence_cosine = {}
    start = 0
    for i in top:
        pool = pools[i]
        if not pool:
            continue
        cosines = sentence_vectors[start : start + len(pool)] @ retrieval.vector
        start += len(pool)
        pick = cosines + 0.5 * np.array([coverage[i][j] for j in pool])
        highlights[candidates[i]] = sentences[i][pool[int(np.argmax(pick))]]
        sentence_cosine[i] = float(cosines.max())
        rescored[i] = float(features[i] @ second[:-1]) + float(second[-1]) * sentence_cosine[i]
    for i in order[:depth]:  # the rest of the page: the sentence sharing most with the question
        if candidates[i] not in highlights and sentences[i]:
            highlights[candidates[i]] = sentences[i][int(np.argmax(coverage[i]))]
    head = sorted(rescored, key=lambda i: -rescored[i])
    tail = [i for i in order if i not in rescored]
    final = head + tail
    final_scores = [rescored.get(i, float(scores[i])) for i in final]
    ids = [candidates[i] for i in final]
    top_features = np.append(features[final[0]], sentence_cosine.get(final[0], 0.0))
    return Ranked(ids, final_scores, final_scores[0], highlights, rows, top_features)

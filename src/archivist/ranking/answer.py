"""Question -> Answer: both candidate lists, the ranking, and the page with its highlights.

`Ranker.retrieve` fetches a question's candidates (dense from the collection's vector index,
lexical from FTS5, both filtered); `Ranker.answer` ranks them by the configured mode and builds
the page. Passages and vectors are read from the store; sentences are embedded with the
embedder. The evaluation (benchmarks/) uses the same public methods.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from archivist.chunking import split_sentences
from archivist.embedding import Embedder
from archivist.index import VectorIndex
from archivist.models import Answer, Hit, StoryCopy
from archivist.ranking import dates, feedback
from archivist.ranking.analysis import analyse_ahead
from archivist.ranking.copies import Story, distinct_stories, story_copy
from archivist.ranking.features import candidate_features
from archivist.ranking.highlights import embedded_highlights, likeliest_sentences, most_covering
from archivist.ranking.lexical import (
    QueryTerms,
    lookup_keys,
    query_terms,
    question_terms,
    scalable_fts_query,
)
from archivist.ranking.model import (
    SearchConfig,
    answers,
    check_mode,
    first_stage,
    rrf_fuse,
    second_stage,
)
from archivist.store import PassageRow, Store

IndexProvider = Callable[[str], VectorIndex]  # collection -> its index, in step with the store
# a page that copies left short fetches this many times deeper, up to MAX_FETCH
DEEPER = 4
MAX_FETCH = 1_000


@dataclass
class Retrieval:
    """What one question fetched in one collection: its vector and terms, and both candidate
    lists (filtered)."""

    question: str
    collection: str
    vector: np.ndarray
    terms: QueryTerms
    dense: list[tuple[int, float]]  # (passage id, cosine), best first
    lexical: list[tuple[int, float]]  # (passage id, bm25; higher is better), best first
    rows: dict[int, PassageRow] = field(default_factory=dict)  # passages already read
    exact_scores: bool = True  # the dense scores are exact cosines (not an 8-bit index's)
    # how it was fetched, so that an answer whose page copies left short can fetch deeper
    source: str | None = None
    since: str | None = None
    fetched: int = 0  # the depth fetched (candidates asked of each list, before filters' x10)
    more: bool = False  # a list gave all that was asked: there are more
    # the index searched: an exact one hands back stored vectors from memory (`_vectors`)
    index: VectorIndex | None = None


@dataclass
class Ranked:
    """A question's candidates best first, their scores, and the best sentence of each passage
    the ranking read closely (the highlight)."""

    ids: list[int]
    scores: list[float]
    highlights: dict[int, str]
    top_features: np.ndarray | None = None  # the best passage's FEATURES + its sentence cosine
    rows: dict[int, PassageRow] = field(default_factory=dict)  # passages already read
    # every candidate's sentences and how likely each holds the answer: a highlight by the
    # passage's words for any candidate a page may show (split into sentences only then)
    sentence_odds: dict[int, tuple[Sequence[str], Sequence[float]]] = field(default_factory=dict)
    # the first stage's best score, when a later pass re-scored the candidates: `answered` is
    # decided on it (the rule's threshold is fitted on first-stage scores)
    signal: float | None = None
    # the period the question names, which the date preference prefers (None: none, or no
    # preference): read once an ask, for the feedback pass and the preference alike
    period: dates.Period | None = None


@dataclass(frozen=True)
class Candidates:
    """The hybrid's candidates (both lists' union, in that order) with their FEATURES, their
    sentences, the share of the question's weight each sentence covers, and how likely each
    sentence holds the answer (`ranking.features`: the highlight)."""

    ids: list[int]
    rows: dict[int, PassageRow]
    features: np.ndarray
    sentences: list[Sequence[str]]
    coverage: list[list[float]]
    answering: list[list[float]]
    # the candidates' stored vectors, read for the cosines the index did not give (a row of
    # zeros for the others: `read` holds the rows that are real)
    vectors: np.ndarray
    read: frozenset[int]


@dataclass(frozen=True)
class ScoredAnswer:
    """An answer and the value `answered` was decided on (for the evaluation's thresholds)."""

    answer: Answer
    signal: float


class Ranker:
    """Ranks one question at a time; safe to share between threads."""

    def __init__(
        self, store: Store, indexes: IndexProvider, embedder: Embedder, config: SearchConfig
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.embedder = embedder
        self.config = config
        # the hybrid's preference for the period a question names (0: none); `ranking.dates`
        self.date_boost = dates.DATE_BOOST
        # the hybrid's second look for a question whose first pass is weak (None: none)
        self.feedback: feedback.Feedback | None = feedback.Feedback()
        self._newest: dict[str, tuple[int, date | None]] = {}  # collection -> (generation, day)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _workers(self) -> ThreadPoolExecutor:
        """Threads for the lexical half of a question (SQLite releases the GIL while it works,
        so it runs beside the question's embedding on the other core)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="archivist-fts")
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)  # its threads' connections go with them
                self._pool = None

    # -- candidates ----------------------------------------------------------------------------
    def retrieve(
        self,
        question: str,
        collection: str,
        *,
        source: str | None = None,
        since: str | None = None,
        depth: int = 5,
        vector: np.ndarray | None = None,
    ) -> Retrieval:
        """Both candidate lists for a question (`vector`: its embedding, when known)."""
        cfg = self.config
        index = self.indexes(collection)
        filtered = bool(source or since)
        fetched = max(cfg.candidates, depth)
        n = fetched * (10 if filtered else 1)
        # the lexical side needs no vector: it runs in a worker while the question is embedded
        lexical_job = self._workers().submit(self._lexical, question, collection, n)
        try:
            if vector is None:
                vector = self.embedder.encode([question])[0]
            dense_ids, dense_scores = index.search(vector, n)
        finally:
            terms, lexical, rows = lexical_job.result()
        dense = [(int(i), float(s)) for i, s in zip(dense_ids, dense_scores, strict=True)]
        more = len(dense) >= n or len(lexical) >= n
        if filtered:
            allowed = self.store.passage_filter(
                sorted({i for i, _ in dense} | {i for i, _ in lexical}), collection, source, since
            )
            dense = [c for c in dense if c[0] in allowed]
            lexical = [c for c in lexical if c[0] in allowed]
        return Retrieval(
            question,
            collection,
            vector,
            terms,
            dense,
            lexical,
            rows,
            index.exact_scores,
            source,
            since,
            fetched,
            more,
            index,
        )

    def _lexical(
        self, question: str, collection: str, n: int
    ) -> tuple[QueryTerms, list[tuple[int, float]], dict[int, PassageRow]]:
        """The question's terms (idf from the stored counts), FTS5's best `n` passages, and
        the best of those read and analysed for ranking (work done before the vector is)."""
        cfg = self.config
        doc_freq = self.store.doc_freqs(lookup_keys(question_terms(question)))
        terms = query_terms(question, doc_freq, self.store.passage_total())
        match = scalable_fts_query(terms, doc_freq, cfg)
        lexical = self.store.fts_top(match, collection, n) if match else []
        rows: dict[int, PassageRow] = {}
        if cfg.mode == "hybrid" and lexical:
            rows = self.store.passages_by_ids(
                [pid for pid, _ in lexical[: cfg.candidates]], collection
            )
            analyse_ahead(rows.values())
        return terms, lexical, rows

    def candidates(self, retrieval: Retrieval) -> Candidates:
        """The union of both lists with their features, on exact cosines: the dense side's
        when its index gives them, else from the stored vectors (an IVF index may not hand
        back vectors)."""
        ids = list(
            dict.fromkeys([p for p, _ in retrieval.dense] + [p for p, _ in retrieval.lexical])
        )
        rows = {pid: retrieval.rows[pid] for pid in ids if pid in retrieval.rows}
        unread = [pid for pid in ids if pid not in rows]
        if unread:
            rows.update(self.store.passages_by_ids(unread, retrieval.collection))
        ids = [pid for pid in ids if pid in rows]
        cosine = dict(retrieval.dense) if retrieval.exact_scores else {}
        missing = [pid for pid in ids if pid not in cosine]
        dim = len(retrieval.vector)
        vectors = self._vectors(missing, retrieval) if missing else {}
        matrix = (
            np.stack([vectors[pid] if pid in vectors else np.zeros(dim, np.float32) for pid in ids])
            if ids
            else np.zeros((0, dim), np.float32)
        )
        features, sentences, coverage, answering = candidate_features(
            retrieval.terms,
            retrieval.vector,
            [rows[pid] for pid in ids],
            matrix,
            dict(retrieval.lexical),
        )
        for i, pid in enumerate(ids):
            if pid in cosine:
                features[i, 0] = cosine[pid]
        read = frozenset(i for i, pid in enumerate(ids) if pid in vectors)
        return Candidates(ids, rows, features, sentences, coverage, answering, matrix, read)

    def candidate_vectors(self, retrieval: Retrieval, table: Candidates) -> np.ndarray:
        """Every candidate's stored vector (those `candidates` did not need, read now)."""
        unread = [pid for i, pid in enumerate(table.ids) if i not in table.read]
        if not unread:
            return table.vectors
        found = self._vectors(unread, retrieval)
        matrix = table.vectors.copy()
        for i, pid in enumerate(table.ids):
            if pid in found:
                matrix[i] = found[pid]
        return matrix

    # -- ranking -------------------------------------------------------------------------------
    def rank(self, retrieval: Retrieval, depth: int, config: SearchConfig | None = None) -> Ranked:
        """The candidates ordered by the mode of `config` (default: the ranker's);
        `depth` (offset + k) is how far the caller reads."""
        cfg = config or self.config
        check_mode(cfg)
        dense_ids = [pid for pid, _ in retrieval.dense]
        lexical_ids = [pid for pid, _ in retrieval.lexical]
        if cfg.mode == "dense":
            return Ranked(dense_ids, [s for _, s in retrieval.dense], {})
        if cfg.mode == "bm25":
            return Ranked(lexical_ids, [s for _, s in retrieval.lexical], {})
        if cfg.mode == "rrf":
            fused = rrf_fuse([dense_ids, lexical_ids], cfg.rrf_k)
            return Ranked([p for p, _ in fused], [s for _, s in fused], {})
        return self._hybrid(retrieval, cfg, depth)

    def _hybrid(self, retrieval: Retrieval, cfg: SearchConfig, depth: int) -> Ranked:
        table = self.candidates(retrieval)
        if not table.ids:
            return Ranked([], [], {})
        features, sentences, coverage = table.features, table.sentences, table.coverage
        scores, order = first_stage(features, cfg)
        period = self._question_period(retrieval)
        signal = None
        # the sentence stage re-scores the best few on its own scale: the two are not mixed
        second_look = None if cfg.rerank else self.feedback
        if (
            second_look is not None
            and feedback.is_weak(features, order[0], second_look)
            # the date's words are what the passages lack, not a paraphrase, and the feedback's
            # re-scoring would drown the preference's small boost
            and period is None
        ):
            signal = float(scores[order[0]])
            scores, order = self._feedback(retrieval, table, scores, second_look)
        # second stage: the best few re-scored with the vectors of their likeliest sentences
        top = order[: cfg.rerank]
        pools = {i: likeliest_sentences(sentences[i], coverage[i], cfg.sentence_pool) for i in top}
        flat = [sentences[i][j] for i in top for j in pools[i]]
        dim = len(retrieval.vector)
        sentence_vectors = self.embedder.encode(flat) if flat else np.zeros((0, dim), np.float32)
        highlights: dict[int, str] = {}
        rescored: dict[int, float] = {}
        sentence_cosine: dict[int, float] = {}
        start = 0
        for i in top:
            pool = pools[i]
            if not pool:
                continue
            cosines = sentence_vectors[start : start + len(pool)] @ retrieval.vector
            start += len(pool)
            pick = cosines + 0.5 * np.array([coverage[i][j] for j in pool])
            highlights[table.ids[i]] = sentences[i][pool[int(np.argmax(pick))]]
            sentence_cosine[i] = float(cosines.max())
            rescored[i] = second_stage(features[i], sentence_cosine[i], cfg)
        for i in order[:depth]:  # the rest of the page: the likeliest sentence by its words
            if table.ids[i] not in highlights and sentences[i]:
                highlights[table.ids[i]] = most_covering(sentences[i], table.answering[i])
        final = sorted(rescored, key=lambda i: -rescored[i]) + [
            i for i in order if i not in rescored
        ]
        top_features = np.append(features[final[0]], sentence_cosine.get(final[0], 0.0))
        return Ranked(
            [table.ids[i] for i in final],
            [rescored.get(i, float(scores[i])) for i in final],
            highlights,
            top_features,
            table.rows,
            # collapsed copies and a named period bring later candidates onto the page: their
            # highlight by their words too, never a second model call (the slowest asks' tail)
            {pid: (sentences[i], table.answering[i]) for i, pid in enumerate(table.ids)},
            signal,
            period,
        )

    def _feedback(
        self, retrieval: Retrieval, table: Candidates, scores: np.ndarray, cfg: feedback.Feedback
    ) -> tuple[np.ndarray, list[int]]:
        """The candidates re-scored by their cosine with the question moved toward the best
        of them (`ranking.feedback`), and their new order."""
        vectors = self.candidate_vectors(retrieval, table)
        moved = feedback.moved_question(retrieval.vector, vectors, scores, cfg)
        scores = feedback.rescored(scores, vectors, moved, cfg)
        return scores, list(np.argsort(-scores, kind="stable"))

    # -- the answer ----------------------------------------------------------------------------
    def answer(
        self, retrieval: Retrieval, k: int, offset: int = 0, config: SearchConfig | None = None
    ) -> Answer:
        """The page of `k` hits from `offset`, with `answered` false when none is close."""
        return self.scored_answer(retrieval, k, offset, config).answer

    def scored_answer(
        self,
        retrieval: Retrieval,
        k: int,
        offset: int = 0,
        config: SearchConfig | None = None,
        highlighted: int | None = None,
    ) -> ScoredAnswer:
        """`answer`, with the value `answered` was decided on; `highlighted` limits how many
        hits get a highlight (the evaluation reads only the first)."""
        cfg = config or self.config
        ranked = self.rank(retrieval, offset + k, cfg)
        # decided before the date preference: a date orders the hits, never answers a question
        best_score = ranked.scores[0] if ranked.scores else 0.0
        if ranked.signal is not None:
            best_score = ranked.signal
        if cfg.mode == "hybrid":
            self._prefer_period(retrieval, ranked)
        stories = distinct_stories(
            list(zip(ranked.ids, ranked.scores, strict=True)),
            lambda ids: self._rows(ids, ranked.rows, retrieval.collection),
            offset + k,
        )
        if len(stories) < offset + k and _copies_cut_short(retrieval, stories):
            deeper = self.retrieve(
                retrieval.question,
                retrieval.collection,
                source=retrieval.source,
                since=retrieval.since,
                depth=retrieval.fetched * DEEPER,
                vector=retrieval.vector,
            )
            return self.scored_answer(deeper, k, offset, config, highlighted)
        stories = stories[offset:]
        page = [(story.passage_id, story.score) for story in stories]
        copies = {story.passage_id: tuple(map(story_copy, story.copies)) for story in stories}
        if not page:
            return ScoredAnswer(Answer(question=retrieval.question, answered=False, hits=()), 0.0)
        page_ids = [pid for pid, _ in page]
        rows = self._rows(page_ids, ranked.rows, retrieval.collection)
        if cfg.mode == "hybrid":
            signal = best_score
        else:
            stored = [pid for pid in page_ids if pid in rows]
            signal = max(self._cosines(stored, retrieval).values(), default=0.0)
        wanted = page_ids if highlighted is None else page_ids[:highlighted]
        need = [pid for pid in wanted if pid in rows and pid not in ranked.highlights]
        highlights: dict[int, str | None] = dict(ranked.highlights)
        for pid in [pid for pid in need if pid in ranked.sentence_odds]:
            sentences, odds = ranked.sentence_odds[pid]
            highlights[pid] = most_covering(sentences, odds) if sentences else None
        need = [pid for pid in need if pid not in ranked.sentence_odds]
        if need:
            found = embedded_highlights(
                self.embedder,
                retrieval.vector,
                retrieval.terms,
                [split_sentences(rows[pid].text) for pid in need],
            )
            highlights.update(zip(need, found, strict=True))
        hits = tuple(
            make_hit(rows[pid], score, highlights.get(pid), copies[pid])
            for pid, score in page
            if pid in rows
        )
        answer = Answer(question=retrieval.question, answered=answers(signal, cfg), hits=hits)
        return ScoredAnswer(answer, signal)

    def _rows(
        self, ids: Sequence[int], known: dict[int, PassageRow], collection: str
    ) -> dict[int, PassageRow]:
        """The rows of `ids`, read from the store when not `known` (and then known)."""
        missing = [pid for pid in ids if pid not in known]
        if missing:
            known.update(self.store.passages_by_ids(missing, collection))
        return {pid: known[pid] for pid in ids if pid in known}

    def _question_period(self, retrieval: Retrieval) -> dates.Period | None:
        """The period the question names, by which the date preference will re-order its hits
        (None when it names none, or without the preference)."""
        if not self.date_boost:
            return None
        return dates.question_period(retrieval.question, self._reference_day(retrieval))

    def _prefer_period(self, retrieval: Retrieval, ranked: Ranked) -> None:
        """`ranked` re-ordered in place to prefer the period the question names, if any."""
        period = ranked.period
        if not self.date_boost or not ranked.ids or period is None:
            return
        rows = self._rows(ranked.ids, ranked.rows, retrieval.collection)
        days = {pid: dates.article_day(row.date) for pid, row in rows.items()}
        ranked.ids, ranked.scores = dates.prefer_period(
            ranked.ids, ranked.scores, days, period, self.date_boost
        )

    def _reference_day(self, retrieval: Retrieval) -> date:
        """Today, or the collection's newest article's day for a past archive (read once per
        write to the collection)."""
        collection = retrieval.collection
        generation = self.store.generation(collection)
        known = self._newest.get(collection)
        if known is None or known[0] != generation:
            known = (generation, dates.newest_article_day(self.store, collection))
            self._newest[collection] = known
        return dates.reference_day(dates.today(), known[1])

    def _cosines(self, ids: list[int], retrieval: Retrieval) -> dict[int, float]:
        vectors = self._vectors(ids, retrieval)
        return {pid: float(v @ retrieval.vector) for pid, v in vectors.items()}

    def _vectors(self, ids: list[int], retrieval: Retrieval) -> dict[int, np.ndarray]:
        """The stored vectors of `ids` in the collection: from an exact index in memory, the
        rest from the store (whose pages may not be: at 6.4M passages a warm ask's reads were
        1.3 ms on average, p95 7.9). The store alone says which passages exist: every id here
        was read from it by `passages_by_ids` (the candidates' rows, the page's rows)."""
        found = retrieval.index.vectors(ids) if retrieval.index is not None else {}
        rest = [pid for pid in ids if pid not in found]
        if rest:
            found.update(
                self.store.vectors_by_ids(rest, len(retrieval.vector), retrieval.collection)
            )
        return found


def _copies_cut_short(retrieval: Retrieval, stories: Sequence[Story]) -> bool:
    """Whether a page fell short because copies took candidates, with more to fetch."""
    return (
        retrieval.more
        and retrieval.fetched * DEEPER <= MAX_FETCH
        and any(story.copies for story in stories)
    )


def make_hit(
    row: PassageRow, score: float, highlight: str | None, copies: tuple[StoryCopy, ...] = ()
) -> Hit:
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
        copies=copies,
    )

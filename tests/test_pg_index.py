"""Choosing `hnsw.ef_search` from a recall target (`pg_index`): the calibration against a fake
search whose recall grows with ef, how a calibration scales to other depths, and its life in a
real PostgreSQL (made at the end of an ingest, kept in the store, read by another process).

The PostgreSQL tests here store without an HNSW index (the wheel's pgvector cannot build one on
a CPU without AVX-512, tests/pg.py): the "HNSW" search the calibration measures is the exact
scan, so they check the plumbing; tests/test_pg_hnsw.py measures pgvector's own HNSW.
"""

from __future__ import annotations

import numpy as np
import pytest
from pg import pg_server, pg_url

from archivist.index_ivf import question_like
from archivist.models import Article, Paragraph, Passage
from archivist.pg_index import (
    EF_MAX,
    EF_MIN,
    EF_STEPS,
    QUERY_NOISE,
    Calibration,
    PgVectorIndex,
    choose_ef,
    ef_search,
    meta_key,
    recall,
)
from archivist.store import NewArticle
from archivist.store.postgres import PostgresStore
from archivist.store.rows import content_hash

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module
DIM = 16
K = 10


def exact_ids(queries: int = 20) -> list[list[int]]:
    return [[q * 1000 + i for i in range(K)] for q in range(queries)]


def fake_search(exact: list[list[int]], keeps, tried: list[int]):
    """A search whose top-k holds the first round(k * keeps(ef)) exact ids, then wrong ones."""

    def search(ef: int) -> list[list[int]]:
        tried.append(ef)
        right = round(K * min(1.0, keeps(ef)))
        return [ids[:right] + [-1 - i for i in range(K - right)] for ids in exact]

    return search


def test_the_smallest_ef_meeting_the_target_is_chosen_and_no_deeper_one_tried():
    # before: twice it, a fixed multiple that was too deep at 2k passages and too shallow at
    # 100k (docs/benchmarks.md); the queries (`index_ivf.question_like`) now carry the difficulty
    exact, tried = exact_ids(), []
    ef, reached = choose_ef(fake_search(exact, lambda ef: ef / 200, tried), exact, target=0.97)
    assert (ef, reached) == (200, 1.0)
    assert tried == [e for e in EF_STEPS if e <= 200]


def test_an_index_exact_at_the_first_step_gets_the_first_step():
    exact, tried = exact_ids(), []
    assert choose_ef(fake_search(exact, lambda ef: 1.0, tried), exact) == (EF_STEPS[0], 1.0)
    assert tried == [EF_STEPS[0]]


def test_calibration_queries_lie_as_far_from_their_vectors_as_the_noise_sets():
    # before: IVF's queries (noise 1.0, cosine ~0.71 to their vector), which at 100k passages
    # with near-copies kept 0.97 of their top-50 at ef 100 where SQuAD questions needed ~512
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(200, 384)).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    queries = question_like(sample, QUERY_NOISE)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(queries * sample, axis=1)
    expected = 1 / np.sqrt(1 + QUERY_NOISE**2)  # the noise is ~orthogonal in 384 dimensions
    assert QUERY_NOISE >= 2.0
    assert abs(float(np.median(cosines)) - expected) < 0.03
    assert np.array_equal(
        question_like(sample, QUERY_NOISE), queries
    )  # a calibration made again: same draw


def test_a_target_never_met_gives_the_last_step_and_the_recall_it_reached():
    exact, tried = exact_ids(), []
    ef, reached = choose_ef(fake_search(exact, lambda ef: 0.5, tried), exact, target=0.97)
    assert (ef, reached) == (EF_STEPS[-1], 0.5)
    assert tried == list(EF_STEPS)


def test_a_calibration_with_nothing_to_try_is_refused():
    with pytest.raises(ValueError, match="at least one ef"):
        choose_ef(lambda ef: [], [], steps=())


def test_recall_leaves_out_queries_without_exact_ids():
    assert recall([[1, 2], [9]], [[1, 3], []]) == 0.5
    assert recall([[]], [[]]) == 1.0


def test_a_calibration_scales_with_the_depth_asked_within_pgvector_bounds():
    measured = Calibration(ef=80, k=50, passages=20_000, recall=0.98)
    assert ef_search(50, measured) == 80
    assert ef_search(500, measured) == 800
    assert ef_search(5, measured) == EF_MIN
    assert ef_search(5_000, measured) == EF_MAX
    assert ef_search(50) == 100  # uncalibrated: EF_PER_RESULT per result


def add_vectors(store: PostgresStore, collection: str, articles: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    items = []
    for a in range(articles):
        article = Article(title=f"Article {seed}-{a}", paragraphs=(Paragraph(f"text {seed} {a}"),))
        vectors = rng.normal(size=(50, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        passages = [Passage(i, f"passage {seed} {a} {i}") for i in range(50)]
        items.append(
            NewArticle(article, f"a{seed}-{a}", content_hash(article), passages, vectors, "t")
        )
    store.insert_articles(collection, items, "tester")


def test_a_collection_is_calibrated_after_an_ingest_and_other_processes_read_it(pg_url):
    # no HNSW index can be built on this CPU: the store searches exactly, the index says HNSW
    store = PostgresStore(pg_url, DIM, hnsw=False)
    index = PgVectorIndex(store, "g1", DIM, hnsw=True, calibrate_from=200)
    add_vectors(store, "g1", 3, seed=1)  # 150 passages: under calibrate_from
    index.checkpoint()
    assert index.calibration is None
    add_vectors(store, "g1", 2, seed=2)  # 250
    index.checkpoint(interim=True)  # within an ingest: not yet
    assert index.calibration is None
    index.checkpoint()
    made = index.calibration
    assert made is not None and made.passages == 250
    assert made.ef == EF_STEPS[0] and made.recall >= 0.97  # an exact scan keeps it all
    assert made.noise == QUERY_NOISE

    other = PgVectorIndex(PostgresStore(pg_url, DIM, hnsw=False), "g1", DIM)
    assert other.calibration == made
    assert other.ef_for(500) == ef_search(500, made) < ef_search(500)
    assert PgVectorIndex(store, "g2", DIM).calibration is None  # per collection

    add_vectors(store, "g1", 2, seed=3)  # 350: under twice the calibrated 250
    index.checkpoint()
    assert index.calibration == made
    add_vectors(store, "g1", 3, seed=4)  # 500
    index.checkpoint()
    again = index.calibration
    assert again is not None and again.passages == 500


def test_a_calibration_made_with_other_queries_is_made_again_at_the_next_ingest(pg_url):
    # before: one stored by the previous version (IVF's queries, no "noise" in it) was kept
    # until the collection doubled: 100k passages searched at ef 200, 0.927 of the top-50
    store = PostgresStore(pg_url, DIM, hnsw=False)
    index = PgVectorIndex(store, "g1", DIM, hnsw=True, calibrate_from=200)
    add_vectors(store, "g1", 5, seed=1)  # 250 passages
    old = '{"ef": 200, "k": 50, "passages": 250, "recall": 0.9716}'
    store.set_meta(meta_key("g1"), old)
    assert index.calibration_due()
    index.checkpoint()
    made = index.calibration
    assert made is not None and made.noise == QUERY_NOISE and made.ef == EF_STEPS[0]
    assert not index.calibration_due()  # made with these queries, not grown: kept


def test_an_exactly_searched_collection_is_never_calibrated(pg_url):
    store = PostgresStore(pg_url, DIM, hnsw=False)
    index = PgVectorIndex(store, "g1", DIM, hnsw=False, calibrate_from=10)
    add_vectors(store, "g1", 1, seed=1)
    assert not index.calibration_due()
    index.checkpoint()
    assert index.calibration is None
    assert index.kind == "pgvector-exact"

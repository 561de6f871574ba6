"""Dense pseudo-relevance feedback (issue 15): when it runs, how it moves the question, and that
it re-orders a weak question's candidates without changing whether it is answered (fast: the
hashing embedder, no model)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ranking import add_articles

from archivist.ranking import feedback
from archivist.ranking.features import FEATURES
from archivist.ranking.model import first_stage


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def features_with_coverage(*shares: float) -> np.ndarray:
    out = np.zeros((len(shares), len(FEATURES)), dtype=np.float32)
    out[:, FEATURES.index("passage_lexical")] = shares
    return out


def test_a_first_pass_is_weak_when_its_best_candidate_holds_little_of_the_question():
    cfg = feedback.Feedback(weak_coverage=0.6, weak_cosine=0.6)
    features = features_with_coverage(0.9, 0.3)
    assert not feedback.is_weak(features, 0, cfg)
    assert feedback.is_weak(features, 1, cfg)


def test_a_first_pass_with_a_close_candidate_is_not_weak():
    cfg = feedback.Feedback(weak_coverage=0.6, weak_cosine=0.6)
    features = features_with_coverage(0.3, 0.2)
    features[1, FEATURES.index("dense")] = 0.7  # any candidate: the vector side is sure
    assert not feedback.is_weak(features, 0, cfg)
    features[1, FEATURES.index("dense")] = 0.5
    assert feedback.is_weak(features, 0, cfg)


def test_the_question_moves_toward_the_best_candidates_by_their_scores():
    question = unit(1, 0, 0)
    vectors = np.stack([unit(0, 1, 0), unit(0, 0, 1)])
    cfg = feedback.Feedback(top=2, beta=1.0)
    # the first candidate far ahead: the question moves toward it, hardly toward the second
    moved = feedback.moved_question(question, vectors, np.array([20.0, 5.0]), cfg)
    assert np.linalg.norm(moved) == pytest.approx(1.0, abs=1e-5)
    assert moved @ vectors[0] > question @ vectors[0]
    assert moved @ vectors[0] > 10 * (moved @ vectors[1])
    # level scores: toward both alike
    level = feedback.moved_question(question, vectors, np.array([5.0, 5.0]), cfg)
    assert level @ vectors[0] == pytest.approx(level @ vectors[1], abs=1e-5)


def test_only_the_top_candidates_move_the_question():
    question = unit(1, 0, 0)
    vectors = np.stack([unit(0, 1, 0), unit(0, 0, 1)])
    moved = feedback.moved_question(
        question, vectors, np.array([5.0, 5.0]), feedback.Feedback(top=1)
    )
    assert moved @ vectors[1] == pytest.approx(0.0, abs=1e-6)


def test_rescoring_keeps_the_first_pass_best_and_lifts_those_nearer_the_moved_question():
    scores = np.array([10.0, 9.0, 8.0], dtype=np.float32)
    vectors = np.stack([unit(1, 1, 0), unit(0, 1, 0), unit(1, 0, 0)])
    moved = unit(0, 1, 0)
    out = feedback.rescored(scores, vectors, moved, feedback.Feedback(weight=10.0))
    assert out[0] == pytest.approx(10.0)  # the first pass's best keeps its score
    assert out[1] > out[0] > out[2]  # nearer the moved question rises, further falls


@pytest.fixture
def ranker(fake_archive):
    add_articles(fake_archive)
    return fake_archive.ranker


def expected_order(ranker, retrieval, cfg: feedback.Feedback) -> list[int]:
    """The candidates ordered by the public steps of the feedback pass."""
    table = ranker.candidates(retrieval)
    scores, _ = first_stage(table.features, ranker.config)
    vectors = ranker.candidate_vectors(retrieval, table)
    moved = feedback.moved_question(retrieval.vector, vectors, scores, cfg)
    again = feedback.rescored(scores, vectors, moved, cfg)
    return [table.ids[i] for i in np.argsort(-again, kind="stable")]


def test_a_weak_question_is_reordered_and_answered_as_without_feedback(ranker):
    # "staff" and "wages" are in no passage: the best candidate holds under half the question
    question = "How many staff and what wages at the Leipzig parcel centre?"
    retrieval = ranker.retrieve(question, "c")
    cfg = feedback.Feedback(weak_coverage=0.99, weak_cosine=1.01, weight=100.0)
    ranker.feedback = None
    before = ranker.rank(retrieval, 5)
    answer_before = ranker.scored_answer(retrieval, 5)
    assert before.signal is None
    ranker.feedback = cfg
    after = ranker.rank(retrieval, 5)
    assert after.ids == expected_order(ranker, retrieval, cfg)
    assert after.signal == pytest.approx(before.scores[0])  # the first stage's best score
    answer_after = ranker.scored_answer(retrieval, 5)
    assert answer_after.signal == pytest.approx(answer_before.signal)
    assert answer_after.answer.answered == answer_before.answer.answered


def test_a_strong_first_pass_pays_nothing(ranker):
    retrieval = ranker.retrieve("night ferry Kiel Oslo", "c")
    ranker.feedback = feedback.Feedback(weak_coverage=0.5, weight=100.0)
    ranked = ranker.rank(retrieval, 5)
    ranker.feedback = None
    assert ranked.signal is None
    assert ranked.ids == ranker.rank(retrieval, 5).ids


def test_feedback_waits_for_the_sentence_stage(ranker):
    """The sentence stage re-scores the best few on its own scale: no feedback beside it."""
    from archivist.ranking import SearchConfig

    retrieval = ranker.retrieve("How many staff and what wages at the Leipzig parcel centre?", "c")
    ranker.feedback = feedback.Feedback(weak_coverage=0.99, weak_cosine=1.01, weight=100.0)
    assert ranker.rank(retrieval, 5, SearchConfig(rerank=2)).signal is None


def test_a_question_naming_a_period_keeps_the_date_preference_instead(ranker):
    """The date preference's small boost would drown in the feedback's re-scoring."""
    retrieval = ranker.retrieve("How many staff and what wages at the Leipzig centre in 2003?", "c")
    ranker.feedback = feedback.Feedback(weak_coverage=0.99, weak_cosine=1.01, weight=100.0)
    assert ranker.rank(retrieval, 5).signal is None
    ranker.date_boost = 0.0  # no preference: the feedback runs
    assert ranker.rank(retrieval, 5).signal is not None

"""The ranking model: the answered rule's inputs among the FEATURES, the first stage's scores
anchored on the rule's log-odds, and questions the archive cannot answer declined (fast: the
hashing embedder, no model)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ranking import add_articles

from archivist.ranking import SearchConfig
from archivist.ranking.features import FEATURES, RANKING_FEATURES, candidate_features
from archivist.ranking.lexical import query_terms
from archivist.ranking.model import (
    FIRST_STAGE_ANSWER_SCORE,
    FIRST_STAGE_WEIGHTS,
    answer_log_odds,
    first_stage,
)
from archivist.store import PassageRow

ROWS = [
    PassageRow(1, "cup", "Spain win the Davis Cup", None, "2004-12-05", None, 0, None,
               "Spain beat the United States to win the Davis Cup final in Seville in 2004."),
    PassageRow(2, "cup", "Spain win the Davis Cup", None, "2004-12-05", None, 1, None,
               "Rafael Nadal beat Andy Roddick in the second singles rubber."),
]  # fmt: skip


def features_for(question: str, doc_freq: dict[str, int] | None = None) -> np.ndarray:
    terms = query_terms(question, doc_freq or {}, 1000)
    vectors = np.zeros((len(ROWS), 4), np.float32)
    out, *_ = candidate_features(terms, np.zeros(4, np.float32), ROWS, vectors, {})
    return out


def column(name: str) -> int:
    return FEATURES.index(name)


def test_year_missing_marks_a_year_the_passage_does_not_name():
    named = features_for("Who won the Davis Cup final in 2004?")
    other = features_for("Who won the Davis Cup final in 2010?")
    undated = features_for("Who won the Davis Cup final?")
    assert named[0, column("year_missing")] == 0.0
    assert other[0, column("year_missing")] == 1.0
    assert undated[:, column("year_missing")].tolist() == [0.0, 0.0]


def test_year_in_the_articles_date_counts_as_named():
    # the second passage's text has no year, its article's date has
    assert features_for("Nadal Roddick singles 2004")[1, column("year_missing")] == 0.0


def test_rarest_missing_is_the_idf_share_of_the_rarest_word_the_passage_lacks():
    doc_freq = {"spain": 10, "sevil": 2, "trophi": 1}
    held = features_for("Spain Seville", doc_freq)
    lacking = features_for("Spain Seville trophy", doc_freq)
    assert held[0, column("rarest_missing")] == 0.0
    assert lacking[0, column("rarest_missing")] > 0.5
    # the second passage lacks Seville too, but the rarest it lacks is still "trophy"
    assert lacking[1, column("rarest_missing")] == lacking[0, column("rarest_missing")]


def test_unseen_is_the_share_of_the_question_no_passage_holds():
    terms = query_terms("Spain bitcoin", {"spain": 10}, 1000)
    out, *_ = candidate_features(
        terms, np.zeros(4, np.float32), ROWS, np.zeros((2, 4), np.float32), {}
    )
    share = terms.idf["bitcoin"] / terms.weight
    assert out[:, column("unseen")] == pytest.approx([share, share])
    assert out[:, column("terms")].tolist() == [2.0, 2.0]


def test_first_stage_keeps_the_combiners_order_and_anchors_the_best_on_the_rule():
    features = features_for("Who won the Davis Cup final in 2004?")
    features[:, column("dense")] = [0.7, 0.4]
    cfg = SearchConfig()
    scores, order = first_stage(features, cfg)
    combiner = features[:, :RANKING_FEATURES] @ np.asarray(FIRST_STAGE_WEIGHTS, np.float32)
    assert order == list(np.argsort(-combiner, kind="stable"))
    assert scores[1] - scores[0] == pytest.approx(combiner[1] - combiner[0], abs=1e-4)
    expected = FIRST_STAGE_ANSWER_SCORE + answer_log_odds(features, combiner, order)
    assert scores[order[0]] == pytest.approx(expected, abs=1e-4)


def test_a_question_naming_a_year_the_archive_lacks_is_declined(fake_archive):
    add_articles(fake_archive)
    asked = fake_archive.ask("When does the night ferry to Oslo return?", collection="c")
    later = fake_archive.ask("When did the night ferry to Oslo return in 2031?", collection="c")
    assert asked.answered and asked.hits[0].article_id == "ferry"
    # the same passage comes first, but the year it does not name makes it no answer
    assert not later.answered and later.hits[0].article_id == "ferry"

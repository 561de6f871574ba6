"""The quality benchmark's harness (benchmarks/quality*.py): its arithmetic, its report, its
embedding cache, and its runs through the archive's public API (fast: the hashing embedder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from quality_data import CachingEmbedder, Question  # noqa: E402
from quality_measure import (  # noqa: E402
    Outcome,
    declined_at,
    gather_features,
    quality,
    run_questions,
    threshold_for,
)
from quality_report import SECTION, write_section  # noqa: E402

from archivist.models import Article, Paragraph  # noqa: E402
from archivist.ranking import SearchConfig  # noqa: E402
from archivist.ranking.features import FEATURES  # noqa: E402

ARTICLES = {
    "ferry": "The night ferry between Kiel and Oslo returns in May after a two-year pause.",
    "orchard": "Growers in the Altes Land expect a record apple harvest of 330,000 tonnes.",
    "robots": "A new parcel centre in Leipzig sorts 50,000 parcels an hour with robot arms.",
}
QUESTIONS = [
    Question("q1", "How many parcels does the Leipzig centre sort?", ("50,000",), "robots", "L"),
    Question("q2", "When does the night ferry to Oslo return?", ("May",), "ferry", "K"),
]


@pytest.fixture
def filled(fake_archive):
    items = [
        (key, Article(title=key.title(), paragraphs=(Paragraph(text),), id=key))
        for key, text in ARTICLES.items()
    ]
    assert not fake_archive.add_articles(items, collection="default").failed
    return fake_archive


def test_quality_metrics():
    outcomes = [
        Outcome(0, 1.0, True, True),
        Outcome(3, 0.5, True, None),
        Outcome(None, 0.1, False, None),
        Outcome(0, 0.9, True, False),
    ]
    q = quality(outcomes)
    assert q["hit@1"] == 0.5 and q["hit@5"] == 0.75 and q["hit@10"] == 0.75
    assert q["mrr@10"] == pytest.approx((1 + 0.25 + 1) / 4)
    assert q["bold"] == 0.5


def test_threshold_answers_95_percent():
    inside = np.linspace(0, 1, 101)
    t = threshold_for(inside)
    assert np.mean(inside >= t) >= 0.95
    assert declined_at([0.0, 0.01, 0.9], t) == pytest.approx(2 / 3)


def test_write_section_keeps_other_sections(tmp_path):
    path = tmp_path / "benchmarks.md"
    path.write_text(
        "# Benchmarks\n\n## Ingest\n\nfast\n\n## Answer quality\n\nold\n\n## Ask\n\nq\n"
    )
    write_section(path, f"{SECTION}\n\nnew\n")
    text = path.read_text()
    assert "old" not in text and "new" in text and "## Ingest\n\nfast" in text
    assert text.index("## Ingest") < text.index(SECTION) < text.index("## Ask")
    write_section(tmp_path / "fresh.md", f"{SECTION}\n\nx\n")
    assert SECTION in (tmp_path / "fresh.md").read_text()


def test_caching_embedder_reuses_vectors_across_instances(tmp_path):
    from archivist.embedding import HashingEmbedder

    class Counting(HashingEmbedder):
        calls = 0

        def encode(self, texts):
            Counting.calls += len(texts)
            return super().encode(texts)

    first = CachingEmbedder(Counting(), tmp_path)
    a = first.encode(["one", "two", "one"])
    first.save()
    assert Counting.calls == 2
    second = CachingEmbedder(Counting(), tmp_path)
    b = second.encode(["two", "one"])
    assert Counting.calls == 2
    assert np.allclose(a[[1, 0]], b)


def test_run_questions_asks_each_configuration_through_the_public_ranker(filled):
    vectors = filled.embedder.encode([q.text for q in QUESTIONS])
    configs = {"hybrid": SearchConfig(), "bm25": SearchConfig(mode="bm25")}
    outcomes = run_questions(filled, QUESTIONS, configs, vectors)
    for name, cfg in configs.items():
        filled.search_config = cfg
        for question, outcome in zip(QUESTIONS, outcomes[name], strict=True):
            assert outcome.rank == 0 and outcome.bold_has_answer
            # the same answer `ask` gives
            assert outcome.answered == filled.ask(question.text, collection="default").answered


def test_gather_features_labels_the_gold_passage(filled):
    vectors = filled.embedder.encode([q.text for q in QUESTIONS])
    samples = gather_features(filled, QUESTIONS, vectors)
    assert len(samples) == len(QUESTIONS)
    for features, labels in samples:
        assert features.shape == (len(labels), len(FEATURES) + 1)
        assert labels.sum() == 1


def test_archivist_eval_runs_the_benchmark_of_the_checkout():
    done = subprocess.run(
        [sys.executable, "-c", "from archivist.cli import main; main()", "eval", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "--sets" in done.stdout and "--write" in done.stdout

"""The shipped hybrid ranking with the real model on a tiny corpus written for this test:
paragraphs that share words on purpose, so neither bm25 nor the dense side alone is enough."""

from __future__ import annotations

import pytest

from archivist.models import Article, Paragraph
from archivist.ranking import SearchConfig

pytestmark = pytest.mark.slow

# Fictional: two articles about the same town, each paragraph about one thing.
ARTICLES = {
    "port": (
        "Kessling harbour opens its new quay",
        [
            "The new deep-water quay in Kessling harbour opened on Monday after three years of "
            "construction. It is 420 metres long and can take container ships of up to 18,000 "
            "boxes, the port authority said.",
            "The quay cost 310 million euros. The state of Lower Kessland paid two thirds of it; "
            "the rest came from the harbour operator and a loan from the European Investment Bank.",
            "Dockworkers' union leader Hanna Brill said the quay would bring 650 permanent jobs "
            "to the town, but warned that automation could cut that number within a decade.",
            "The first ship to berth at the quay was the Mira Oldendorff, which arrived from "
            "Rotterdam with a cargo of wind turbine blades for an offshore park.",
        ],
    ),
    "school": (
        "Kessling school gets a new science wing",
        [
            "Kessling's Hafenschule opened a science wing with six laboratories on Tuesday. "
            "Headteacher Jonas Pauly said pupils had waited years for a proper chemistry lab.",
            "The wing cost 14 million euros and was paid for by the town council. Building it "
            "took nineteen months, four months longer than planned, because of a shortage of "
            "glass.",
            "The school now teaches 1,240 pupils. From next year it will offer a marine biology "
            "course together with the harbour's research station.",
        ],
    ),
}

QUESTIONS = [
    ("How long is the new quay in Kessling harbour?", "port", 0, "420 metres"),
    ("How much did the new quay cost?", "port", 1, "310 million"),
    ("How many permanent jobs will the quay bring?", "port", 2, "650"),
    ("Which ship was the first to berth at the new quay?", "port", 3, "Mira Oldendorff"),
    ("Who is the headteacher of the Hafenschule?", "school", 0, "Jonas Pauly"),
    ("How much did the science wing cost?", "school", 1, "14 million"),
    ("Why did building the science wing take longer than planned?", "school", 1, "glass"),
    ("How many pupils does the school teach?", "school", 2, "1,240"),
]


@pytest.fixture
def archive(real_archive):
    items = [
        (key, Article(title=title, id=key, paragraphs=tuple(Paragraph(p) for p in paragraphs)))
        for key, (title, paragraphs) in ARTICLES.items()
    ]
    report = real_archive.add_articles(items, collection="g")
    assert not report.failed
    return real_archive


def test_hybrid_puts_the_right_paragraph_first_and_bolds_the_answer(archive):
    bold_misses = []
    for question, article, _, answer_text in QUESTIONS:
        answer = archive.ask(question, k=3, collection="g")
        top = answer.hits[0]
        assert answer.answered, question
        assert top.article_id == article and answer_text in top.passage, (question, top.passage)
        if answer_text not in (top.highlight or ""):
            bold_misses.append((question, top.highlight))
    # a sentence that answers through a pronoun ("It is 420 metres long") can lose the
    # highlight to one that repeats the question's words; two such misses are allowed
    assert len(bold_misses) <= 2, bold_misses


def test_hybrid_ranks_at_least_as_well_as_each_side_alone(archive):
    def first_place(mode):
        archive.search_config = SearchConfig(mode=mode)
        right = 0
        for question, article, _, answer_text in QUESTIONS:
            top = archive.ask(question, k=1, collection="g").hits[0]
            right += top.article_id == article and answer_text in top.passage
        return right

    hybrid, bm25, dense = first_place("hybrid"), first_place("bm25"), first_place("dense")
    assert hybrid == len(QUESTIONS)
    assert hybrid >= max(bm25, dense)


@pytest.mark.parametrize(
    "question",
    [
        "What is the boiling point of liquid nitrogen?",
        "Who won the 1998 football World Cup?",
        "How do I bake sourdough bread?",
    ],
)
def test_unrelated_questions_are_not_answered(archive, question):
    answer = archive.ask(question, collection="g")
    assert not answer.answered, [(h.score, h.passage[:60]) for h in answer.hits]

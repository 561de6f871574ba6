"""The news question set's harness (benchmarks/news_quality.py): its loader and its hit rule, on a
tiny synthetic set (fast: the hashing embedder, no shared data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from news_quality import (  # noqa: E402
    gold_paragraphs,
    is_right,
    load_questions,
    run_news,
    summarise,
)

from archivist.models import Article, Paragraph  # noqa: E402
from archivist.ranking import SearchConfig  # noqa: E402

FERRY = (
    "The harbour office published the winter timetable on Monday.",
    "The night ferry between Kiel and Oslo returns in May after a two-year pause. "
    "Tickets go on sale in March.",
)
ORCHARD = ("Growers in the Altes Land expect a record apple harvest of 330,000 tonnes.",)
ANSWERABLE = {
    "id": "t-q-0001",
    "question": "When does the night ferry to Oslo come back?",
    "style": "natural",
    "answerable": True,
    "article_id": "t-ferry",
    "paragraph_index": 1,
    "answer_sentence": "The night ferry between Kiel and  Oslo returns in May after a two-year "
    "pause.",
    "answer": "May",
    "date_hint": None,
    "category": "travel",
    "split": "test",
}
UNANSWERABLE = {
    "id": "t-u-001",
    "question": "Who won the Lisbon mayoral election?",
    "style": "casual",
    "answerable": False,
    "kind": "absent",
    "near_article_id": None,
    "date_hint": "in 2030",
    "category": "politics",
    "split": "tune",
}


@pytest.fixture
def question_folder(tmp_path):
    folder = tmp_path / "questions"
    folder.mkdir()
    lines = [json.dumps(ANSWERABLE), "", json.dumps(UNANSWERABLE)]
    (folder / "set.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def data_folder(tmp_path):
    root = tmp_path / "data"
    for corpus, records in {
        "bbc-news": [{"id": "t-ferry", "title": "Ferry", "paragraphs": list(FERRY)}],
        "reuters-21578": [{"id": "t-orchard", "title": "Apples", "paragraphs": list(ORCHARD)}],
    }.items():
        (root / corpus).mkdir(parents=True)
        text = "".join(json.dumps(r) + "\n" for r in records)
        (root / corpus / "articles.jsonl").write_text(text)
    return root


def test_loader_reads_both_kinds_of_question(question_folder):
    answerable, unanswerable = load_questions(question_folder, ["set.jsonl"])
    assert answerable.answerable and answerable.article_id == "t-ferry"
    assert answerable.paragraph_index == 1 and not answerable.dated
    # whitespace in the quoted sentence does not matter
    assert answerable.answer_sentence == " ".join(FERRY[1].split(". ")[0].split()) + "."
    assert not unanswerable.answerable and unanswerable.article_id is None
    assert unanswerable.dated and unanswerable.split == "tune"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        (json.dumps({**ANSWERABLE, "style": "shouty"}), "shouty"),
        (json.dumps({k: v for k, v in ANSWERABLE.items() if k != "answer_sentence"}), "answer_"),
    ],
)
def test_loader_names_the_bad_line(tmp_path, line, problem):
    (tmp_path / "bad.jsonl").write_text(json.dumps(UNANSWERABLE) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=rf"^bad\.jsonl:2: .*{problem}"):
        load_questions(tmp_path, ["bad.jsonl"])


def test_hit_rule_counts_the_gold_paragraph_and_copies_only(question_folder, data_folder):
    question, _ = load_questions(question_folder, ["set.jsonl"])
    paragraphs = gold_paragraphs([question], data_folder)
    assert is_right(question, "t-ferry", FERRY[1], paragraphs)
    # the gold paragraph merged with a short neighbour into one passage
    assert is_right(question, "t-ferry", FERRY[0] + "\n" + FERRY[1], paragraphs)
    # a syndicated copy: another article, the answer sentence re-wrapped
    copy = "KIEL (dpa) - The night ferry between Kiel and\nOslo returns in May after a two-year"
    copy += " pause. Tickets cost more."
    assert is_right(question, "elsewhere-7", copy, paragraphs)
    # the gold article's other paragraph, and another story on the same topic, are wrong
    assert not is_right(question, "t-ferry", FERRY[0], paragraphs)
    assert not is_right(question, "elsewhere-8", "The night ferry to Oslo is back.", paragraphs)


def test_gold_article_missing_from_the_data_is_named(question_folder, tmp_path):
    question, _ = load_questions(question_folder, ["set.jsonl"])
    for corpus in ("bbc-news", "reuters-21578"):
        (tmp_path / "empty" / corpus).mkdir(parents=True)
        (tmp_path / "empty" / corpus / "articles.jsonl").write_text("")
    with pytest.raises(ValueError, match="t-ferry"):
        gold_paragraphs([question], tmp_path / "empty")


def test_run_and_summary_on_a_tiny_archive(fake_archive, question_folder, data_folder):
    items = [
        ("ferry", Article(title="Ferry", paragraphs=tuple(map(Paragraph, FERRY)), id="t-ferry")),
        ("apples", Article(title="Apples", paragraphs=(Paragraph(ORCHARD[0]),), id="t-orchard")),
    ]
    assert not fake_archive.add_articles(items, collection="default").failed
    questions = load_questions(question_folder, ["set.jsonl"])
    paragraphs = gold_paragraphs(questions, data_folder)
    vectors = fake_archive.embedder.encode([q.text for q in questions])
    configs = {"hybrid": SearchConfig(), "bm25": SearchConfig(mode="bm25")}
    outcomes = run_news(fake_archive, questions, configs, vectors, paragraphs)
    for name in configs:
        answerable, unanswerable = outcomes[name]
        assert answerable.rank is not None and unanswerable.rank is None
        summary = summarise(questions, outcomes[name])
        test = summary["test"]
        assert test["groups"]["natural"]["n"] == 1 and test["groups"]["keyword"]["n"] == 0
        assert summary["tune"]["unanswerable"] == 1
        # no answerable tune question: no threshold, so no abstention figure
        assert summary["threshold"] is None and test["declined"] is None


def test_report_has_a_news_table_beside_squad(tmp_path):
    from quality_report import SECTION, format_news, markdown, write_section

    group = {"hit@1": 0.5, "hit@5": 1.0, "hit@10": 1.0, "mrr@10": 0.75, "bold": 1.0, "n": 2}
    half = {"groups": {"all": group}, "answered": 0.95, "declined": None, "unanswerable": 0}
    news = {
        "archive": "news",
        "passages": 12,
        "questions": 3,
        "configs": {"hybrid (shipped)": {"threshold": 1.0, "test": half, "tune": half}},
    }
    assert "hybrid (shipped)" in format_news(news)
    section = markdown({"questions": 0, "sets": {}, "news": news}, "python quality.py")
    path = tmp_path / "benchmarks.md"
    write_section(path, section)
    text = path.read_text()
    assert text.index(SECTION) < text.index("### News questions: 12 passages")
    assert "| hybrid (shipped) | test | all | 2 | 0.500 | 1.000 | 1.000 | 0.750 | 1.000 |" in text
    assert "| hybrid (shipped) | 0.950 | - (of 0) |" in text


def test_untitled_sentence_scores_the_words_the_title_does_not_hold():
    from archivist.ranking.analysis import stem_string
    from archivist.ranking.features import FEATURES, untitled_share

    assert "untitled_sentence" in FEATURES
    terms = [(f" {s} ", 1.0) for s in stem_string("Kiel ferry return May").split()]
    title = stem_string("Kiel ferry")
    lead = [stem_string("The Kiel ferry is popular with tourists.")]
    answer = [stem_string("The ferry returns in May."), stem_string("Kiel is a port.")]
    present_lead = [t for t in terms if t[0] in lead[0]]
    present_answer = [t for t in terms if any(t[0] in s for s in answer)]
    # the lead holds the title's words only: nothing of the rest of the question
    assert untitled_share(terms, present_lead, title, lead) == 0.0
    assert untitled_share(terms, present_answer, title, answer) == 1.0
    # a question the title holds whole says nothing either way
    assert untitled_share(terms[:2], present_answer, title, answer) == 0.0


def test_highlight_is_the_sentence_with_what_the_title_does_not_say(fake_archive):
    lead = "The Kiel ferry is loved by the tourists of the whole Baltic coast every summer."
    answer = "After long repairs the ferry returns in May with a new crew and a new timetable."
    items = [
        ("kiel", Article(title="Kiel ferry", paragraphs=(Paragraph(f"{lead} {answer}"),))),
        ("apples", Article(title="Apples", paragraphs=(Paragraph(ORCHARD[0]),))),
    ]
    assert not fake_archive.add_articles(items, collection="default").failed
    hit = fake_archive.ask("When does the Kiel ferry return?", collection="default").hits[0]
    # both sentences hold two of the question's three words; only the second holds one the
    # title does not
    assert hit.title == "Kiel ferry" and hit.highlight == answer

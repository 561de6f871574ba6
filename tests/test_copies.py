"""One copy of each story (issue 15 item 4): the same text under other headlines and sources is
one hit listing the others as copies; templated reports whose figures differ stay apart; ingest
says when a body is already stored. On the fake embedder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import SEED, need

from archivist.archive import Archive
from archivist.cli import cli
from archivist.config import Settings
from archivist.embedding import HashingEmbedder
from archivist.models import Answer, Article, Hit, Paragraph, StoryCopy
from archivist.ranking import SearchConfig
from archivist.ranking.copies import Fingerprint, same_text
from archivist.textrender import format_answer
from bot import render

HEADLINE = "Lavrov sees China as a partner against the West"
COPIES = (
    ("Moscow and Beijing close ranks, says Lavrov", "site-1"),
    ("Russia's top diplomat courts Beijing", "site-2"),
)
QUESTION = "Who emphasized that relations between the two countries are at an all-time high?"


def syndicated(tmp_path):
    """The seed as three sites ran it: its own headline and source line, and two others."""
    text = need(SEED).read_text(encoding="utf-8")
    paths = [SEED]
    for i, (headline, source) in enumerate(COPIES):
        path = tmp_path / f"copy-{i}.txt"
        path.write_text(
            text.replace(HEADLINE, headline).replace("source site-3", f"source {source}"),
            encoding="utf-8",
        )
        paths.append(path)
    return paths


MARKET_TEMPLATE = (
    "Gold closed at {gold} dlrs an ounce in quiet trade on the day, dealers said, while most "
    "traders stayed on the sidelines ahead of the monthly trade figures from the United States "
    "and the central bank meeting later in the week. Dealers said the market would stay thin "
    "until the holiday was over and volumes returned to their usual levels, with physical "
    "demand from jewellers in Asia subdued and investors waiting for a clearer lead from the "
    "currency markets before committing themselves to new positions in the metal."
)


def market_report(day: str, gold: str) -> Article:
    """A templated report: every day the same words, other figures."""
    return Article(
        title=f"Precious metals close, {day}",
        source="wire",
        paragraphs=(Paragraph(MARKET_TEMPLATE.format(gold=gold)),),
    )


def test_texts_are_the_same_after_case_punctuation_and_spacing():
    a = Fingerprint("Gold rose on Monday,  dealers said.\nIt was quiet.")
    b = Fingerprint("GOLD ROSE ON MONDAY -- dealers said: it was quiet")
    assert same_text(a, b)
    assert not same_text(a, Fingerprint("Silver fell on Tuesday, brokers said. It was busy."))


def test_a_copy_with_a_sentence_changed_is_the_same_text_a_rewrite_is_not():
    words = " ".join(f"word{i}" for i in range(100))
    assert same_text(Fingerprint(words), Fingerprint(words.replace("word50", "other")))
    half = " ".join(f"word{i}" for i in range(50)) + " " + " ".join(f"x{i}" for i in range(50))
    assert not same_text(Fingerprint(words), Fingerprint(half))


def test_texts_whose_figures_differ_are_not_the_same():
    a = Fingerprint(MARKET_TEMPLATE.format(gold="412.50"))
    b = Fingerprint(MARKET_TEMPLATE.format(gold="415.25"))
    assert len(a.shingles & b.shingles) >= 0.8 * len(a.shingles | b.shingles)  # all else alike
    assert not same_text(a, b)
    assert same_text(a, Fingerprint(MARKET_TEMPLATE.format(gold="412.50").upper()))
    # a copy with its thousands written otherwise is the same report
    assert same_text(Fingerprint("Sales were 1,250 units."), Fingerprint("Sales were 1250 units."))


def test_the_seed_on_three_sites_is_one_hit_with_two_copies(fake_archive, tmp_path):
    reports = [fake_archive.add_paths([p], collection="g") for p in syndicated(tmp_path)]
    assert [len(r.added) for r in reports] == [1, 1, 1]
    first_id = reports[0].added[0].id
    # stored all the same, and said so
    assert reports[0].near_duplicates == []
    for report, (headline, _) in zip(reports[1:], COPIES, strict=True):
        (near,) = report.near_duplicates
        assert (near.title, near.existing_id) == (headline, first_id)
        assert report.to_json()["near_duplicates"] == [
            {"origin": near.origin, "title": headline, "existing_id": first_id}
        ]
    assert fake_archive.count(collection="g") == 3

    answer = fake_archive.ask(QUESTION, 3, collection="g")
    top = answer.hits[0]
    assert {c.source for c in top.copies} | {top.source} == {"site-1", "site-2", "site-3"}
    assert len(top.copies) == 2
    assert {c.article_id for c in top.copies}.isdisjoint({top.article_id})
    # k distinct hits: none of the page repeats another's text
    assert len(answer.hits) == 3
    texts = [h.passage for h in answer.hits]
    assert len(set(texts)) == 3
    assert top.to_json()["copies"][0].keys() == {"article_id", "title", "source", "date", "url"}


def test_a_page_that_copies_leave_short_fetches_deeper(tmp_path):
    # few candidates a list: the three copies of each passage fill them, and the page of four
    # distinct passages needs a deeper fetch
    archive = Archive(
        tmp_path / "a", embedder=HashingEmbedder(), search_config=SearchConfig(candidates=2)
    )
    try:
        archive.add_paths(syndicated(tmp_path), collection="g")
        answer = archive.ask(QUESTION, 4, collection="g")
        assert len(answer.hits) == 4 and len({h.passage for h in answer.hits}) == 4
        assert all(len(h.copies) == 2 for h in answer.hits)
        # and the next page goes on from there, none repeated
        more = archive.ask(QUESTION, 2, collection="g", offset=4)
        assert {h.passage for h in more.hits}.isdisjoint(h.passage for h in answer.hits)
        assert len(more.hits) == 2
    finally:
        archive.close()


def test_copies_arrive_together_in_one_ingest(fake_archive, tmp_path):
    report = fake_archive.add_paths(syndicated(tmp_path), collection="g")
    assert len(report.added) == 3
    assert [n.existing_id for n in report.near_duplicates] == [report.added[0].id] * 2


def test_templated_reports_with_other_figures_stay_two_hits(fake_archive):
    report = fake_archive.add_articles(
        [
            ("mon", market_report("Monday", "412.50")),
            ("tue", market_report("Tuesday", "415.25")),
        ],
        collection="g",
    )
    assert len(report.added) == 2 and report.near_duplicates == []
    answer = fake_archive.ask("where did gold close an ounce", 4, collection="g")
    assert len(answer.hits) == 2 and all(h.copies == () for h in answer.hits)
    assert all(h["copies"] == [] for h in answer.to_json()["hits"])  # the key, always
    assert report.to_json()["near_duplicates"] == []  # the key, always, as with copies


def cli_archive(settings: Settings) -> Archive:
    return Archive(
        settings.data_dir,
        limits=settings.limits,
        embedder=HashingEmbedder(),
        search_config=SearchConfig(mode="rrf"),
    )


@pytest.fixture
def run(tmp_path):
    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), *args], obj=cli_archive)

    return invoke


def test_cli_json_lists_copies_and_near_duplicates(run, tmp_path):
    paths = syndicated(tmp_path)
    first = json.loads(run("ingest", str(paths[0]), "--json").output)
    (first_id,) = first["added"]
    assert first["near_duplicates"] == []
    text = run("ingest", str(paths[1])).output
    assert f"near-duplicate  {paths[1]}  (the text of {first_id}; stored)" in text
    result = run("ingest", str(paths[2]), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["near_duplicates"] == [
        {"origin": str(paths[2]), "title": COPIES[1][0], "existing_id": first_id}
    ]
    answer = json.loads(run("ask", QUESTION, "--k", "2", "--json").output)
    top = answer["hits"][0]
    assert sorted(c["source"] for c in top["copies"]) == sorted(
        {"site-1", "site-2", "site-3"} - {top["source"]}
    )
    assert all(len(h["copies"]) == 2 for h in answer["hits"])  # every passage ran thrice

    text = run("ask", QUESTION, "--k", "2").output
    assert "also in: site-" in text


def hit_with_copies() -> Hit:
    return Hit(
        article_id="a1",
        title="Lavrov in Beijing",
        source="site-3",
        date="2024-04-09",
        url=None,
        passage="The 74-year-old emphasized that relations are at an all-time high.",
        heading=None,
        position=2,
        score=12.0,
        copies=(
            StoryCopy("a2", "Moscow and Beijing close ranks", "site-1", None, None),
            StoryCopy("a3", "Russia's top diplomat courts Beijing", "site-2", None, None),
        ),
    )


def test_the_bot_and_the_terminal_say_where_else_a_story_ran():
    answer = Answer(question="q", answered=True, hits=(hit_with_copies(),))
    (embed,) = render.answer_embeds(answer)
    assert "also in: site-1, site-2" in (embed.footer.text or "")
    assert "also in: site-1, site-2" in format_answer(answer.to_json())


class CountingEmbedder(HashingEmbedder):
    """The fake model, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(len(texts))
        return super().encode(texts)


def test_a_page_filled_past_its_depth_by_copies_costs_no_more_model_calls(tmp_path):
    """Copies push later candidates onto the page; their highlights come from their words, as
    the rest of the page's do, not from embedding their sentences (a second model call)."""
    embedder = CountingEmbedder()
    archive = Archive(tmp_path / "a", embedder=embedder)
    try:
        archive.add_paths(syndicated(tmp_path), collection="g")
        embedder.calls.clear()
        answer = archive.ask(QUESTION, 5, collection="g")
        assert len(answer.hits) == 5 and all(h.highlight for h in answer.hits)
        assert embedder.calls == [1]  # the question, and nothing else
    finally:
        archive.close()

"""Dates in questions (issue 15 item 3): the period a question names, resolved against today or
the archive's newest article, and the hybrid's preference for articles from then."""

from __future__ import annotations

from datetime import date

import pytest

from archivist.models import Article, Paragraph
from archivist.ranking.dates import (
    Period,
    article_day,
    prefer_period,
    question_period,
    reference_day,
)

REF = date(1987, 10, 20)  # a Tuesday: the newest Reuters story of 1987


def span(question: str, ref: date = REF) -> tuple[date, date] | None:
    period = question_period(question, ref)
    return None if period is None else (period.start, period.end)


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("What did OPEC agree in March?", date(1987, 3, 1), date(1987, 3, 31)),
        ("how high did the dollar get against the mark in march", (1987, 3, 1), (1987, 3, 31)),
        ("What happened in February 1987?", (1987, 2, 1), (1987, 2, 28)),
        ("prices in feb. 1987", (1987, 2, 1), (1987, 2, 28)),
        (
            "What current account deficit is Turkey aiming for in 1987?",
            (1987, 1, 1),
            (1987, 12, 31),
        ),
        ("GCC oil revenues 1987 forecast", (1987, 1, 1), (1987, 12, 31)),
        ("ANZ forecast Australia net foreign debt end-1987", (1987, 1, 1), (1987, 12, 31)),
        ("US refineries capacity running rate April", (1987, 4, 1), (1987, 4, 30)),
        ("In April, how much Cuban sugar did Japan push back?", (1987, 4, 1), (1987, 4, 30)),
        ("bt modem protection customers from may", (1987, 5, 1), (1987, 5, 31)),
        ("what did japan's ldp propose in early april", (1987, 4, 1), (1987, 4, 30)),
        ("zinc offers due by the end of june", (1987, 6, 1), (1987, 6, 30)),
        ("ecuador quake last March", (1987, 3, 1), (1987, 3, 31)),
        ("what did he say in October", (1987, 10, 1), (1987, 10, 31)),
        ("what did he say last October", (1986, 10, 1), (1986, 10, 31)),
        ("what happened in November", (1986, 11, 1), (1986, 11, 30)),
        ("the crash on October 19", (1987, 10, 19), (1987, 10, 19)),
        ("the crash on October 19, 1987", (1987, 10, 19), (1987, 10, 19)),
        ("the crash on 19 October 1987", (1987, 10, 19), (1987, 10, 19)),
        ("the crash on the 19th of October", (1987, 10, 19), (1987, 10, 19)),
        ("Feb 26 cocoa review", (1987, 2, 26), (1987, 2, 26)),
        ("what happened on 1987-03-05", (1987, 3, 5), (1987, 3, 5)),
        ("what happened yesterday", (1987, 10, 19), (1987, 10, 19)),
        ("what happened today", (1987, 10, 20), (1987, 10, 20)),
        ("who did musharraf have talks with on monday", (1987, 10, 19), (1987, 10, 19)),
        ("what did the fed do last tuesday", (1987, 10, 13), (1987, 10, 13)),
        ("news this week", (1987, 10, 19), (1987, 10, 20)),
        ("news last week", (1987, 10, 12), (1987, 10, 18)),
        ("news over the past week", (1987, 10, 13), (1987, 10, 20)),
        ("news this month", (1987, 10, 1), (1987, 10, 20)),
        ("news last month", (1987, 9, 1), (1987, 9, 30)),
        ("profits fell last year", (1986, 1, 1), (1986, 12, 31)),
        ("earlier this year", (1987, 1, 1), (1987, 12, 31)),
        ("the weekend", None, None),
        ("last weekend's talks", (1987, 10, 17), (1987, 10, 18)),
        ("oil in the 1970s", (1970, 1, 1), (1979, 12, 31)),
        ("picked up by police in the mid-sixties", (1960, 1, 1), (1969, 12, 31)),
        ("between 1986 and 1987", (1986, 1, 1), (1987, 12, 31)),
    ],
)
def test_a_question_names_a_period(question, start, end):
    if start is None:
        assert span(question) is None
        return
    as_date = lambda d: d if isinstance(d, date) else date(*d)  # noqa: E731
    assert span(question) == (as_date(start), as_date(end))


@pytest.mark.parametrize(
    "question",
    [
        "May I ask what OPEC agreed?",
        "Prices may rise, analysts said",
        "this may be the end of the bid",
        "March of the Penguins box office takings",
        "troops march on the capital",
        "an august body of economists",
        "the mayor of Dearborn",
        "How many 2000 jobs were cut?",
        "sales of 1987 mln dlrs",
        "a 1990 pct rise",
        "model XJ1987 recalled",
        "who won the cup",
        "Jan Smith resigned",
        "Did the scandal mar their chances?",
        "Is the dec alpha fast?",
        "the sun sets",
    ],
)
def test_no_period_in_questions_that_name_none(question):
    assert question_period(question, REF) is None


def test_the_words_that_named_the_period_are_kept():
    period = question_period("What did OPEC agree in March?", REF)
    assert period is not None and period.words == "in March"


def test_the_reference_is_today_unless_the_archive_stopped_long_ago():
    today = date(2026, 11, 29)
    assert reference_day(today, None) == today
    assert reference_day(today, date(2026, 11, 27)) == today  # a quiet week: still live
    assert reference_day(today, date(1987, 10, 20)) == date(1987, 10, 20)
    assert reference_day(today, date(2030, 1, 1)) == today  # a date in the future is no guide


def test_stored_dates_are_read_when_they_are_days():
    assert article_day("1987-02-26T15:01:01") == date(1987, 2, 26)
    assert article_day("1987-02-26") == date(1987, 2, 26)
    assert article_day("Feb 1987") is None and article_day(None) is None
    assert article_day("1987-02-31") is None


def test_the_preference_reorders_and_keeps_undated_passages():
    march = Period(date(1987, 3, 1), date(1987, 3, 31), "in March")
    days = {1: date(1987, 6, 2), 2: date(1987, 3, 12), 3: None, 4: date(1987, 4, 3)}
    ids, scores = prefer_period([1, 3, 2, 4], [10.0, 9.9, 9.5, 9.0], days, march, boost=1.0)
    assert ids == [2, 1, 4, 3]  # April 3 is a report of March, within the grace days
    assert scores == [10.5, 10.0, 10.0, 9.9]
    assert prefer_period([1, 3], [10.0, 9.9], days, march, boost=0.0) == ([1, 3], [10.0, 9.9])


def opec(day: str | None, cut: str) -> tuple[str, Article]:
    text = (
        f"OPEC ministers agreed to cut crude oil output by {cut} mln barrels a day at their "
        f"meeting in Vienna, delegates said, and to keep the reference price unchanged."
    )
    return (
        f"opec-{day}",
        Article(title="OPEC output talks", paragraphs=(Paragraph(text),), source="wire", date=day),
    )


@pytest.fixture
def opec_archive(fake_archive):
    fake_archive.add_articles(
        [
            opec("1987-06-27", "0.8"),
            opec("1987-03-14", "1.2"),
            opec(None, "1.5"),
            opec("1987-10-20", "0.5"),  # the newest story: the archive is of 1987
        ],
        collection="g",
    )
    return fake_archive


def dates_of(answer) -> list[str | None]:
    return [h.date for h in answer.hits]


def test_a_dated_question_prefers_the_article_of_that_month(opec_archive):
    # without a date, the undated story's words (its figure) happen to be the closest
    undated = opec_archive.ask("What did OPEC ministers agree on oil output?", 4, collection="g")
    assert dates_of(undated)[:2] == [None, "1987-03-14"]

    question = "What did OPEC ministers agree on oil output in March?"
    dated = opec_archive.ask(question, 4, collection="g")
    assert dates_of(dated)[:2] == ["1987-03-14", None]  # the undated one is not dropped

    opec_archive.ranker.date_boost = 0.0  # the preference is what moved it
    assert dates_of(opec_archive.ask(question, 4, collection="g"))[0] is None


def test_since_stays_the_hard_filter(opec_archive):
    answer = opec_archive.ask(
        "What did OPEC ministers agree on oil output in March?",
        4,
        collection="g",
        since="1987-06-01",
    )
    assert set(dates_of(answer)) == {"1987-06-27", "1987-10-20"}


def test_a_date_orders_the_hits_but_never_decides_answered(opec_archive):
    ranker = opec_archive.ranker
    question = "What did OPEC ministers agree on oil output in March?"
    signals = []
    for boost in (0.0, 50.0):
        ranker.date_boost = boost
        retrieval = ranker.retrieve(question, "g", depth=4)
        signals.append(ranker.scored_answer(retrieval, 4).signal)
    assert signals[0] == signals[1]

"""Dates in questions: "what did OPEC agree in March?" prefers the articles of that March.

`question_period` reads the date or period a question names ("in 1987", "in February 1987",
"last March", "this week", "yesterday", "on Monday", "March 5") and resolves it against a
reference day. The reference is today, or the collection's newest article when that is older
than `STALE_AFTER_DAYS` (`reference_day`): an archive of 1987 wire stories asked "in March"
means March 1987, and "yesterday" the day before its last story. A live archive, whose newest
story is at most a few weeks old, is asked relative to today.

`prefer_period` is a preference, not a filter: the hybrid score of a passage whose article is
dated within the period gains `DATE_BOOST`; articles without a date are neither boosted nor
dropped (`/ask since` and `--since` stay the hard filter).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from archivist.store import Store

# Added to a hybrid score (scale: the fitted weights of `ranking.model`) when the article's date
# falls in the period the question names. Measured on the news set's 32 dated Reuters questions
# (its dated BBC ones cannot move: BBC stories carry no date) among 1,059 Reuters articles of
# their categories (5,404 passages), hit@1 / hit@5 without it and at 1.0: tune 0.667 / 0.778
# and 0.667 / 0.833, test 0.429 / 0.714 and 0.500 / 0.786 (2026-11-29). The tune half gains
# nothing more above 1.0 (test: 0.571 at 2.0).
DATE_BOOST = 1.0
# an article reports an event a little after it happened: a March figure in an April 2 story
GRACE_DAYS = 7
# the newest article older than this makes the archive a past one: dates resolve against it
STALE_AFTER_DAYS = 31

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
PAST_DAYS = {"week": 7, "weekend": 7, "month": 30, "year": 365}

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
# words that make a lower-case month name, or "May" and "March", a month: "in march",
# "last may", "from May"; "May I ask" and "March of the Penguins" have none
_MONTH_LEAD = (
    r"(?P<lead>in|on|for|of|since|from|during|until|till|by|before|after|through|last|this|"
    r"(?:the\s+)?(?:end|start|beginning|middle)\s+of|early|mid|late)[\s-]+"
    r"(?:(?:early|mid|late)[\s-]+)?"
)
# a number followed by one of these counts something: "2000 jobs", "1990 tonnes"
_COUNTED = (
    r"pct|percent|per|%|mln|million|billion|bln|thousand|dlrs|dollars|pounds|euros|yen|tonnes|"
    r"tons|barrels|bpd|shares|jobs|people|workers|staff|cars|homes|units|points|troops|miles|"
    r"km|kilometres|kilometers|metres|meters|feet|acres|hectares|votes|seats|calories"
)

_ISO_DAY = re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>0[1-9]|1[0-2])-(?P<day>[0-3]\d)\b")
_DAY_MONTH = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?\b", re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?:,?\s+{_YEAR}\b)?(?![\d:.,]\d)", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b{_MONTH}(?:\s+of)?,?\s+{_YEAR}\b", re.IGNORECASE)
_MONTH_ALONE = re.compile(rf"(?:\b{_MONTH_LEAD})?\b{_MONTH}(?!\w)(?!\s+of\s+the\b)", re.IGNORECASE)
_DECADE = re.compile(r"\b(?:the\s+)?(?P<decade>(?:19|20)\d0)'?s\b", re.IGNORECASE)
DECADE_WORDS = {
    "twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950,
    "sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990,
}  # fmt: skip
# "the sixties", "the mid-sixties", "in the late eighties": the twentieth century's
_DECADE_WORD = re.compile(
    r"\bthe\s+(?:(?:early|mid|late)[\s-]+)?(?P<decade>" + "|".join(DECADE_WORDS) + r")\b",
    re.IGNORECASE,
)
_YEAR_ALONE = re.compile(
    rf"(?<![$£€.,/])\b{_YEAR}(?![\d.,/]\d)(?!\s*(?:-\s*)?(?:{_COUNTED})\b)(?!\s*%)",
    re.IGNORECASE,
)
_RELATIVE = re.compile(
    r"\b(?P<which>this|last|past|previous)\s+(?P<unit>week|month|year|weekend)\b"
    r"|\b(?P<word>yesterday|today|tonight)\b",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(
    r"\b(?P<lead>on|last|this|since|by|until|from)\s+(?P<weekday>" + "|".join(WEEKDAYS) + r")\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"[A-Z]")


@dataclass(frozen=True)
class Period:
    """Days from `start` to `end`, both included, and the words of the question naming them."""

    start: date
    end: date
    words: str

    def holds(self, day: date, grace_days: int = 0) -> bool:
        return self.start <= day <= self.end + timedelta(days=grace_days)


def reference_day(today: date, newest: date | None) -> date:
    """The day relative dates count from: today, or the newest article's day when the archive
    stopped more than `STALE_AFTER_DAYS` ago (a collection of past news)."""
    if newest is not None and newest < today - timedelta(days=STALE_AFTER_DAYS):
        return newest
    return today


def today() -> date:
    return datetime.now(UTC).date()


def newest_article_day(store: Store, collection: str) -> date | None:
    """The day of the collection's newest dated article (dates not in ISO form left out)."""
    return article_day(store.newest_date(collection))


def article_day(value: str | None) -> date | None:
    """The day of a stored date (ISO 8601, a date or a datetime); None for anything else."""
    if not value or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _month_span(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:  # "February 30"
        return None


def _recent_month(month: int, reference: date, *, before: bool) -> int:
    """The year of the latest `month` up to the reference's month ("in March"), or strictly
    before it ("last March")."""
    if month < reference.month or (month == reference.month and not before):
        return reference.year
    return reference.year - 1


def _recent_day(month: int, day: int, reference: date) -> date | None:
    """ "March 5" without a year: the latest one not after the reference."""
    found = _day(reference.year, month, day)
    if found is not None and found <= reference:
        return found
    return _day(reference.year - 1, month, day)


class _Reader:
    """One question's date mentions, each span of its text read once (the most precise
    pattern first: a day, then a month of a year, a month, a decade, a year)."""

    def __init__(self, question: str, reference: date) -> None:
        self.text = question
        self.reference = reference
        self.taken = [False] * len(question)
        self.found: list[Period] = []

    def free(self, match: re.Match[str]) -> bool:
        return not any(self.taken[match.start() : match.end()])

    def add(self, match: re.Match[str], start: date | None, end: date | None = None) -> None:
        if start is None:
            return
        for i in range(match.start(), match.end()):
            self.taken[i] = True
        self.found.append(Period(start, end or start, match.group(0).strip()))

    def read(self) -> list[Period]:
        ref = self.reference
        for m in _ISO_DAY.finditer(self.text):
            self.add(m, _day(int(m["year"]), int(m["month"]), int(m["day"])))
        for pattern in (_DAY_MONTH, _MONTH_DAY):
            for m in pattern.finditer(self.text):
                if self.free(m):
                    month, day = MONTHS[m["month"].lower()], int(m["day"])
                    year = m["year"]
                    self.add(
                        m, _day(int(year), month, day) if year else _recent_day(month, day, ref)
                    )
        for m in _MONTH_YEAR.finditer(self.text):
            if self.free(m):
                self.add(m, *_month_span(int(m["year"]), MONTHS[m["month"].lower()]))
        for m in _MONTH_ALONE.finditer(self.text):
            if self.free(m) and _names_a_month(m):
                month = MONTHS[m["month"].lower()]
                before = (m["lead"] or "").lower() == "last"
                self.add(m, *_month_span(_recent_month(month, ref, before=before), month))
        for m in _DECADE.finditer(self.text):
            if self.free(m):
                decade = int(m["decade"])
                self.add(m, date(decade, 1, 1), date(decade + 9, 12, 31))
        for m in _DECADE_WORD.finditer(self.text):
            if self.free(m):
                decade = DECADE_WORDS[m["decade"].lower()]
                self.add(m, date(decade, 1, 1), date(decade + 9, 12, 31))
        for m in _YEAR_ALONE.finditer(self.text):
            if self.free(m):
                self.add(m, date(int(m["year"]), 1, 1), date(int(m["year"]), 12, 31))
        for m in _RELATIVE.finditer(self.text):
            if self.free(m):
                self.add(m, *_relative(m, ref))
        for m in _WEEKDAY.finditer(self.text):
            if self.free(m):
                self.add(m, _last_weekday(WEEKDAYS[m["weekday"].lower()], m["lead"], ref))
        return self.found


def _names_a_month(m: re.Match[str]) -> bool:
    """A month name without a day or a year is a month when a word like "in" or "last" leads
    it ("in march", "last May"; not "this may"), or when it is a whole name other than "may"
    and "march" ("May I ask", "March of the Penguins") and not a lower-case "august"."""
    name, lead = m["month"], (m["lead"] or "").lower()
    if lead:
        return not (name == "may" and lead in ("this", "by", "of"))  # "this may be"
    low = name.lower()
    if len(low) <= 4 and low not in ("june", "july"):  # abbreviations and "may": other words
        return False
    return low != "march" and (low != "august" or bool(_CAPITALISED.match(name)))


def _relative(m: re.Match[str], ref: date) -> tuple[date, date]:
    word = (m["word"] or "").lower()
    if word in ("today", "tonight"):
        return ref, ref
    if word == "yesterday":
        return ref - timedelta(days=1), ref - timedelta(days=1)
    which, unit = m["which"].lower(), m["unit"].lower()
    if which == "past":  # "the past week": that many days up to the reference
        return ref - timedelta(days=PAST_DAYS[unit]), ref
    back = which != "this"
    if unit == "year":
        year = ref.year - 1 if back else ref.year
        return date(year, 1, 1), date(year, 12, 31)
    if unit == "month":
        first = ref.replace(day=1)
        if back:
            return _month_span(
                *((ref.year - 1, 12) if ref.month == 1 else (ref.year, ref.month - 1))
            )
        return first, ref
    if unit == "weekend":  # the latest one; "last weekend" on a weekend, the one before
        saturday = ref - timedelta(days=(ref.weekday() - 5) % 7)
        if back and ref.weekday() >= 5:
            saturday -= timedelta(days=7)
        return saturday, saturday + timedelta(days=1)
    monday = ref - timedelta(days=ref.weekday())
    if back:
        return monday - timedelta(days=7), monday - timedelta(days=1)
    return monday, ref


def _last_weekday(weekday: int, lead: str, ref: date) -> date:
    """ "On Monday" in the news is the latest Monday before the reference day ("this Monday"
    may be the reference day itself)."""
    back = (ref.weekday() - weekday) % 7
    if back == 0 and lead.lower() != "this":
        back = 7
    return ref - timedelta(days=back)


def question_period(question: str, reference: date) -> Period | None:
    """The period a question names (several mentions: the span from the first day named to the
    last), resolved against `reference`; None when it names none."""
    found = _Reader(question, reference).read()
    if not found:
        return None
    found.sort(key=lambda p: question.find(p.words))
    return Period(
        min(p.start for p in found), max(p.end for p in found), ", ".join(p.words for p in found)
    )


def prefer_period(
    ids: Sequence[int],
    scores: Sequence[float],
    days: Mapping[int, date | None],
    period: Period,
    boost: float = DATE_BOOST,
) -> tuple[list[int], list[float]]:
    """The ranking re-ordered by score + `boost` for passages whose article's day (`days`) falls
    in `period` (or up to `GRACE_DAYS` after it); the rest keep their score."""
    final = [
        score + boost
        if (day := days.get(pid)) is not None and period.holds(day, GRACE_DAYS)
        else score
        for pid, score in zip(ids, scores, strict=True)
    ]
    order = sorted(range(len(final)), key=lambda i: -final[i])
    return [ids[i] for i in order], [final[i] for i in order]

"""One copy of each story: passages of different articles that are the same text (a wire story
on several sites, under other headlines, kickers and source lines) collapse into one hit that
lists the others as copies. Nothing is merged in storage; this happens at answer time.

Two passages are the same text when their words agree after folding case, punctuation and
whitespace, or when their word 5-gram shingles overlap (Jaccard) by `MIN_JACCARD` or more; and
in either case when their figures agree: templated reports (market closes, weather, results)
share nearly every word and differ only in their numbers, and each is its own story.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from archivist.models import StoryCopy
from archivist.store import PassageRow

SHINGLE_WORDS = 5
MIN_JACCARD = 0.8
# texts whose lengths (without spaces) differ more than this are not compared further: at a
# Jaccard of 0.8 their word counts differ by 20% at most
MIN_SIZE_RATIO = 0.6
# once the page is full, this many more candidates are read for copies of its stories only: a
# copy scores about as its original (the same text), so it ranks right beside it
COPY_LOOKAHEAD = 5

_WORD = re.compile(r"\w+")
# a figure as written ("1250.5", "7-3/4" gives 7 and 3/4)
_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # "1,250" is written "1250" elsewhere


class Fingerprint:
    """What comparing a text with another needs, each part made when a comparison first gets
    that far: most pairs of passages already differ in length. (Plain attributes, not
    `cached_property`, which takes a lock on every read before Python 3.12.)"""

    def __init__(self, text: str) -> None:
        self.text = text
        self.size = len(text) - text.count(" ")
        self._folded: str | None = None
        self._words: tuple[str, ...] | None = None
        self._shingles: frozenset[int] | None = None
        self._figures: Counter[str] | None = None

    @property
    def folded(self) -> str:
        if self._folded is None:
            text = self.text
            folded = (text if text.isascii() else unicodedata.normalize("NFKC", text)).casefold()
            self._folded = _THOUSANDS.sub("", folded) if "," in folded else folded
        return self._folded

    @property
    def words(self) -> tuple[str, ...]:
        if self._words is None:
            self._words = tuple(_WORD.findall(self.folded))
        return self._words

    @property
    def shingles(self) -> frozenset[int]:
        """The word 5-grams, hashed once: a tuple's hash is not kept, and set operations on
        tuples would hash every one again (hashes are per process: never stored)."""
        if self._shingles is None:
            words = self.words
            if len(words) <= SHINGLE_WORDS:
                self._shingles = frozenset([hash(words)])
            else:  # the shorter tails end the zip: each 5-gram once
                grams = zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)
                self._shingles = frozenset(map(hash, grams))
        return self._shingles

    @property
    def figures(self) -> Counter[str]:
        if self._figures is None:
            self._figures = Counter(_NUMBER.findall(self.folded))
        return self._figures


def _figures_agree(a: Counter[str], b: Counter[str]) -> bool:
    """One text's figures are all in the other's (a copy cut by a sentence keeps the rest);
    a figure in each that the other lacks is a different report."""
    return not (a - b) or not (b - a)


def same_text(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two texts are copies of one another (see the module's rule); the cheapest
    tests first."""
    # a bound well below the words' (spacing and punctuation vary between copies)
    if min(a.size, b.size) < MIN_SIZE_RATIO * max(a.size, b.size):
        return False
    shorter, longer = sorted((len(a.words), len(b.words)))
    if not shorter or shorter < MIN_JACCARD * longer:  # Jaccard can be no more than about this
        return False
    if a.words != b.words:
        shared = len(a.shingles & b.shingles)
        if shared < MIN_JACCARD * (len(a.shingles) + len(b.shingles) - shared):
            return False
    return a.figures == b.figures or _figures_agree(a.figures, b.figures)


@dataclass(frozen=True)
class Story:
    """A hit as shown: its passage and score, and the same text in other articles."""

    passage_id: int
    score: float
    copies: tuple[PassageRow, ...] = ()


RowReader = Callable[[Sequence[int]], Mapping[int, PassageRow]]


@dataclass
class _Lead:
    """A story's first passage in the ranking, and the copies found of it so far."""

    score: float
    row: PassageRow
    text: Fingerprint
    copies: list[PassageRow]

    def add_copy(self, row: PassageRow) -> None:
        seen = {self.row.article_id, *(c.article_id for c in self.copies)}
        if row.article_id not in seen:  # a story repeated within one article is one story
            self.copies.append(row)


def distinct_stories(
    ranked: Sequence[tuple[int, float]], read: RowReader, want: int
) -> list[Story]:
    """The first `want` distinct stories of a ranking (passage id, score; best first), each
    with its copies; reading further down the ranking as copies are folded in. `read` gives
    the rows of passage ids (those it cannot give are left out, as a page leaves them out)."""
    leads: dict[int, _Lead] = {}
    window = max(want * 2, 10)
    lookahead = COPY_LOOKAHEAD
    position = 0
    while position < len(ranked) and (len(leads) < want or lookahead > 0):
        chunk = ranked[position : position + window]
        position += len(chunk)
        rows = read([pid for pid, _ in chunk])
        for pid, score in chunk:
            row = rows.get(pid)
            if row is None:
                continue
            full = len(leads) >= want
            if full:
                lookahead -= 1
                if lookahead < 0:
                    break
            text = Fingerprint(row.text)
            lead = next((lead for lead in leads.values() if same_text(lead.text, text)), None)
            if lead is not None:
                lead.add_copy(row)
            elif not full:
                leads[pid] = _Lead(score, row, text, [])
    return [Story(pid, lead.score, tuple(lead.copies)) for pid, lead in leads.items()]


def story_copy(row: PassageRow) -> StoryCopy:
    return StoryCopy(
        article_id=row.article_id, title=row.title, source=row.source, date=row.date, url=row.url
    )

"""Text as the ranking reads it: words, Porter stems (as FTS5's `porter` tokenizer makes them),
and a passage's analysis (its sentences and their stems), made once at ingest and stored.

A passage's stored analysis (the store's `stems` column) is its sentences' stems, a line each,
after ANALYSIS_VERSION; asking reads it instead of analysing the passage again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from archivist.chunking import split_sentences
from archivist.store import PassageRow

WORD = re.compile(r"\w+", re.UNICODE)

# The first line of a stored analysis: bump it when `split_sentences` or the stemming changes,
# and analyses stored before are ignored (made again from the text).
ANALYSIS_VERSION = "a1"

_STEMMERS = threading.local()


def thread_stemmer() -> Any:
    """This thread's Porter stemmer (None without PyStemmer): PyStemmer's objects must not be
    used by two threads at once, and a question's lexical half runs in a worker thread."""
    stemmer = getattr(_STEMMERS, "porter", False)
    if stemmer is False:
        try:
            import Stemmer
        except ImportError:  # pragma: no cover - a dependency, but degrade rather than fail
            stemmer = None
        else:
            stemmer = Stemmer.Stemmer("porter")
        _STEMMERS.porter = stemmer
    return stemmer


# Irregular English verb forms, so "Who did he meet?" matches "they met" (Porter leaves them
# apart). Forms that are also common nouns or other words (left, found, saw, rose, fell, felt,
# lay, lead, bore, wound, ground) are left out.
IRREGULAR = {
    form: base
    for base, forms in {
        "meet": "met",
        "win": "won",
        "begin": "began begun",
        "become": "became",
        "come": "came",
        "go": "went gone",
        "make": "made",
        "take": "took taken",
        "give": "gave given",
        "build": "built",
        "buy": "bought",
        "bring": "brought",
        "catch": "caught",
        "choose": "chose chosen",
        "draw": "drew drawn",
        "drive": "drove driven",
        "eat": "ate eaten",
        "fight": "fought",
        "fly": "flew flown",
        "forget": "forgot forgotten",
        "freeze": "froze frozen",
        "get": "got gotten",
        "grow": "grew grown",
        "hold": "held",
        "hide": "hid hidden",
        "keep": "kept",
        "know": "knew known",
        "lose": "lost",
        "mean": "meant",
        "pay": "paid",
        "run": "ran",
        "rise": "risen",
        "say": "said",
        "see": "seen",
        "sell": "sold",
        "send": "sent",
        "shoot": "shot",
        "sing": "sang sung",
        "sit": "sat",
        "sleep": "slept",
        "speak": "spoke spoken",
        "spend": "spent",
        "stand": "stood",
        "steal": "stole stolen",
        "strike": "struck",
        "swim": "swam swum",
        "teach": "taught",
        "tell": "told",
        "think": "thought",
        "throw": "threw thrown",
        "understand": "understood",
        "wake": "woke woken",
        "wear": "wore worn",
        "write": "wrote written",
        "break": "broke broken",
        "flee": "fled",
        "seek": "sought",
        "lead": "led",
    }.items()
    for form in forms.split()
}

_FORMS: dict[str, list[str]] = {}
for _form, _base in IRREGULAR.items():
    _FORMS.setdefault(_base, [_base]).append(_form)


def word_forms(word: str) -> list[str]:
    """The word and, for an irregular verb, its other forms (for the FTS5 query)."""
    return _FORMS.get(IRREGULAR.get(word, word), [word])


@lru_cache(maxsize=200_000)
def fts_term(word: str) -> str:
    """The term FTS5's `porter` tokenizer indexes for a lower-cased word (irregular forms
    stay apart: "met" is "met", "ate" is "at")."""
    stemmer = thread_stemmer()
    return stemmer.stemWord(word) if stemmer is not None else word


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Porter stem of a lower-cased word (the form FTS5's `porter` tokenizer indexes), with
    irregular verb forms first brought to their base form."""
    return fts_term(IRREGULAR.get(word, word))


def stems(text: str) -> list[str]:
    return list(map(stem, WORD.findall(text.lower())))


@lru_cache(maxsize=20_000)
def stem_string(text: str) -> str:
    """The stems of a short text (a title, a heading) as " stem stem … " for substring tests."""
    return " " + " ".join(stems(text)) + " "


# -- a passage's analysis ------------------------------------------------------------------------
@dataclass(frozen=True)
class PassageAnalysis:
    """A passage analysed for the features: its sentences, and the stems of each sentence and
    of the whole passage, each as one string " stem stem … " (substring tests run in C)."""

    sentences: Sequence[str]
    sentence_stems: list[str]
    body: str

    @classmethod
    def from_lines(cls, lines: list[str], sentences: Sequence[str]) -> PassageAnalysis:
        """From each sentence's stems joined by spaces (a stored analysis' lines)."""
        body = " " + " ".join(line for line in lines if line) + " "
        return cls(sentences, [f" {line} " for line in lines], body)


def _sentence_lines(sentences: Iterable[str]) -> list[str]:
    return [" ".join(stems(s)) for s in sentences]


def stored_analysis(text: str) -> str:
    """What the store keeps of a passage for the ranking, made once at ingest: each sentence's
    stems, a line each, after ANALYSIS_VERSION. Asking then reads it instead of analysing the
    passage again (~30 us a passage, 100 candidates an ask)."""
    lines = _sentence_lines(split_sentences(text))
    return ANALYSIS_VERSION + "".join("\n" + line for line in lines)


@lru_cache(maxsize=50_000)
def analyse_text(text: str) -> PassageAnalysis:
    """A passage's analysis made from its text (cached: the same passages come up again)."""
    sentences = split_sentences(text)
    return PassageAnalysis.from_lines(_sentence_lines(sentences), sentences)


class LazySentences(Sequence[str]):
    """A passage's sentences beside its stored analysis: split only when read (the highlight of
    a page's few passages); most candidates never are."""

    def __init__(self, text: str, count: int) -> None:
        self._text, self._count = text, count
        self._items: list[str] | None = None

    def _split(self) -> list[str]:
        if self._items is None:
            items = split_sentences(self._text)
            # the same splitter made the stored lines (ANALYSIS_VERSION); should they still
            # differ in number, keep the stored count so sentence i is the stems' line i
            self._items = (items + [""] * self._count)[: self._count]
        return self._items

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i):  # type: ignore[override]
        return self._split()[i]


@lru_cache(maxsize=50_000)
def read_stored_analysis(text: str, stored: str) -> PassageAnalysis | None:
    """The analysis `stored_analysis(text)` made, or None when it is of another version."""
    lines = stored.split("\n")
    if lines[0] != ANALYSIS_VERSION:
        return None
    return PassageAnalysis.from_lines(lines[1:], LazySentences(text, len(lines) - 1))


def passage_analysis(row: PassageRow) -> PassageAnalysis:
    """The passage's analysis: the one stored at ingest, else made from its text."""
    if row.stems:
        found = read_stored_analysis(row.text, row.stems)
        if found is not None:
            return found
    return analyse_text(row.text)


def analyse_ahead(rows: Iterable[PassageRow]) -> None:
    """Analyse passages before their features are wanted (the analyses are cached), e.g. in
    the thread that found them while the question is still being embedded."""
    for row in rows:
        passage_analysis(row)
        stem_string(row.title)
        if row.heading:
            stem_string(row.heading)

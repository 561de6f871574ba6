"""Article -> passages: a passage is a paragraph; very short paragraphs merge with the next one
under the same heading; a paragraph longer than the model's window is split at sentences."""

from __future__ import annotations

import re
from collections.abc import Callable

from archivist.models import Article, Passage

MIN_WORDS = 25  # a paragraph shorter than this joins the next one (same heading)
WINDOW_TOKENS = 256
MIN_BUDGET = 96

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) before a space and
# an opening capital, digit or quote. Abbreviations such as "U.S. officials" are the usual trap.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sen|Rep|Gov|Gen|Col|Lt|St|Jr|Sr|Inc|Ltd|Co|Corp|vs|No|Vol|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])\.$"
)
_LONGEST_ABBREVIATION = len("Sept.")


def split_sentences(text: str) -> list[str]:
    pieces = _SENTENCE_END.split(text)
    # _SENTENCE_END has no groups, so split returns the sentences; re-join abbreviation breaks.
    # A sentence is kept as its pieces and joined once at the end, and only its last piece is
    # searched for an abbreviation: "A. A. A. ..." must not re-scan an ever-growing sentence.
    sentences: list[list[str]] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if sentences and _ends_with_abbreviation(sentences[-1][-1]):
            sentences[-1].append(piece)
        else:
            sentences.append([piece])
    if not sentences:
        return [text.strip()] if text.strip() else []
    return [" ".join(parts) for parts in sentences]


def _ends_with_abbreviation(piece: str) -> bool:
    # an abbreviation is at most _LONGEST_ABBREVIATION characters; searching from there (the
    # pattern's \b still sees the character before) keeps each test constant-time
    return _ABBREVIATIONS.search(piece, max(0, len(piece) - _LONGEST_ABBREVIATION)) is not None


def embed_text(title: str, heading: str | None, text: str) -> str:
    """What is embedded for a passage: the title and heading give it its context."""
    parts = [title.strip()]
    if heading:
        parts.append(heading.strip())
    parts.append(text)
    return "\n".join(parts)


def chunk_article(
    article: Article,
    count_tokens: Callable[[str], int],
    window: int = WINDOW_TOKENS,
) -> list[Passage]:
    context_tokens = count_tokens(article.title) + 4
    out: list[tuple[str | None, str]] = []
    pending: tuple[str | None, str] | None = None
    for paragraph in article.paragraphs:
        heading, text = paragraph.heading, paragraph.text.strip()
        if not text:
            continue
        if pending is not None:
            if pending[0] == heading:
                text = f"{pending[1]} {text}"
            else:
                out.append(pending)
            pending = None
        if len(text.split()) < MIN_WORDS:
            pending = (heading, text)
            continue
        out.append((heading, text))
    if pending is not None:
        if out and out[-1][0] == pending[0]:
            out[-1] = (pending[0], f"{out[-1][1]} {pending[1]}")
        else:
            out.append(pending)

    result: list[Passage] = []
    for heading, text in out:
        heading_tokens = count_tokens(heading) + 1 if heading else 0
        budget = max(MIN_BUDGET, window - 2 - context_tokens - heading_tokens)
        for piece in _split_to_budget(text, budget, count_tokens):
            result.append(Passage(position=len(result), text=piece, heading=heading))
    return result


def _split_to_budget(text: str, budget: int, count_tokens: Callable[[str], int]) -> list[str]:
    total = count_tokens(text)
    if total <= budget:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    current_tokens = 0
    sentences = split_sentences(text)
    for sentence in sentences:
        # a text of one sentence is already counted: a huge line is not tokenized twice
        tokens = total if len(sentences) == 1 and sentence == text else count_tokens(sentence)
        if tokens > budget:
            if current:
                pieces.append(" ".join(current))
                current, current_tokens = [], 0
            pieces.extend(_split_words(sentence, budget, count_tokens))
            continue
        if current and current_tokens + tokens > budget:
            pieces.append(" ".join(current))
            current, current_tokens = [], 0
        current.append(sentence)
        current_tokens += tokens
    if current:
        pieces.append(" ".join(current))
    # a tiny last piece reads better joined to the one before, when it fits the window
    if len(pieces) > 1 and len(pieces[-1].split()) < MIN_WORDS // 2:
        joined = f"{pieces[-2]} {pieces[-1]}"
        if count_tokens(joined) <= budget + budget // 4:
            pieces[-2:] = [joined]
    return pieces


def _split_words(sentence: str, budget: int, count_tokens: Callable[[str], int]) -> list[str]:
    """A sentence longer than the window (a table, a hostile single line) split at words.

    Tokens are counted word by word so a huge line costs linear time, and each distinct word
    once: a tokenizer call costs far more than a look-up, and words repeat.
    """
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    counted: dict[str, int] = {}
    for word in sentence.split():
        tokens = counted.get(word)
        if tokens is None:
            tokens = counted[word] = max(1, count_tokens(word))
        if current and used + tokens > budget:
            pieces.append(" ".join(current))
            current, used = [], 0
        current.append(word)
        used += tokens
    if current:
        pieces.append(" ".join(current))
    return pieces

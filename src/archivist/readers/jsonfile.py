"""JSON and JSON Lines: one article per object.

Schema: ``{id?, title, source?, date?, url?, category?, paragraphs: [str, ...] | text: str}``
(the layout of ``shared/data/*/articles.jsonl``; `paragraphs` items may also be
``{"text": ..., "heading": ...}``). A `.json` file holds one object or a list of them. A broken
line of a `.jsonl` file is reported with its line number; the good lines are still read.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.models import Article, Paragraph, ReadFailure, ReadResult
from archivist.readers.decode import collapse_space, decode_text

EXTENSIONS = (".json", ".jsonl", ".ndjson")

_STRING_FIELDS = ("id", "source", "date", "url", "category", "agency")
MAX_FIELD_CHARS = 2_000
# One JSONL line is one article, and an article holds at most `max_passages_per_article`
# passages (~2M characters): a longer line is refused before it is parsed.
MAX_LINE_CHARS = 5_000_000
# from a line's first character that is not white space to its end
_NOT_BLANK = re.compile(r"\S[^\n]*")
NESTED_TOO_DEEPLY = "JSON nested too deeply to read (too many arrays or objects inside each other)"


def read(origin: str, data: bytes, limits: Limits) -> ReadResult:
    text = decode_text(data)
    if origin.lower().endswith(".json"):
        return _read_json(origin, text, limits)
    return _read_lines(origin, text, limits)


def _read_json(origin: str, text: str, limits: Limits) -> ReadResult:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # a `.json` file may be JSON Lines in disguise
        if exc.msg == "Extra data":
            return _read_lines(origin, text, limits)
        raise ReadError(origin, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except (RecursionError, ValueError) as exc:
        raise ReadError(origin, _unreadable(exc)) from None
    if isinstance(value, dict) and isinstance(value.get("articles"), list):
        value = value["articles"]
    items = value if isinstance(value, list) else [value]
    if len(items) > limits.max_articles_per_file:
        raise InputTooLarge(
            origin, f"{len(items)} articles, over the limit of {limits.max_articles_per_file}"
        )
    result = ReadResult()
    for index, item in enumerate(items):
        item_origin = f"{origin}[{index}]" if isinstance(value, list) else origin
        try:
            result.articles.append((item_origin, article_from_record(item, limits)))
        except ValueError as exc:
            result.failures.append(ReadFailure(item_origin, str(exc), ReadError.kind))
    if len(items) == 1 and result.failures and not isinstance(value, list):
        raise ReadError(origin, result.failures[0].error)
    return result


def _read_lines(origin: str, text: str, limits: Limits) -> ReadResult:
    result = ReadResult()
    count = 0
    for line_no, line in _records(text):
        count += 1
        if count > limits.max_articles_per_file:
            raise InputTooLarge(
                origin, f"more than {limits.max_articles_per_file} articles in one file"
            )
        line_origin = f"{origin}:{line_no}"
        try:
            record = _parse_line(line)
            result.articles.append((line_origin, article_from_record(record, limits)))
        except ValueError as exc:
            result.failures.append(ReadFailure(line_origin, str(exc), ReadError.kind))
    if not result.articles and not result.failures:
        raise ReadError(origin, "the file has no JSON records")
    return result


def _records(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for each line that is not blank.

    Found by a regular expression, one line at a time: a file of millions of blank or short
    lines costs neither a Python step per blank line nor a list of every line.
    """
    line_no, counted_to = 1, 0
    for match in _NOT_BLANK.finditer(text):
        line_no += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        yield line_no, text[text.rfind("\n", 0, match.start()) + 1 : match.end()]


def _parse_line(line: str) -> Any:
    """One JSONL line's value; ValueError with a reason fit for a user when it cannot be read."""
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(
            f"the line is {len(line):,} characters long, over the limit of "
            f"{MAX_LINE_CHARS:,} for one article"
        )
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    except (RecursionError, ValueError) as exc:
        raise ValueError(_unreadable(exc)) from None


def _unreadable(exc: Exception) -> str:
    """Why json.loads refused valid-looking JSON, in words (not Python's)."""
    if isinstance(exc, RecursionError):
        return NESTED_TOO_DEEPLY
    if "digits" in str(exc):  # Python's int-max-str-digits guard against quadratic parsing
        return f"a number with more than {sys.get_int_max_str_digits():,} digits"
    return f"not valid JSON ({exc})"


def _clean_string(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}")
    value = collapse_space(value.replace("\x00", ""))
    if len(value) > MAX_FIELD_CHARS:
        raise ValueError(f"field {name!r} is longer than {MAX_FIELD_CHARS} characters")
    return value or None


def article_from_record(record: Any, limits: Limits | None = None) -> Article:
    """Validate one JSON object as an article (raises ValueError with the reason)."""
    limits = limits or Limits()
    if not isinstance(record, dict):
        raise ValueError(
            f"expected an object with a title and paragraphs, got {type(record).__name__}"
        )
    title = _clean_string(record.get("title"), "title")
    if not title:
        raise ValueError("missing 'title'")
    paragraphs = _paragraphs(record)
    if not paragraphs:
        raise ValueError("missing 'paragraphs' or 'text' (the article has no body)")
    if len(paragraphs) > limits.max_paragraphs_per_article:
        raise ValueError(
            f"{len(paragraphs)} paragraphs, over the limit of {limits.max_paragraphs_per_article}"
        )
    fields = {name: _clean_string(record.get(name), name) for name in _STRING_FIELDS}
    if fields["id"] is not None and not re.fullmatch(r"[\w.:@/+-]{1,200}", fields["id"]):
        raise ValueError("field 'id' may hold only letters, digits and . : @ / + - _")
    return Article(title=title, paragraphs=tuple(paragraphs), **fields)


def _paragraphs(record: dict) -> list[Paragraph]:
    raw = record.get("paragraphs")
    if raw is None:
        text = record.get("text")
        if text is None:
            return []
        if not isinstance(text, str):
            raise ValueError("field 'text' must be a string")
        raw = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    if not isinstance(raw, list):
        raise ValueError("field 'paragraphs' must be a list of strings")
    paragraphs = []
    for item in raw:
        heading = None
        if isinstance(item, dict):
            heading = _clean_string(item.get("heading"), "heading")
            item = item.get("text")
        if not isinstance(item, str):
            raise ValueError("every paragraph must be a string (or an object with 'text')")
        text = collapse_space(item.replace("\x00", ""))
        if text:
            paragraphs.append(Paragraph(text=text, heading=heading))
    return paragraphs

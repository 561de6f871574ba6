"""Text within Discord's limits: escaping untrusted text, cutting at a boundary, safe links,
dates (the package's docstring says why each)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime

import discord

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBEDS_TOTAL_MAX = 6000
BUTTON_LABEL_MAX = 80
CUSTOM_ID_MAX = 100

ELLIPSIS = "…"
ALSO_IN_MAX = 200  # a story on many sites: the first few name it well enough
ARTICLE_PAGE_CHARS = 3000
QUESTION_MAX = 300  # the question is kept in the answer's content for "More results"
QUESTION_PREFIX = "**Q:** "
SOURCE_PREFIX = "**Source:** "
SINCE_PREFIX = "**Since:** "
# /ask since: the choice's value -> how many days back (None: any date)
SINCE_DAYS: dict[str, int | None] = {"day": 1, "week": 7, "month": 30, "year": 365, "any": None}
SINCE_LABELS = {
    "day": "the past day",
    "week": "the past week",
    "month": "the past month",
    "year": "the past year",
    "any": "any date",
}

COLOR = discord.Colour(0x2B6CB0)
COLOR_MUTED = discord.Colour(0x718096)

URL_MAX = 2048
# discord.utils.escape_markdown leaves `[`, `]`, `(`, `)` and anything inside a URL alone, so a
# title could close the text of the link it is shown in and open its own; and its masked-link
# pattern backtracks (cubic on a crafted passage). This escapes every markdown character, in
# linear time, and stays reversible (`unescape`) for the question kept in an answer.
_MD_SPECIAL = re.compile(r"([\\*_~`|\[\]()<>])")
_MD_LINE_START = re.compile(r"^(\s*)([-#+])", re.MULTILINE)  # lists and headings only there
_MENTION = re.compile(r"@(?=everyone|here)")  # <@id> forms are already broken by escaping `<`
_UNESCAPE = re.compile(r"\\(.)")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
# scheme and host; a host with brackets, spaces or quotes (IPv6 literals included) is not linked
_HTTP_START = re.compile(r"https?://[^\s/?#()\[\]<>`|\\\"'{}^]+(?=[/?#]|$)", re.IGNORECASE)
# what ends a markdown link target (whitespace, `)`, `>`), nests or escapes inside it (`(`, `\`),
# opens a link title (`"`), or is not a URL character at all; a server reads them the same encoded
_URL_UNSAFE = re.compile(r"[\s()\[\]<>`|\\\"{}^]")


def escape(text: str) -> str:
    """Escape markdown characters and mass mentions (a backslashed punctuation mark renders as
    itself)."""
    text = _MENTION.sub(r"\\@", _MD_SPECIAL.sub(r"\\\1", text))
    return _MD_LINE_START.sub(r"\1\\\2", text)


def unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text)


def cut(text: str, limit: int) -> str:
    """`text` if it fits, else cut at the last sentence end (or word) before `limit`, plus "…"."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit < 2:
        return ELLIPSIS[: max(limit, 0)]
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit + 1) if m.end() <= limit - 2]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]] + " " + ELLIPSIS
    space = text.rfind(" ", 0, limit)
    if space >= limit // 2:
        return text[:space].rstrip() + ELLIPSIS
    return text[: limit - 1] + ELLIPSIS


def cut_escaped(text: str, limit: int) -> str:
    """Escape `text` and cut it so the escaped form fits `limit` (never splits an escape)."""
    budget = limit
    while True:
        out = escape(cut(text, budget))
        if len(out) <= limit:
            return out
        budget -= max(1, len(out) - limit)


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode())


def safe_url(url: str | None) -> str | None:
    """An absolute http(s) URL fit to be a link target, or None.

    Characters that could end a markdown link or start another (`)`, `]`, spaces, backticks,
    `||` ...) are percent-encoded, which keeps the address the same for a web server; control
    and invisible formatting characters mean it is not linked at all.
    """
    url = (url or "").strip()
    start = _HTTP_START.match(url) if len(url) <= URL_MAX else None
    if start is None:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in url):
        return None
    safe = start.group() + _URL_UNSAFE.sub(_percent, url[start.end() :])
    return safe if len(safe) <= URL_MAX else None


def parse_day(value: str | None) -> datetime | None:
    """An article's date (an ISO day or time) as a UTC datetime, or None when it is not one."""
    try:
        day = date.fromisoformat((value or "")[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def when(value: str | None) -> str | None:
    """An article's date as members read it: the day, and how long ago in their own locale
    (a Discord timestamp; it renders in descriptions and fields, not in titles or footers)."""
    day = parse_day(value)
    if day is None:
        return cut_escaped(value, 40) if value else None
    return f"{day.date().isoformat()} ({discord.utils.format_dt(day, 'R')})"


def meta_line(source: str | None, date: str | None, article_id: str | None = None) -> str:
    parts = [p for p in (source, (date or "")[:10] or None) if p]
    if article_id:
        parts.append(f"id {article_id}")
    return " · ".join(parts)


def whole_lines(lines: Sequence[str], limit: int) -> str:
    """As many whole lines as fit `limit` (each line must be well under it): a cut inside a line
    could split a link or an escape."""
    out = ""
    for i, line in enumerate(lines):
        if len(out) + len(line) + 40 > limit:  # room for the note
            return out + f"\n… and {len(lines) - i} more"
        out += ("\n" if out else "") + line
    return out


def one_line(text: str) -> str:
    """Error text as one line: a reader's message may carry the input's own line breaks."""
    return " ".join(text.split())


def embeds_size(embeds: Sequence[discord.Embed]) -> int:
    return sum(len(e) for e in embeds)

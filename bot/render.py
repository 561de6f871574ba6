"""Archive results -> Discord embeds, within Discord's limits.

Article text is untrusted: it is markdown-escaped (so a stray `*` or `#` cannot break the layout,
and a title or source cannot open a link of its own), cut at a sentence or word boundary with an
ellipsis, and only http(s) URLs become links, with every character that could end the link or
open another percent-encoded. Mentions inside it never ping: every message is sent with
`AllowedMentions.none()`, and `@everyone`/`@here` are escaped so they do not even look like one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import discord

from archivist.feeds import Feed
from archivist.models import Answer, ArchiveStats, Failed, Hit, IngestReport, StoredArticle

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


# ---- answers ---------------------------------------------------------------------------------


def passage_markdown(hit: Hit, limit: int) -> str:
    """The passage, escaped, with the best-answering sentence in bold, fitted to `limit`."""
    heading = f"__{cut_escaped(hit.heading, 200)}__\n" if hit.heading else ""
    limit -= len(heading)
    text, sentence = hit.passage.strip(), (hit.highlight or "").strip()
    at = text.find(sentence) if sentence else -1
    if at < 0:
        return heading + cut_escaped(text, limit)
    before, after = text[:at], text[at + len(sentence) :].strip()
    lead = ""
    if len(escape(before)) + len(escape(sentence)) + 4 > limit:
        before, lead = "", ELLIPSIS + " "  # keep the bold sentence in view
    out = lead + escape(before)
    out += "**" + cut_escaped(sentence, limit - len(out) - 4) + "**"
    room = limit - len(out) - 1
    if after and room >= 20:
        out += " " + cut_escaped(after, room)
    elif after:
        out += " " + ELLIPSIS if room >= 1 else ""
    return heading + out


def hit_embed(hit: Hit, rank: int, description_limit: int) -> discord.Embed:
    embed = discord.Embed(
        title=f"{rank}. " + cut_escaped(hit.title, TITLE_MAX - len(f"{rank}. ")),
        url=safe_url(hit.url),
        description=passage_markdown(hit, description_limit),
        colour=COLOR,
    )
    footer = hit_footer(hit)
    if footer:
        embed.set_footer(text=cut(footer, FOOTER_MAX))
    return embed


def hit_footer(hit: Hit) -> str:
    """Source, date and id; then where else the story ran (its copies, one hit for all)."""
    footer = meta_line(hit.source, hit.date, hit.article_id)
    if hit.copies:
        sites = dict.fromkeys(c.source or c.title for c in hit.copies)
        footer += "\n" + cut("also in: " + ", ".join(sites), ALSO_IN_MAX)
    return footer


def question_content(question: str, source: str | None, since: str | None = None) -> str:
    """The answer's content line; also where "More results" reads the question back from."""
    content = QUESTION_PREFIX + escape(question)
    if source:
        content += "\n" + SOURCE_PREFIX + escape(source)
    if since and SINCE_DAYS.get(since):
        content += "\n" + SINCE_PREFIX + SINCE_LABELS[since]
    return content[:CONTENT_MAX]


def parse_question_content(content: str) -> tuple[str, str | None] | None:
    lines = content.split("\n")
    if not lines or not lines[0].startswith(QUESTION_PREFIX):
        return None
    question = unescape(lines[0][len(QUESTION_PREFIX) :])
    source = None
    if len(lines) > 1 and lines[1].startswith(SOURCE_PREFIX):
        source = unescape(lines[1][len(SOURCE_PREFIX) :])
    return question, source


def answer_embeds(answer: Answer, *, first_rank: int = 1) -> list[discord.Embed]:
    """One embed per hit; "nothing relevant" with the closest titles on a first page not answered.

    Later pages ("More results") show their hits as they are: they were asked for.
    """
    if not answer.answered and first_rank == 1:
        embed = discord.Embed(
            title="Nothing relevant found",
            description=(
                "No stored article answers this question closely enough. Try other words, or "
                "browse with /recent."
            ),
            colour=COLOR_MUTED,
        )
        # one line per article, numbered as the "Open n" buttons under the reply
        titles = {h.article_id: h.title for h in reversed(answer.hits)}  # first title kept
        lines = [
            f"{n}. {cut_escaped(titles[article_id], 150)} · `/article id:{article_id}`"
            for n, article_id in enumerate(dict.fromkeys(h.article_id for h in answer.hits), 1)
        ][:5]
        if lines:
            embed.description = (
                "No stored article answers this question closely enough. Open one of the closest "
                "articles below, try other words, or browse with /recent."
            )
            value = whole_lines(lines, FIELD_VALUE_MAX)
            embed.add_field(name="Closest articles", value=value, inline=False)
        return [embed]
    hits = answer.hits[:10]
    # Share what the 6000-character budget leaves after titles and footers.
    fixed = sum(TITLE_MAX + len(hit_footer(h)) for i, h in enumerate(hits))
    per_embed = max(100, min(DESCRIPTION_MAX, (EMBEDS_TOTAL_MAX - fixed - 50) // max(1, len(hits))))
    embeds = [hit_embed(h, first_rank + i, per_embed) for i, h in enumerate(hits)]
    while embeds_size(embeds) > EMBEDS_TOTAL_MAX and len(embeds) > 1:  # pathological titles
        embeds.pop()
    return embeds


ADD_ARTICLES = "An admin can add articles with /upload or follow a feed with /feed add."


def no_more_embed() -> discord.Embed:
    return discord.Embed(
        title="No more results",
        description="That was every passage I found. Ask again in other words for more.",
        colour=COLOR_MUTED,
    )


def nothing_since_embed(since: str | None) -> discord.Embed:
    label = SINCE_LABELS.get(since or "", "that time")
    return discord.Embed(
        title=f"Nothing from {label}",
        description="No article dated in that time answers this. Pick a longer `since`, or "
        "`any` to search every date.",
        colour=COLOR_MUTED,
    )


def no_articles_embed() -> discord.Embed:
    return discord.Embed(
        title="This server's archive is empty",
        description=ADD_ARTICLES,
        colour=COLOR_MUTED,
    )


# ---- articles --------------------------------------------------------------------------------


def article_pages(article: StoredArticle) -> list[str]:
    """The article's text (escaped, headings underlined) in pages that fit an embed."""
    blocks: list[str] = []
    last_heading = None
    for p in article.passages:
        if p.heading and p.heading != last_heading:
            blocks.append(f"__{cut_escaped(p.heading, 200)}__")
            last_heading = p.heading
        blocks.append(cut_escaped(p.text, ARTICLE_PAGE_CHARS))
    pages: list[str] = []
    current = ""
    for block in blocks:
        if current and len(current) + 2 + len(block) > ARTICLE_PAGE_CHARS:
            pages.append(current)
            current = ""
        current = f"{current}\n\n{block}" if current else block
    if current or not pages:
        pages.append(current or "*(no text)*")
    return pages


def article_embed(article: StoredArticle, page: int, pages: list[str]) -> discord.Embed:
    page = max(0, min(page, len(pages) - 1))
    embed = discord.Embed(
        title=cut_escaped(article.title, TITLE_MAX),
        url=safe_url(article.url),
        description=pages[page],
        colour=COLOR,
    )
    for name, value in (
        ("Source", cut_escaped(article.source or "", 200)),
        ("Date", when(article.date)),
        ("Category", cut_escaped(article.category or "", 200)),
    ):
        if value:
            embed.add_field(name=name, value=value, inline=True)
    footer = f"id {article.id} · added {article.added_at[:10]}"
    if len(pages) > 1:
        footer += f" · page {page + 1}/{len(pages)}"
    embed.set_footer(text=cut(footer, FOOTER_MAX))
    return embed


def recent_embed(
    articles: Sequence[StoredArticle], *, offset: int, count: int, total: int, source: str | None
) -> discord.Embed:
    if not articles:
        if source:
            return discord.Embed(
                title=f"No articles from “{cut_escaped(source, 200)}”",
                description="Leave out `source` to see every article.",
                colour=COLOR_MUTED,
            )
        return discord.Embed(title="No articles yet", description=ADD_ARTICLES, colour=COLOR_MUTED)
    lines = []
    for i, a in enumerate(articles, start=offset + 1):
        title = cut_escaped(a.title, 150)
        link = safe_url(a.url)
        title = f"[{title}]({link})" if link else title
        meta = " · ".join(p for p in (cut_escaped(a.source or "", 100), when(a.date)) if p)
        lines.append(
            f"**{i}.** {title}\n{meta + ' · ' if meta else ''}`{a.id}`"
        )  # ids: word characters and . : @ / + -
    description = whole_lines(lines, DESCRIPTION_MAX)
    pages = max(1, -(-total // count))
    footer = f"Page {offset // count + 1}/{pages} · {total} articles"
    if source:
        footer += f" · source: {source}"
    embed = discord.Embed(title="Newest articles", description=description, colour=COLOR)
    embed.set_footer(text=cut(footer, FOOTER_MAX))
    return embed


def parse_recent_source(message: discord.Message | None) -> str | None:
    if message is None or not message.embeds or not message.embeds[0].footer.text:
        return None
    m = re.search(r" · source: (.+)$", message.embeds[0].footer.text)
    return m.group(1) if m else None


# ---- admin -----------------------------------------------------------------------------------


def human_bytes(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def stats_embed(stats: ArchiveStats, guild_name: str) -> discord.Embed:
    embed = discord.Embed(title="Archive of " + cut_escaped(guild_name, 200), colour=COLOR)
    embed.add_field(name="Articles", value=str(stats.articles))
    embed.add_field(name="Passages", value=str(stats.passages))
    embed.add_field(
        name="Last upload", value=(stats.last_added_at or "never")[:16].replace("T", " ")
    )
    embed.add_field(name="Index size", value=human_bytes(stats.index_bytes))
    return embed


@dataclass(frozen=True)
class UploadStopped:
    """An upload a stop of the bot ended after a batch: `done` of the input's `total` articles
    were stored (their entries never reached a report); `not_started` inputs were not read."""

    name: str
    done: int
    total: int
    not_started: tuple[str, ...] = ()


def upload_embed(
    report: IngestReport, too_large: Sequence[Failed] = (), stopped: UploadStopped | None = None
) -> discord.Embed:
    failed = list(too_large) + list(report.failed)
    stored = bool(report.added) or (stopped is not None and stopped.done > 0)
    if stopped is not None:
        title = "Upload stopped by a restart"
    else:
        title = "Upload finished" if report.added else "Nothing was added"
    embed = discord.Embed(title=title, colour=COLOR if stored else COLOR_MUTED)
    if stopped is not None:
        embed.description = stopped_text(stopped)

    def listing(items: list[str]) -> str:
        out, used = [], 0
        for i, item in enumerate(items):
            line = f"• {item}"
            rest = len(items) - i
            if used + len(line) + 1 > FIELD_VALUE_MAX - 30:
                out.append(f"… and {rest} more")
                break
            out.append(line)
            used += len(line) + 1
        return "\n".join(out)

    if report.added:
        embed.add_field(
            name=f"Added ({len(report.added)})",
            value=listing([f"{cut_escaped(a.title, 120)} `{a.id}`" for a in report.added]),
            inline=False,
        )
    if report.duplicates:
        embed.add_field(
            name=f"Already in the archive ({len(report.duplicates)})",
            value=listing(
                [f"{cut_escaped(d.title, 120)} `{d.existing_id}`" for d in report.duplicates]
            ),
            inline=False,
        )
    if failed:
        embed.add_field(
            name=f"Failed ({len(failed)})",
            value=listing(
                [
                    f"{cut_escaped(one_line(f.path), 80)}: {cut_escaped(one_line(f.error), 200)}"
                    for f in failed
                ]
            ),
            inline=False,
        )
    if report.skipped:
        embed.add_field(
            name=f"Skipped ({len(report.skipped)})",
            value=listing(
                [
                    f"{cut_escaped(one_line(s.path), 80)}: {cut_escaped(one_line(s.reason), 120)}"
                    for s in report.skipped
                ]
            ),
            inline=False,
        )
    if not embed.fields and stopped is None:
        embed.description = (
            "The files held no articles: upload text, Markdown, HTML, PDF, Word (.docx), JSON "
            "or ZIP files."
        )
    return embed


def stopped_text(stopped: UploadStopped) -> str:
    text = (
        f"{cut_escaped(one_line(stopped.name), 80)}: Stored {stopped.done} of {stopped.total} "
        "articles before the restart; upload the same file again to add the rest."
    )
    if stopped.not_started:
        names = ", ".join(cut_escaped(one_line(n), 80) for n in stopped.not_started)
        text += f"\nNot read before the restart (upload them again too): {names}"
    return text


def feed_added_embed(feed: Feed, report: IngestReport, interval_min: float) -> discord.Embed:
    """A feed just followed: what its first poll stored (the upload summary's fields)."""
    embed = upload_embed(report)
    embed.title = "Following " + cut_escaped(feed.name, 200)
    embed.url = safe_url(feed.url)
    embed.colour = COLOR
    embed.description = (
        f"Feed `{feed.id}` · checked every {interval_min:g} minutes; new articles get the "
        f"source “{cut_escaped(feed.name, 100)}”."
    )
    if not report.added and not report.duplicates and not report.failed:
        embed.description += "\nIt has no items yet: new ones are stored as they appear."
    return embed


def feeds_embed(feeds: Sequence[Feed], interval_min: float) -> discord.Embed:
    if not feeds:
        return discord.Embed(
            title="No feeds",
            description="An admin can follow an RSS or Atom feed with `/feed add`.",
            colour=COLOR_MUTED,
        )
    lines = []
    for f in feeds:
        polled = (f.last_polled_at or "never")[:16].replace("T", " ")
        link = safe_url(f.url)
        name = cut_escaped(f.name, 100)
        line = f"`{f.id}` **{f'[{name}]({link})' if link else name}**\n"
        line += f"polled {polled} · {f.items_seen} items seen"
        if f.last_error:
            line += f"\n⚠ {cut_escaped(f.last_error, 200)}"
        lines.append(line)
    description = whole_lines(lines, DESCRIPTION_MAX)
    embed = discord.Embed(title=f"Feeds ({len(feeds)})", description=description, colour=COLOR)
    embed.set_footer(text=f"Checked every {interval_min:g} minutes · /feed remove to stop one")
    return embed


def watch_text(where: str, watched: bool, changed: bool, *, forum: bool = False) -> str:
    """/channel watch|unwatch: what now happens in `where` (a channel mention)."""
    if watched and not changed:
        return (
            f"I already answer questions in {where}. `/channel list` shows every watched channel."
        )
    if watched and forum:
        return (
            f"I now answer each new post in {where}, in the post's own thread, when the archive "
            "has an answer. `/channel unwatch` stops it."
        )
    if watched:
        return (
            f"I now answer questions (messages ending in “?”) in {where} and its threads, when "
            "the archive has an answer; otherwise I stay quiet. `/channel unwatch` stops it."
        )
    if not changed:
        return f"I was not watching {where}. `/channel list` shows the watched channels."
    return (
        f"I no longer answer plain questions in {where}; members can still mention me or use /ask."
    )


def watched_text(channel_ids: Sequence[int]) -> str:
    """/channel list."""
    if not channel_ids:
        return (
            "I watch no channel here. `/channel watch` picks one; mentions and /ask work anywhere."
        )
    lines = "\n".join(f"• <#{cid}>" for cid in channel_ids)
    return (
        f"I answer questions without a mention in these channels (and their threads):\n{lines}\n"
        "`/channel unwatch` stops one."
    )


def progress_text(done: int, total: int, file_name: str) -> str:
    return f"Storing articles from {cut_escaped(file_name, 100)}: {done}/{total}…"


# ---- help ------------------------------------------------------------------------------------

HELP_MEMBER = (
    (
        "/ask",
        "`/ask question: when does the ferry run?` answers from this server's articles; "
        "`count` gives more passages, `source` keeps to one source (pick it as you type), "
        "`since` to a period (past day, week, month, year), `private: True` shows the answer "
        "to you alone.",
    ),
    (
        "/recent",
        "`/recent` lists the newest articles; `/recent source: Harbour Gazette` one source.",
    ),
    (
        "/article",
        "`/article id: …` opens an article: type a title word and pick it; `private: True` "
        "for you alone.",
    ),
    (
        "Search the archive",
        "Right-click (or long-press) a message > Apps > Search the archive: that message is "
        "the question, and the answer is shown to you alone.",
    ),
    (
        "@mention",
        "Mention me with a question, e.g. “@Archivist when is the vote?”; mention me in a "
        "reply to a message to ask about that message; reply to my answer to ask more.",
    ),
    ("/stats", "`/stats` shows this server's figures."),
)
# Only what the bot does today: a feature is named here when it ships.
HELP_ADMIN = (
    "`/upload` files (text, Markdown, HTML, PDF, Word, JSON, ZIP) or a web page · `/delete` an "
    "article · `/feed add|list|remove` RSS and Atom feeds · `/channel watch|unwatch|list` "
    "answer questions in a channel and its threads, or each post of a forum, without a "
    "mention (only when the archive has an answer) · `/insights` what members could not find · "
    "`/settings` admin role, default source, threads, question logging, feed announcements"
)


def help_embed(*, logs_questions: bool, links: Sequence[tuple[str, str]] = ()) -> discord.Embed:
    """/help: what the bot does, each command with an example, what admins can do, what is
    stored about members, and the links (label, URL)."""
    embed = discord.Embed(
        title="Archivist",
        description="I answer questions from the news articles stored for this server, quoting "
        "the passages that answer them. Only this server's articles are searched.",
        colour=COLOR,
    )
    for name, value in HELP_MEMBER:
        embed.add_field(name=name, value=value, inline=False)
    embed.add_field(name="Admins", value=HELP_ADMIN, inline=False)
    stored = (
        "The questions asked here (not who asked them), kept 90 days so admins can see what "
        "members could not find; question logging is a setting (`/settings logging`)."
        if logs_questions
        else "No questions: a question is answered and not kept. An upload records who made it."
    )
    # votes are kept with the member's id: one vote per member per answer
    stored += (
        " Your 👍/👎 on an answer is kept with your id, so you vote once. "
        "Admins erase questions and votes with `/insights clear: True`."
    )
    embed.add_field(name="What is stored about you", value=stored, inline=False)
    shown = [f"[{cut_escaped(label, 80)}]({url})" for label, url in links if safe_url(url) == url]
    if shown:
        embed.add_field(name="Links", value=" · ".join(shown)[:FIELD_VALUE_MAX], inline=False)
    return embed


WELCOME = "Hello! I answer questions from this server's news articles. Type /help to see how."

"""An answer as embeds: each hit with its passage, highlight, citation and copies."""

from __future__ import annotations

import discord

from archivist.models import Answer, Hit
from bot.render.text import (
    ALSO_IN_MAX,
    COLOR,
    COLOR_MUTED,
    CONTENT_MAX,
    DESCRIPTION_MAX,
    ELLIPSIS,
    EMBEDS_TOTAL_MAX,
    FIELD_VALUE_MAX,
    FOOTER_MAX,
    QUESTION_PREFIX,
    SINCE_DAYS,
    SINCE_LABELS,
    SINCE_PREFIX,
    SOURCE_PREFIX,
    TITLE_MAX,
    cut,
    cut_escaped,
    embeds_size,
    escape,
    meta_line,
    safe_url,
    unescape,
    whole_lines,
)

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

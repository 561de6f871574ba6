"""/help and the welcome a new server gets."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.render.text import COLOR, FIELD_VALUE_MAX, cut_escaped, safe_url

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

"""Admins' replies: stats, uploads (and an upload a restart stopped), feeds, watched channels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import discord

from archivist.feeds import Feed
from archivist.models import ArchiveStats, Failed, IngestReport
from bot.render.text import (
    COLOR,
    COLOR_MUTED,
    DESCRIPTION_MAX,
    FIELD_VALUE_MAX,
    cut_escaped,
    one_line,
    safe_url,
    whole_lines,
)

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

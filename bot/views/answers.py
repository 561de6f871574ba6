"""An answer's reply: its embeds, "More results", the buttons that open the listed articles."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot import render
from bot.feedback import add_vote_buttons, log_question_later
from bot.views.articles import ShowArticle
from bot.views.common import (
    EXPIRED,
    bot_of,
    check_cooldown,
    fits,
    guarded,
    send_kwargs,
    since_date,
)

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")


async def answer_reply(
    bot: ArchivistBot,
    guild_id: int,
    question: str,
    count: int,
    source: str | None,
    offset: int = 0,
    since: str | None = None,
) -> dict[str, Any]:
    """content/embeds/view for an answer (slash command, mention, reply, context menu or "More
    results"), and `answered`: whether a passage answers it (watched channels stay silent
    otherwise). `since` is a key of `render.SINCE_DAYS`."""
    collection = str(guild_id)
    answer = await bot.offload(
        bot.archive.ask,
        question,
        count,
        collection=collection,
        source=source,
        since=since_date(since),
        offset=offset,
    )
    if offset == 0:  # "More results" is the same question, not a new one
        bot.metrics.answered(answer)
    answer_id = (
        log_question_later(bot, collection, question, answer.answered) if not offset else None
    )
    content = render.question_content(question, source, since)
    reply: dict[str, Any] = {"content": content, "view": None, "answered": answer.answered}
    if not answer.hits and offset == 0:
        total = await bot.offload(bot.archive.count, collection=collection)
        if total == 0:
            return reply | {"embeds": [render.no_articles_embed()]}
        if since_date(since):
            return reply | {"embeds": [render.nothing_since_embed(since)]}
    if not answer.hits:
        return reply | {"embeds": [render.no_more_embed()]}
    embeds = render.answer_embeds(answer, first_rank=offset + 1)
    view = discord.ui.View(timeout=None)
    if answer.answered or offset > 0:
        for rank, article_id in _distinct_articles(answer.hits[: len(embeds)], offset + 1):
            view.add_item(ShowArticle(article_id, f"Show article {rank}"))
        if len(answer.hits) >= count:
            more = MoreResults(offset + count, count, since)
            view.add_item(more)
    else:  # "nothing relevant": the closest titles it lists open with a click
        for n, (_, article_id) in enumerate(_distinct_articles(answer.hits, 1), start=1):
            title = next(h.title for h in answer.hits if h.article_id == article_id)
            view.add_item(ShowArticle(article_id, f"Open {n}: {title}"))
    if answer_id is not None:
        add_vote_buttons(view, answer_id)
    return reply | {"embeds": embeds, "view": view if view.children else None}


def _distinct_articles(hits: Any, first_rank: int) -> list[tuple[int, str]]:
    """(rank, article id) of the first five distinct articles whose button id fits."""
    out: list[tuple[int, str]] = []
    for rank, hit in enumerate(hits, start=first_rank):
        if len(out) >= 5:
            break
        if all(hit.article_id != seen for _, seen in out) and fits(
            f"archivist:show:{hit.article_id}"
        ):
            out.append((rank, hit.article_id))
    return out


class MoreResults(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"archivist:more:(?P<offset>\d{1,4}):(?P<count>\d{1,2})(?::(?P<since>[a-z]{1,8}))?",
):
    """Always answers privately: the next results are for whoever asks for them, and the
    public answer stays as the channel read it."""

    def __init__(self, offset: int, count: int, since: str | None = None) -> None:
        since = since if since in render.SINCE_DAYS and render.SINCE_DAYS[since] else None
        super().__init__(
            discord.ui.Button(
                label="More results",
                style=discord.ButtonStyle.primary,
                row=1,
                custom_id=f"archivist:more:{offset}:{count}" + (f":{since}" if since else ""),
            )
        )
        self.offset, self.count, self.since = offset, count, since

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(int(match["offset"]), int(match["count"]), match["since"])

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            asked = render.parse_question_content(
                interaction.message.content if interaction.message else ""
            )
            if asked is None or interaction.guild_id is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True)
                return
            check_cooldown(interaction, "ask")
            await interaction.response.defer(ephemeral=True, thinking=True)
            question, source = asked
            reply = await answer_reply(
                bot_of(interaction),
                interaction.guild_id,
                question,
                self.count,
                source,
                self.offset,
                self.since,
            )
            await interaction.followup.send(ephemeral=True, **send_kwargs(reply))

        await guarded(interaction, work)


# ---- articles --------------------------------------------------------------------------------

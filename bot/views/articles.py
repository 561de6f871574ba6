"""Articles in Discord: an article page by page, the recent list, the delete confirmation."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from archivist.errors import ArchivistError
from bot import render
from bot.errors import require_admin
from bot.views.common import (
    NO_PINGS,
    bot_of,
    button_label,
    check_cooldown,
    fits,
    guarded,
    send_kwargs,
    server_of,
    turn_page,
)

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")


async def article_reply(
    bot: ArchivistBot, guild_id: int, article_id: str, page: int
) -> dict[str, Any]:
    article = await bot.offload(bot.archive.get, article_id, collection=str(guild_id))
    pages = render.article_pages(article)
    page = max(0, min(page, len(pages) - 1))
    view = discord.ui.View(timeout=None)
    if len(pages) > 1:
        prev = ArticlePage(max(0, page - 1), article.id, "Previous", disabled=page == 0)
        nxt = ArticlePage(
            min(len(pages) - 1, page + 1), article.id, "Next", disabled=page == len(pages) - 1
        )
        if prev.custom_id == nxt.custom_id:  # unreachable with 2+ pages; ids must be unique
            nxt = ArticlePage(page + 1, article.id, "Next", disabled=True)
        if fits(prev.custom_id) and fits(nxt.custom_id):
            view.add_item(prev)
            view.add_item(nxt)
    return {
        "content": None,
        "embeds": [render.article_embed(article, page, pages)],
        "view": view if view.children else None,
    }


class ShowArticle(discord.ui.DynamicItem[discord.ui.Button], template=r"archivist:show:(?P<id>.+)"):
    def __init__(self, article_id: str, label: str = "Show article") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[: render.BUTTON_LABEL_MAX],
                style=discord.ButtonStyle.secondary,
                custom_id=f"archivist:show:{article_id}",
                row=0,
            )
        )
        self.article_id = article_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(match["id"], button_label(item, "Show article"))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            guild_id = await server_of(interaction)
            if guild_id is None:
                return
            check_cooldown(interaction, "browse")
            await interaction.response.defer(ephemeral=True, thinking=True)
            reply = await article_reply(bot_of(interaction), guild_id, self.article_id, 0)
            await interaction.followup.send(ephemeral=True, **send_kwargs(reply))

        await guarded(interaction, work)


class ArticlePage(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"archivist:page:(?P<page>\d{1,4}):(?P<id>.+)",
):
    def __init__(self, page: int, article_id: str, label: str, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, disabled=disabled, custom_id=f"archivist:page:{page}:{article_id}"
            )
        )
        self.page, self.article_id = page, article_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(int(match["page"]), match["id"], button_label(item, "Page"))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            if await server_of(interaction) is None:
                return
            check_cooldown(interaction, "browse")
            await turn_page(
                interaction,
                lambda guild_id: article_reply(
                    bot_of(interaction), guild_id, self.article_id, self.page
                ),
            )

        await guarded(interaction, work)


# ---- recent ----------------------------------------------------------------------------------


async def recent_reply(
    bot: ArchivistBot, guild_id: int, offset: int, count: int, source: str | None
) -> dict[str, Any]:
    collection = str(guild_id)
    total = await bot.offload(bot.archive.count, collection=collection, source=source)
    offset = max(0, min(offset, max(0, total - 1) // count * count))
    articles = await bot.offload(
        bot.archive.recent, collection=collection, limit=count, offset=offset, source=source
    )
    embed = render.recent_embed(articles, offset=offset, count=count, total=total, source=source)
    view = discord.ui.View(timeout=None)
    if total > count:
        view.add_item(RecentPage(max(0, offset - count), count, "Newer", disabled=offset == 0))
        view.add_item(RecentPage(offset + count, count, "Older", disabled=offset + count >= total))
    return {"content": None, "embeds": [embed], "view": view if view.children else None}


class RecentPage(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"archivist:recent:(?P<offset>\d{1,6}):(?P<count>\d{1,2})",
):
    def __init__(self, offset: int, count: int, label: str, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, disabled=disabled, custom_id=f"archivist:recent:{offset}:{count}"
            )
        )
        self.offset, self.count = offset, count

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(int(match["offset"]), max(1, int(match["count"])), button_label(item, "Page"))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            if await server_of(interaction) is None:
                return
            check_cooldown(interaction, "browse")
            source = render.parse_recent_source(interaction.message)
            await turn_page(
                interaction,
                lambda guild_id: recent_reply(
                    bot_of(interaction), guild_id, self.offset, self.count, source
                ),
            )

        await guarded(interaction, work)


# ---- delete ----------------------------------------------------------------------------------


class ConfirmDelete(
    discord.ui.DynamicItem[discord.ui.Button], template=r"archivist:delete:(?P<id>.+)"
):
    def __init__(self, article_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete",
                style=discord.ButtonStyle.danger,
                custom_id=f"archivist:delete:{article_id}",
            )
        )
        self.article_id = article_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            bot = bot_of(interaction)
            guild_id = await server_of(interaction)
            if guild_id is None:
                return
            await require_admin(interaction)  # the button is a command too
            await interaction.response.defer()
            article = await bot.offload(
                bot.archive.delete, self.article_id, collection=str(guild_id)
            )
            await interaction.edit_original_response(
                content=f"Deleted **{render.cut_escaped(article.title, 200)}** (`{article.id}`).",
                embeds=[],
                view=None,
                allowed_mentions=NO_PINGS,
            )

        await guarded(interaction, work)


class CancelDelete(discord.ui.DynamicItem[discord.ui.Button], template=r"archivist:cancel"):
    def __init__(self) -> None:
        super().__init__(discord.ui.Button(label="Keep it", custom_id="archivist:cancel"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            await interaction.response.edit_message(
                content="Nothing was deleted.", embeds=[], view=None, allowed_mentions=NO_PINGS
            )

        await guarded(interaction, work)


def delete_prompt(article_id: str, title: str) -> dict[str, Any]:
    view = discord.ui.View(timeout=None)
    confirm = ConfirmDelete(article_id)
    if not fits(confirm.custom_id):
        raise ArchivistError(
            "This article id is too long to delete from Discord: delete it with the archivist "
            "command line."
        )
    view.add_item(confirm)
    view.add_item(CancelDelete())
    embed = discord.Embed(
        title="Delete this article?",
        description=render.cut_escaped(title, 1000),
        colour=render.COLOR_MUTED,
    )
    embed.set_footer(text=f"id {article_id}")
    return {"content": None, "embeds": [embed], "view": view}

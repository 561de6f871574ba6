"""Replies with buttons that keep working after a restart.

Every button is a `DynamicItem` whose custom id carries its state (`archivist:more:3:3`,
`archivist:page:2:<article id>`...); what does not fit in 100 characters (the question) is read
back from the message the button is on. A button the bot no longer knows says it expired.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from archivist.errors import ArchivistError
from bot import render
from bot.errors import report_error, require_admin
from bot.feedback import Vote, add_vote_buttons, log_question_later

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

NO_PINGS = discord.AllowedMentions.none()
EXPIRED = "This button has expired. Run the command again."


def _bot(interaction: discord.Interaction) -> ArchivistBot:
    return interaction.client  # type: ignore[return-value]


async def _guarded(interaction: discord.Interaction, work: Callable[[], Awaitable[None]]) -> None:
    """Buttons share the slash commands' error handling."""
    try:
        await work()
    except Exception as error:  # noqa: BLE001 - reported to the user and logged
        await report_error(interaction, error)


# Per bot, per kind of button: a cooldown mapping keyed by member. Buttons that run an ask or read
# the archive cost what the commands cost, so they get the ask cooldown: "More results" its own
# bucket, and the browsing buttons (show, pages) one between them, so reading an article page
# by page does not use up the member's next "More results".
_cooldowns: weakref.WeakKeyDictionary[Any, dict[str, commands.CooldownMapping]] = (
    weakref.WeakKeyDictionary()
)


def _member(interaction: discord.Interaction) -> int:
    return interaction.user.id


def check_cooldown(interaction: discord.Interaction, kind: str) -> None:
    """Raise CommandOnCooldown (told to the member alone) when they click faster than allowed."""
    bot = _bot(interaction)
    mappings = _cooldowns.setdefault(bot, {})
    if kind not in mappings:
        rate, per = bot.ask_cooldown_spec
        mappings[kind] = commands.CooldownMapping(app_commands.Cooldown(rate, per), _member)
    bucket = mappings[kind].get_bucket(interaction)  # type: ignore[arg-type]
    retry_after = bucket.update_rate_limit() if bucket is not None else None
    if retry_after:
        raise app_commands.CommandOnCooldown(bucket, retry_after)  # type: ignore[arg-type]


def _fits(custom_id: str) -> bool:
    return len(custom_id) <= render.CUSTOM_ID_MAX


def for_someone_else(interaction: discord.Interaction) -> bool:
    """Whether a button was pressed on a public reply by someone other than the member it
    answered: turning its pages would change what the whole channel reads."""
    message = interaction.message
    if message is None or message.flags.ephemeral:
        return False
    meta = message.interaction_metadata
    return meta is None or meta.user.id != interaction.user.id


async def turn_page(
    interaction: discord.Interaction, page: Callable[[int], Awaitable[dict[str, Any]]]
) -> None:
    """Show another page: in place for the member the reply is for (or on a private reply), as
    a private copy for anyone else, so the public message stays as the channel reads it."""
    assert interaction.guild_id is not None
    private = for_someone_else(interaction)
    await interaction.response.defer(ephemeral=private, thinking=private)
    reply = await page(interaction.guild_id)
    if private:
        await interaction.followup.send(ephemeral=True, **_send_kwargs(reply))
    else:
        await interaction.edit_original_response(
            embeds=reply["embeds"], view=reply["view"], allowed_mentions=NO_PINGS
        )


def since_date(key: str | None, now: datetime | None = None) -> str | None:
    """The ISO day a `since` choice starts at (None for "any")."""
    days = render.SINCE_DAYS.get(key or "")
    if not days:
        return None
    return ((now or datetime.now(UTC)) - timedelta(days=days)).date().isoformat()


# ---- answers ---------------------------------------------------------------------------------


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
        if all(hit.article_id != seen for _, seen in out) and _fits(
            f"archivist:show:{hit.article_id}"
        ):
            out.append((rank, hit.article_id))
    return out


def _send_kwargs(reply: dict[str, Any]) -> dict[str, Any]:
    out = {"content": reply["content"], "embeds": reply["embeds"], "allowed_mentions": NO_PINGS}
    if reply.get("view") is not None:
        out["view"] = reply["view"]
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
                _bot(interaction),
                interaction.guild_id,
                question,
                self.count,
                source,
                self.offset,
                self.since,
            )
            await interaction.followup.send(ephemeral=True, **_send_kwargs(reply))

        await _guarded(interaction, work)


# ---- articles --------------------------------------------------------------------------------


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
        if _fits(prev.custom_id) and _fits(nxt.custom_id):
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
        return cls(match["id"], _label(item, "Show article"))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            if interaction.guild_id is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True)
                return
            check_cooldown(interaction, "browse")
            await interaction.response.defer(ephemeral=True, thinking=True)
            reply = await article_reply(_bot(interaction), interaction.guild_id, self.article_id, 0)
            await interaction.followup.send(ephemeral=True, **_send_kwargs(reply))

        await _guarded(interaction, work)


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
        return cls(int(match["page"]), match["id"], _label(item, "Page"))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            if interaction.guild_id is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True)
                return
            check_cooldown(interaction, "browse")
            await turn_page(
                interaction,
                lambda guild_id: article_reply(
                    _bot(interaction), guild_id, self.article_id, self.page
                ),
            )

        await _guarded(interaction, work)


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
        return cls(int(match["offset"]), max(1, int(match["count"])), _label(item, "Page"))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        async def work() -> None:
            if interaction.guild_id is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True)
                return
            check_cooldown(interaction, "browse")
            source = render.parse_recent_source(interaction.message)
            await turn_page(
                interaction,
                lambda guild_id: recent_reply(
                    _bot(interaction), guild_id, self.offset, self.count, source
                ),
            )

        await _guarded(interaction, work)


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
            bot = _bot(interaction)
            if interaction.guild_id is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True)
                return
            require_admin(interaction)  # the button is a command too
            await interaction.response.defer()
            article = await bot.offload(
                bot.archive.delete, self.article_id, collection=str(interaction.guild_id)
            )
            await interaction.edit_original_response(
                content=f"Deleted **{render.cut_escaped(article.title, 200)}** (`{article.id}`).",
                embeds=[],
                view=None,
                allowed_mentions=NO_PINGS,
            )

        await _guarded(interaction, work)


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

        await _guarded(interaction, work)


def delete_prompt(article_id: str, title: str) -> dict[str, Any]:
    view = discord.ui.View(timeout=None)
    confirm = ConfirmDelete(article_id)
    if not _fits(confirm.custom_id):
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


# ---- anything else -------------------------------------------------------------------------


class Expired(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"archivist:(?!(?:more|show|page|recent|delete|vote):|cancel$).*",
):
    """Buttons of an older version of the bot: say so instead of failing silently."""

    def __init__(self, custom_id: str) -> None:
        super().__init__(discord.ui.Button(label="expired", custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)


DYNAMIC_ITEMS = (
    MoreResults,
    ShowArticle,
    ArticlePage,
    RecentPage,
    ConfirmDelete,
    CancelDelete,
    Vote,
    Expired,
)


def _label(item: discord.ui.Item[Any], default: str) -> str:
    """The label of the button a persistent item was rebuilt from."""
    return getattr(item, "label", None) or default

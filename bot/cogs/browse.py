"""/recent, /article and /stats: reading this server's archive."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.views import NO_PINGS, article_reply, recent_reply, send_kwargs
from bot.views.common import bot_of

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

CHOICE_NAME_MAX = 100  # Discord's limit on an autocomplete choice's name
SOURCES_SHOWN = 10  # in the unknown-source message; autocomplete offers them all
# The invite's permissions, as in docs/discord.md: threads need Create Public Threads and Send
# Messages in Threads (watched forums are answered in each post's thread).
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    read_message_history=True,
)
T = TypeVar("T")


# ---- autocomplete, shared with /delete, /ask --------------------------------------------------


async def _suggest(
    interaction: discord.Interaction, work: Callable[[], Awaitable[Sequence[T]]]
) -> Sequence[T]:
    """Autocomplete offers nothing rather than fail: Discord shows "loading options failed"
    for an unanswered one, and the member can still type the value."""
    try:
        return await work()
    except Exception:  # noqa: BLE001 - logged; an empty list is the answer
        name = interaction.command.qualified_name if interaction.command else "?"
        log.exception("autocomplete of /%s failed", name)
        return []


async def article_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """This server's articles by id prefix or title words, newest first: Choice(title, id)."""
    if interaction.guild_id is None:
        return []
    bot, collection = bot_of(interaction), str(interaction.guild_id)
    hints = await _suggest(
        interaction, lambda: bot.offload(bot.archive.suggest_articles, collection, current)
    )
    return [
        app_commands.Choice(name=render.cut(h.title, CHOICE_NAME_MAX) or h.id, value=h.id)
        for h in hints
    ]


async def source_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """This server's sources, those with the most articles first."""
    if interaction.guild_id is None:
        return []
    bot, collection = bot_of(interaction), str(interaction.guild_id)
    found = await _suggest(
        interaction, lambda: bot.offload(bot.archive.sources, collection, current)
    )
    return [
        app_commands.Choice(name=render.cut(s.name, CHOICE_NAME_MAX), value=s.name[:100])
        for s in found
    ]


async def refuse_unknown_source(
    bot: ArchivistBot, interaction: discord.Interaction, source: str | None
) -> bool:
    """Tell the member alone, before any deferral, that no article has this source (and which
    sources there are); True when it did. A typo otherwise reads as "nothing found"."""
    if not source or interaction.guild_id is None:
        return False
    collection = str(interaction.guild_id)
    if await bot.offload(bot.archive.count, collection=collection, source=source):
        return False
    known = await bot.offload(bot.archive.sources, collection, "", SOURCES_SHOWN)
    await interaction.response.send_message(
        unknown_source_text(source, [s.name for s in known]),
        ephemeral=True,
        allowed_mentions=NO_PINGS,
    )
    return True


def unknown_source_text(source: str, known: list[str]) -> str:
    text = f"No articles from “{render.cut_escaped(source, 100)}” here."
    if not known:
        return text + " This server's archive has no sources yet: an admin can add articles."
    names = ", ".join(render.cut_escaped(n, 60) for n in known)
    return f"{text} Sources: {names}. Pick one from the list as you type `source`."


def help_links(bot: ArchivistBot) -> list[tuple[str, str]]:
    if bot.application_id is None:
        return []
    invite = discord.utils.oauth_url(
        bot.application_id,
        permissions=INVITE_PERMISSIONS,
        scopes=("bot", "applications.commands"),
    )
    return [("Add me to another server", invite)]


class Browse(commands.Cog):
    def __init__(self, bot: ArchivistBot) -> None:
        self.bot = bot
        # A server that removes and re-adds the bot, or comes back after an outage that
        # discord.py reads as a join, is greeted once per run.
        self.welcomed: set[int] = set()

    @app_commands.command(name="help")
    async def show_help(self, interaction: discord.Interaction) -> None:
        """What I do, each command with an example, and what is stored about you."""
        logs = False
        if interaction.guild_id is not None:
            settings = await self.bot.offload(
                self.bot.archive.server_settings, str(interaction.guild_id)
            )
            logs = settings.question_logging
        embed = render.help_embed(logs_questions=logs, links=help_links(self.bot))
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_PINGS
        )

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """One short welcome in the system channel, only where the bot may speak."""
        channel = guild.system_channel
        if guild.id in self.welcomed or channel is None:
            return
        if not channel.permissions_for(guild.me).send_messages:
            return
        self.welcomed.add(guild.id)
        try:
            await channel.send(render.WELCOME, allowed_mentions=NO_PINGS)
        except discord.HTTPException:  # a welcome that fails is not worth a second try
            log.warning("could not post the welcome in server %s", guild.id, exc_info=True)

    @app_commands.command(name="recent")
    @app_commands.guild_only()
    async def recent(
        self,
        interaction: discord.Interaction,
        count: app_commands.Range[int, 1, 20] = 10,
        source: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """This server's newest articles.

        Parameters
        ----------
        count: How many articles per page (1-20)
        source: Only articles from this source
        """
        assert interaction.guild_id is not None
        if await refuse_unknown_source(self.bot, interaction, source):
            return
        await interaction.response.defer(thinking=True)
        reply = await recent_reply(self.bot, interaction.guild_id, 0, count, source)
        await interaction.followup.send(**send_kwargs(reply))

    @recent.autocomplete("source")
    async def recent_source(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await source_choices(interaction, current)

    @app_commands.command(name="article")
    @app_commands.guild_only()
    async def article(
        self,
        interaction: discord.Interaction,
        id: app_commands.Range[str, 1, 200],
        page: app_commands.Range[int, 1, 1000] = 1,
        private: bool = False,
    ) -> None:
        """Read one article of this server's archive.

        Parameters
        ----------
        id: A word of its title, or its id (shown by /recent and under each answer)
        page: Which page of the article
        private: Show the article to you alone
        """
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=private, thinking=True)
        reply = await article_reply(self.bot, interaction.guild_id, id.strip(), page - 1)
        await interaction.followup.send(ephemeral=private, **send_kwargs(reply))

    @article.autocomplete("id")
    async def article_id(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(interaction, current)

    @app_commands.command(name="stats")
    @app_commands.guild_only()
    async def stats(self, interaction: discord.Interaction) -> None:
        """How many articles this server's archive holds, and its size."""
        assert interaction.guild is not None
        await interaction.response.defer(thinking=True)
        stats = await self.bot.offload(self.bot.archive.stats, collection=str(interaction.guild.id))
        embed = render.stats_embed(stats, interaction.guild.name)
        await interaction.followup.send(
            embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )


async def setup(bot: ArchivistBot) -> None:
    await bot.add_cog(Browse(bot))

"""/feed add|list|remove: follow RSS and Atom feeds, per server (admins).

The polling itself is the core's `FeedScheduler`, started in the bot's `setup_hook`; new articles
are simply stored. Every command runs the fetching and storing in a worker thread.

A feed failing poll after poll is disabled by the scheduler; this cog then posts one message in
the channel where `/feed add` was run (recorded with the feed), and `/feed list` shows every
feed's state: a failing streak with its next try, or why it was disabled.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from archivist import feeds
from bot import render
from bot.errors import require_admin
from bot.views import NO_PINGS

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

CHOICES_MAX = 25  # Discord's limits on an autocomplete answer
CHOICE_NAME_MAX = 100


class Feeds(commands.Cog):
    def __init__(self, bot: ArchivistBot) -> None:
        self.bot = bot

    feed = app_commands.Group(
        name="feed",
        description="Follow RSS and Atom feeds: new articles are stored (admins)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @feed.command(name="add")
    @app_commands.check(require_admin)
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        name: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """Follow an RSS or Atom feed; its new articles are stored on a schedule.

        Parameters
        ----------
        url: The feed's address (or a page that announces its feed)
        name: The name to record as the articles' source (default: the feed's title)
        """
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        feed, report = await self.bot.offload_intake(
            feeds.add_feed,
            self.bot.archive,
            url.strip(),
            collection=str(interaction.guild_id),
            name=name,
            added_by=str(interaction.user.id),
            added_in=str(interaction.channel_id) if interaction.channel_id else None,
            allow_private=self.bot.settings.allow_private_urls,
            cancel=self.bot.feeds.cancel if self.bot.feeds else None,  # stops on shutdown
        )
        log.info(
            "feed %d added in %s by %s: %d added, %d failed",
            feed.id,
            interaction.guild_id,
            interaction.user.id,
            len(report.added),
            len(report.failed),
        )
        embed = render.feed_added_embed(feed, report, self.bot.settings.feed_interval_min)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @feed.command(name="list")
    @app_commands.check(require_admin)
    async def list_(self, interaction: discord.Interaction) -> None:
        """The feeds this server follows."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await self.bot.offload(
            feeds.list_feeds, self.bot.archive, collection=str(interaction.guild_id)
        )
        embed = render.feeds_embed(
            [_with_state(f) for f in found], self.bot.settings.feed_interval_min
        )
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)

    @feed.command(name="remove")
    @app_commands.check(require_admin)
    async def remove(
        self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]
    ) -> None:
        """Stop following a feed (the articles it brought stay).

        Parameters
        ----------
        feed: Its name, URL or id (shown by /feed list)
        """
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.bot.offload(
            feeds.remove_feed, self.bot.archive, feed, collection=str(interaction.guild_id)
        )
        await interaction.followup.send(
            f"Stopped following **{render.cut_escaped(removed.name, 100)}** (`{removed.id}`). "
            "The articles it brought stay in the archive.",
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @remove.autocomplete("feed")
    @app_commands.check(require_admin)
    async def remove_feed_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """This server's feeds whose name, URL or id holds the typed text."""
        if interaction.guild_id is None:
            return []
        try:
            found = await self.bot.offload(
                feeds.list_feeds, self.bot.archive, collection=str(interaction.guild_id)
            )
        except Exception:  # noqa: BLE001 - Discord shows an unanswered autocomplete as an error
            log.exception("autocomplete of /feed remove failed")
            return []
        typed = current.strip().casefold()
        matching = [
            f
            for f in found
            if not typed
            or typed in f.name.casefold()
            or typed in f.url.casefold()
            or str(f.id).startswith(typed)
        ]
        return [
            app_commands.Choice(
                name=render.cut(f"{f.name} ({f.url})", CHOICE_NAME_MAX), value=str(f.id)
            )
            for f in matching[:CHOICES_MAX]
        ]

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # The scheduler is made in setup_hook, after the cogs are loaded: hook in once it runs.
        scheduler = self.bot.feeds
        if scheduler is not None and scheduler.on_disabled is None:
            scheduler.on_disabled = self.announce_disabled

    async def announce_disabled(self, feed: feeds.Feed) -> None:
        """Tell the channel the feed was added in that it is no longer polled. Once: a disabled
        feed is not polled again. Without that channel, `/feed list` is where it shows."""
        if not (feed.added_in and feed.added_in.isdigit() and feed.collection.isdigit()):
            return
        channel = self.bot.get_partial_messageable(
            int(feed.added_in), guild_id=int(feed.collection)
        )
        text = (
            f"⚠ The feed **{render.cut_escaped(feed.name, 100)}** (`{feed.id}`) was "
            f"{render.cut_escaped(feed.last_error or 'disabled', 1500)}"
        )
        try:
            await channel.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:  # the channel is gone or closed to the bot
            log.info("feed %d disabled; could not tell channel %s: %s", feed.id, feed.added_in, exc)


def _with_state(feed: feeds.Feed) -> feeds.Feed:
    """A failing feed's streak and next try, after its last error (a disabled one's error
    already says so)."""
    if feed.disabled or not feed.failures or not feed.last_error:
        return feed
    polls = "1 failed poll" if feed.failures == 1 else f"{feed.failures} failed polls"
    when = (feed.next_poll_at or "")[:16].replace("T", " ")
    note = f"{polls} in a row; next try {when} UTC" if when else f"{polls} in a row"
    return dataclasses.replace(feed, last_error=f"{feed.last_error} ({note})")


async def setup(bot: ArchivistBot) -> None:
    await bot.add_cog(Feeds(bot))

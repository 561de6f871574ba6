"""/recent, /article and /stats: reading this server's archive."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.views import _send_kwargs, article_reply, recent_reply

if TYPE_CHECKING:
    from bot.app import ArchivistBot


class Browse(commands.Cog):
    def __init__(self, bot: ArchivistBot) -> None:
        self.bot = bot

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
        await interaction.response.defer(thinking=True)
        reply = await recent_reply(self.bot, interaction.guild_id, 0, count, source)
        await interaction.followup.send(**_send_kwargs(reply))

    @app_commands.command(name="article")
    @app_commands.guild_only()
    async def article(
        self,
        interaction: discord.Interaction,
        id: app_commands.Range[str, 1, 200],
        page: app_commands.Range[int, 1, 1000] = 1,
    ) -> None:
        """Read one article of this server's archive.

        Parameters
        ----------
        id: The article's id (shown by /recent and under each answer)
        page: Which page of the article
        """
        assert interaction.guild_id is not None
        await interaction.response.defer(thinking=True)
        reply = await article_reply(self.bot, interaction.guild_id, id.strip(), page - 1)
        await interaction.followup.send(**_send_kwargs(reply))

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

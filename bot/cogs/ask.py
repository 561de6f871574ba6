"""/ask, questions that mention the bot, replies to its answers, and watched channels."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from archivist.errors import ArchivistError
from bot import render
from bot.cogs.browse import refuse_unknown_source, source_choices
from bot.errors import archivist_message, retry_in
from bot.views import DYNAMIC_ITEMS, NO_PINGS, _send_kwargs, answer_reply

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

DM_TEXT = (
    "I answer questions from a server's own news archive, so I only work in servers. "
    "Use `/ask` in a server I am in."
)


def ask_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown:
    rate, per = interaction.client.ask_cooldown_spec  # type: ignore[attr-defined]
    return app_commands.Cooldown(rate, per)


def per_user(interaction: discord.Interaction) -> tuple[int, int]:
    return (id(interaction.client), interaction.user.id)  # cooldown state is per bot instance


class Ask(commands.Cog):
    def __init__(self, bot: ArchivistBot) -> None:
        self.bot = bot
        rate, per = bot.ask_cooldown_spec
        self.message_cooldown = commands.CooldownMapping.from_cooldown(
            rate, per, commands.BucketType.user
        )

    @app_commands.command(name="ask")
    @app_commands.checks.dynamic_cooldown(ask_cooldown, key=per_user)
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, render.QUESTION_MAX],
        count: app_commands.Range[int, 1, 5] = 3,
        source: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """Ask this server's news archive a question.

        Parameters
        ----------
        question: What you want to know
        count: How many passages to show (1-5)
        source: Only articles from this source
        """
        if interaction.guild_id is None:
            await interaction.response.send_message(
                DM_TEXT, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        if await refuse_unknown_source(self.bot, interaction, source):
            return
        await interaction.response.defer(thinking=True)
        reply = await answer_reply(self.bot, interaction.guild_id, question, count, source)
        await interaction.followup.send(**_send_kwargs(reply))

    @ask.autocomplete("source")
    async def ask_source(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await source_choices(interaction, current)

    # ---- plain messages ----------------------------------------------------------------------

    def question_in(self, message: discord.Message) -> str | None:
        """The question a message asks the bot, or None when it is not addressed to it."""
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return None
        text = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        ref = message.reference
        replying_to_me = (
            ref is not None
            and isinstance(ref.resolved, discord.Message)
            and ref.resolved.author.id == me.id
        )
        mentioned = re.search(rf"<@!?{me.id}>", message.content) is not None
        if mentioned or replying_to_me:
            return text
        if self.bot.watched.is_watched(message.guild.id, message.channel.id) and text.endswith("?"):
            return text
        return None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        question = self.question_in(message)
        if question is None:
            return
        assert message.guild is not None
        try:
            if not question:
                await message.reply(
                    "Ask me a question after the mention, e.g. “@Archivist when is the vote?”",
                    mention_author=False,
                    allowed_mentions=NO_PINGS,
                )
                return
            if len(question) > render.QUESTION_MAX:
                await message.reply(
                    f"Questions are limited to {render.QUESTION_MAX} characters.",
                    mention_author=False,
                    allowed_mentions=NO_PINGS,
                )
                return
            bucket = self.message_cooldown.get_bucket(message)
            retry = bucket.update_rate_limit() if bucket is not None else None
            if retry:
                await message.reply(
                    f"Slow down: you can ask again {retry_in(retry)}.",
                    mention_author=False,
                    allowed_mentions=NO_PINGS,
                )
                return
            async with message.channel.typing():
                reply = await answer_reply(self.bot, message.guild.id, question, 3, None)
            await message.reply(mention_author=False, **_send_kwargs(reply))
        except ArchivistError as exc:
            await message.reply(
                archivist_message(exc), mention_author=False, allowed_mentions=NO_PINGS
            )
        except Exception:
            log.exception("error answering message %s", message.id)
            await message.reply(
                "Something went wrong on my side; it has been logged.",
                mention_author=False,
                allowed_mentions=NO_PINGS,
            )


async def setup(bot: ArchivistBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(Ask(bot))

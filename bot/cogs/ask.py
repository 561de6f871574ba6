"""/ask, the "Search the archive" message menu, questions that mention the bot, replies to its
answers, and watched channels (their threads and forum posts included)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from archivist.errors import ArchivistError
from bot import render
from bot.cogs.browse import refuse_unknown_source, source_choices
from bot.cogs.community import send_answer
from bot.errors import archivist_message, log_unexpected, retry_in
from bot.views import DYNAMIC_ITEMS, NO_PINGS, answer_reply, check_cooldown, send_kwargs

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

DM_TEXT = (
    "I answer questions from a server's own news archive, so I only work in servers. "
    "Use `/ask` in a server I am in."
)
MENU_NAME = "Search the archive"
NO_TEXT = (
    "That message has no text to search with. Right-click a message with words in it, or use "
    "`/ask`."
)
SINCE_CHOICES = [
    app_commands.Choice(name="past day", value="day"),
    app_commands.Choice(name="past week", value="week"),
    app_commands.Choice(name="past month", value="month"),
    app_commands.Choice(name="past year", value="year"),
    app_commands.Choice(name="any date", value="any"),
]
# A reply to one of the bot's answers is a follow-up question only if it reads like one:
# "thanks!" or "great" are said to the channel, not asked.
QUESTION_WORDS = frozenset(
    "who whom whose what when where why how which is are was were do does did can could will "
    "would should shall may might has have had any tell show explain list find describe".split()
)
LEADING_FILLER = frozenset("and but so also ok okay then well hm hmm oh".split())


def ask_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown:
    rate, per = interaction.client.ask_cooldown_spec  # type: ignore[attr-defined]
    return app_commands.Cooldown(rate, per)


def per_user(interaction: discord.Interaction) -> tuple[int, int]:
    return (id(interaction.client), interaction.user.id)  # cooldown state is per bot instance


def reads_like_question(text: str) -> bool:
    """Ends with "?" or starts (after an "and", "so"...) with a question word or a request."""
    if text.rstrip().endswith("?"):
        return True
    words = re.findall(r"[\w']+", text.lower())
    while words and words[0] in LEADING_FILLER:
        words.pop(0)
    return bool(words) and words[0] in QUESTION_WORDS


def one_line_question(text: str) -> str:
    """A message's text as a question: one line (the answer keeps it on one), within the limit."""
    return render.cut(" ".join(text.split()), render.QUESTION_MAX)


@dataclass(frozen=True)
class Asked:
    """A question found in a message; `watched` when only a watched channel made it one, where
    the bot speaks only when it has an answer."""

    text: str
    watched: bool = False


class Ask(commands.Cog):
    def __init__(self, bot: ArchivistBot) -> None:
        self.bot = bot
        rate, per = bot.ask_cooldown_spec
        self.message_cooldown = commands.CooldownMapping.from_cooldown(
            rate, per, commands.BucketType.user
        )
        self.search_menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.search_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.search_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(MENU_NAME, type=discord.AppCommandType.message)

    @app_commands.command(name="ask")
    @app_commands.checks.dynamic_cooldown(ask_cooldown, key=per_user)
    @app_commands.choices(since=SINCE_CHOICES)
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, render.QUESTION_MAX],
        count: app_commands.Range[int, 1, 5] = 3,
        source: app_commands.Range[str, 1, 100] | None = None,
        since: app_commands.Choice[str] | None = None,
        private: bool = False,
    ) -> None:
        """Ask this server's news archive a question.

        Parameters
        ----------
        question: What you want to know
        count: How many passages to show (1-5)
        source: Only articles from this source
        since: Only articles dated in this period
        private: Show the answer to you alone
        """
        if interaction.guild_id is None:
            await interaction.response.send_message(
                DM_TEXT, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        if await refuse_unknown_source(self.bot, interaction, source):
            return
        if source is None:  # the server's default (/settings); the answer names it
            settings = await self.bot.offload(
                self.bot.archive.server_settings, str(interaction.guild_id)
            )
            source = settings.default_source
        await interaction.response.defer(ephemeral=private, thinking=True)
        reply = await answer_reply(
            self.bot,
            interaction.guild_id,
            question,
            count,
            source,
            since=since.value if since else None,
        )
        await interaction.followup.send(ephemeral=private, **send_kwargs(reply))

    @ask.autocomplete("source")
    async def ask_source(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await source_choices(interaction, current)

    async def search_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Right-click a message > Apps > Search the archive: its text is the question, and
        the answer is for the member alone (the channel did not ask)."""
        if interaction.guild_id is None:
            await interaction.response.send_message(
                DM_TEXT, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        question = one_line_question(message.content)
        if not question:
            await interaction.response.send_message(
                NO_TEXT, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        check_cooldown(interaction, "ask")  # told privately by the tree's error handler
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await answer_reply(self.bot, interaction.guild_id, question, 3, None)
        await interaction.followup.send(ephemeral=True, **send_kwargs(reply))

    # ---- plain messages ----------------------------------------------------------------------

    def question_in(self, message: discord.Message) -> Asked | None:
        """The question a message asks the bot, or None when it is not addressed to it."""
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return None
        mention = re.compile(rf"<@!?{me.id}>")
        text = mention.sub("", message.content).strip()
        ref = message.reference
        replied = ref.resolved if ref is not None else None
        replied = replied if isinstance(replied, discord.Message) else None
        if mention.search(message.content):
            if replied is not None and replied.author.id != me.id:
                # "@Archivist" under someone's message: that message is the question
                asked = one_line_question(mention.sub("", replied.content))
                return Asked(asked or text)
            return Asked(text)
        if replied is not None and replied.author.id == me.id:
            return Asked(text) if reads_like_question(text) else None
        channel = message.channel
        parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
        if not self.bot.watched.is_watched(message.guild.id, channel.id, parent_id):
            return None
        if isinstance(channel, discord.Thread) and message.id == channel.id:
            # a forum post's first message (it shares the post's id): its title and text
            post = f"{channel.name}: {text}" if text else channel.name
            return Asked(one_line_question(post), watched=True)
        return Asked(text, watched=True) if text.endswith("?") else None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        asked = self.question_in(message)
        if asked is None:
            return
        assert message.guild is not None
        if asked.watched:
            await self._answer_if_answered(message, asked.text)
            return
        try:
            await self._answer(message, asked.text)
        except ArchivistError as exc:
            await self._say(message, archivist_message(exc))
        except Exception as error:  # noqa: BLE001 - the member is told, with the log's error id
            what = f"the answer to message {message.id}"
            await self._say(message, log_unexpected(what, error, message.guild.id))

    async def _answer(self, message: discord.Message, question: str) -> None:
        """A question asked of the bot (mention or reply): every outcome gets a reply."""
        assert message.guild is not None
        if not question:
            await self._say(
                message, "Ask me a question after the mention, e.g. “@Archivist when is the vote?”"
            )
            return
        if len(question) > render.QUESTION_MAX:
            await self._say(
                message,
                f"Questions are limited to {render.QUESTION_MAX} characters: ask a shorter one.",
            )
            return
        retry = self._cooldown(message)
        if retry:
            await self._say(message, f"Slow down: you can ask again {retry_in(retry)}.")
            return
        async with message.channel.typing():
            reply = await answer_reply(self.bot, message.guild.id, question, 3, None)
        await send_answer(self.bot, message, question, send_kwargs(reply))

    async def _answer_if_answered(self, message: discord.Message, question: str) -> None:
        """A watched channel is read by everyone: only an answer earns a message there, so
        "nothing relevant", an empty archive, a cooldown or an error stay silent (a mention or
        /ask still gets them)."""
        assert message.guild is not None
        if not question or len(question) > render.QUESTION_MAX or self._cooldown(message):
            return
        try:
            reply = await answer_reply(self.bot, message.guild.id, question, 3, None)
            if reply["answered"]:
                await send_answer(self.bot, message, question, send_kwargs(reply))
        except ArchivistError as exc:
            log.info("no answer in watched channel %s: %s", message.channel.id, exc)
        except Exception as error:  # noqa: BLE001 - silent in the channel, logged with an id
            log_unexpected(f"the answer to watched message {message.id}", error, message.guild.id)

    def _cooldown(self, message: discord.Message) -> float | None:
        bucket = self.message_cooldown.get_bucket(message)
        return bucket.update_rate_limit() if bucket is not None else None

    async def _say(self, message: discord.Message, text: str) -> None:
        await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)


async def setup(bot: ArchivistBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(Ask(bot))

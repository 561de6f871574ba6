"""/insights and /settings (admins), and the announcements of new feed items.

What members could not find (questions not answered, answers voted 👎) and how the server wants
the bot run are the core's (`archivist.community`), per server; this cog asks and renders.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from archivist.community import RETENTION_DAYS, Insights, Period, ServerSettings
from archivist.feeds import Feed
from archivist.models import IngestReport
from bot import render
from bot.cogs.browse import refuse_unknown_source, source_choices
from bot.errors import UserError, admin_role_id, require_admin
from bot.feedback import questions_logged

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

NO_PINGS = discord.AllowedMentions.none()
ADMIN = discord.Permissions(manage_guild=True)
QUESTION_SHOWN = 150
THREAD_NAME_MAX = 100
ANNOUNCED_MAX = 10  # articles named in one announcement; the rest are counted
RESETS = [
    app_commands.Choice(name="admin role", value="admin_role_id"),
    app_commands.Choice(name="default source", value="default_source"),
    app_commands.Choice(name="announce channel", value="announce_channel_id"),
]


# ---- rendering -------------------------------------------------------------------------------


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{round(share * 100)}%"


def period_line(period: Period) -> str:
    asked = "1 question" if period.asked == 1 else f"{period.asked} questions"
    votes = "1 vote" if period.votes == 1 else f"{period.votes} votes"
    return (
        f"**Past {period.days} days:** {asked}, {_percent(period.answered_share)} answered · "
        f"{votes}, {_percent(period.liked_share)} 👍"
    )


def question_line(n: int, asked: Any) -> str:
    counts = [f"asked {asked.asked}×"]
    if asked.unanswered:
        counts.append(f"{asked.unanswered} not answered")
    if asked.thumbs_down:
        counts.append(f"{asked.thumbs_down} 👎")
    return f"{n}. {render.cut_escaped(asked.question, QUESTION_SHOWN)} ({', '.join(counts)})"


def insights_embed(found: Insights, logging_on: bool) -> discord.Embed:
    """The shares, then the questions to look at, most asked first (within Discord's limits)."""
    lines = [period_line(p) for p in found.periods]
    if not logging_on:
        lines.append("Question logging is off: new questions are not kept (`/settings logging`).")
    lines.append("")
    lines.append(f"**Not answered or 👎 in the past {found.days} days**, most asked first:")
    shown = 0
    for n, asked in enumerate(found.questions, start=1):
        line = question_line(n, asked)
        if len("\n".join([*lines, line])) > render.DESCRIPTION_MAX - 100:
            break
        lines.append(line)
        shown += 1
    if not found.questions:
        lines.append("None: every question found an answer and none was voted down.")
    elif shown < len(found.questions):
        lines.append(f"…and {len(found.questions) - shown} more.")
    embed = discord.Embed(
        title="Insights: what members could not find", description="\n".join(lines)
    )
    embed.colour = render.COLOR
    embed.set_footer(
        text=f"Kept {RETENTION_DAYS} days. /insights clear: True erases this server's "
        "questions and votes."
    )
    return embed


def settings_embed(settings: ServerSettings, default_role: int | None) -> discord.Embed:
    if settings.admin_role_id is not None:
        role = f"<@&{settings.admin_role_id}> (and Manage Server)"
    elif default_role is not None:
        role = f"<@&{default_role}> (ARCHIVIST_ADMIN_ROLE) and Manage Server"
    else:
        role = "Manage Server only"
    announce = (
        f"<#{settings.announce_channel_id}>" if settings.announce_channel_id else "not announced"
    )
    logging_on = (
        f"on (questions, not who asked, are kept {RETENTION_DAYS} days for /insights)"
        if settings.question_logging
        else "off (questions are not kept)"
    )
    embed = discord.Embed(title="Settings of this server", colour=render.COLOR)
    embed.add_field(name="Admin role", value=role, inline=False)
    embed.add_field(
        name="Default source for /ask",
        value=render.cut_escaped(settings.default_source, 100)
        if settings.default_source
        else "all sources",
        inline=False,
    )
    embed.add_field(
        name="Answers in threads", value="on" if settings.threads else "off", inline=False
    )
    embed.add_field(name="Question logging", value=logging_on, inline=False)
    embed.add_field(name="New feed items announced in", value=announce, inline=False)
    embed.set_footer(text="Change one with an option of /settings, e.g. /settings logging: False")
    return embed


def announcement_text(feed: Feed, report: IngestReport) -> str:
    added = report.added
    lines = [f"📰 New from **{render.cut_escaped(feed.name, 100)}**:"]
    lines += [
        f"• {render.cut_escaped(a.title, 150)} (`/article id: {a.id}`)"
        for a in added[:ANNOUNCED_MAX]
    ]
    if len(added) > ANNOUNCED_MAX:
        lines.append(f"…and {len(added) - ANNOUNCED_MAX} more: /recent lists them.")
    return render.cut("\n".join(lines), render.CONTENT_MAX)


# ---- answers in threads ----------------------------------------------------------------------


async def send_answer(
    bot: ArchivistBot, message: discord.Message, question: str, reply: dict[str, Any]
) -> None:
    """Answer a message's question: as a reply, or, when the server wants answers in threads
    and the message is in a text channel, in a new thread on that message (named after the
    question) so the channel keeps its flow. Without leave to make threads, as a reply."""
    assert message.guild is not None
    settings = await bot.offload(bot.archive.server_settings, str(message.guild.id))
    if settings.threads and isinstance(message.channel, discord.TextChannel):
        try:
            thread = await message.create_thread(name=render.cut(question, THREAD_NAME_MAX))
        except discord.HTTPException as exc:  # no Create Public Threads here, or one exists
            log.info("no thread on message %s: %s", message.id, exc)
        else:
            await thread.send(**reply)
            return
    await message.reply(mention_author=False, **reply)


# ---- the cog ---------------------------------------------------------------------------------


class Community(commands.Cog):
    def __init__(self, bot: ArchivistBot) -> None:
        self.bot = bot

    @app_commands.command(name="insights")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(require_admin)
    async def insights(
        self,
        interaction: discord.Interaction,
        days: app_commands.Range[int, 1, RETENTION_DAYS] = 30,
        clear: bool = False,
    ) -> None:
        """What members could not find: questions not answered or voted 👎 (admins).

        Parameters
        ----------
        days: How far back the list of questions goes (1-90, default 30)
        clear: Erase this server's stored questions and votes instead
        """
        assert interaction.guild_id is not None
        collection = str(interaction.guild_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if clear:
            removed = await self.bot.offload(self.bot.archive.clear_insights, collection)
            await interaction.followup.send(
                f"Erased this server's stored questions and votes ({removed} entries). "
                "`/settings logging: False` stops keeping new questions.",
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
            return
        await questions_logged()
        found = await self.bot.offload(self.bot.archive.insights, collection, days)
        settings = await self.bot.offload(self.bot.archive.server_settings, collection)
        await interaction.followup.send(
            embed=insights_embed(found, settings.question_logging),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(name="settings")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(require_admin)
    @app_commands.choices(reset=RESETS)
    async def settings(
        self,
        interaction: discord.Interaction,
        admin_role: discord.Role | None = None,
        default_source: app_commands.Range[str, 1, 100] | None = None,
        threads: bool | None = None,
        logging: bool | None = None,
        announce_channel: discord.TextChannel | None = None,
        reset: app_commands.Choice[str] | None = None,
    ) -> None:
        """Show or change how I work in this server (admins).

        Parameters
        ----------
        admin_role: Members with this role may use the admin commands
        default_source: The source /ask keeps to when the member names none
        threads: Answer in a new thread instead of in the channel
        logging: Keep members' questions (not who asked) for /insights
        announce_channel: Where new articles from feeds are announced
        reset: Put one setting back to its default
        """
        assert interaction.guild_id is not None
        changes = self._changes(interaction, admin_role, default_source, threads, logging)
        if announce_channel is not None:
            changes["announce_channel_id"] = announce_channel.id
        if reset is not None:
            if reset.value in changes:
                raise UserError(f"Set the {reset.name} or reset it, not both at once.")
            if reset.value == "admin_role_id":
                self._require_manage_guild(interaction)
            changes[reset.value] = None
        if await refuse_unknown_source(self.bot, interaction, default_source):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        collection = str(interaction.guild_id)
        if changes:
            current = await self.bot.offload(
                self.bot.archive.update_server_settings, collection, **changes
            )
        else:
            current = await self.bot.offload(self.bot.archive.server_settings, collection)
        default_role = admin_role_id(self.bot.settings.admin_role)
        text = "Saved." if changes else ""
        await interaction.followup.send(
            text or discord.utils.MISSING,
            embed=settings_embed(current, default_role),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    @settings.autocomplete("default_source")
    async def settings_source(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await source_choices(interaction, current)

    def _changes(
        self,
        interaction: discord.Interaction,
        admin_role: discord.Role | None,
        default_source: str | None,
        threads: bool | None,
        logging: bool | None,
    ) -> dict[str, Any]:
        """The options given, as the core's settings; refusals before anything is stored."""
        changes: dict[str, Any] = {}
        if admin_role is not None:
            self._require_manage_guild(interaction)
            if admin_role.is_default():
                raise UserError(
                    "@everyone cannot be the admin role: every member would be an admin. "
                    "Pick another role."
                )
            changes["admin_role_id"] = admin_role.id
        if default_source is not None:
            changes["default_source"] = default_source
        if threads is not None:
            changes["threads"] = threads
        if logging is not None:
            changes["question_logging"] = logging
        return changes

    @staticmethod
    def _require_manage_guild(interaction: discord.Interaction) -> None:
        # the admin role decides who is an admin: a holder of it must not hand it on
        perms = interaction.permissions
        if not (perms.manage_guild or perms.administrator):
            raise UserError(
                "Only members with the Manage Server permission can change the admin role."
            )

    # ---- settings read on the event loop, so read them into memory beforehand ---------------

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        try:
            await self.bot.offload(self.bot.archive.server_settings, str(guild.id))
        except Exception:  # noqa: BLE001 - read again on first use
            log.info("could not read the settings of server %s ahead", guild.id, exc_info=True)

    # ---- new feed items ----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # The scheduler is made in setup_hook, after the cogs are loaded: hook in once it runs.
        scheduler = self.bot.feeds
        if scheduler is not None and getattr(scheduler, "on_added", None) is None:
            scheduler.on_added = self.announce_added

    async def announce_added(self, feed: Feed, report: IngestReport) -> None:
        """Name a feed's new articles in the server's announce channel, when it has one."""
        if not (report.added and feed.collection.isdigit()):
            return
        settings = await self.bot.offload(self.bot.archive.server_settings, feed.collection)
        if settings.announce_channel_id is None:
            return
        channel = self.bot.get_partial_messageable(
            settings.announce_channel_id, guild_id=int(feed.collection)
        )
        try:
            await channel.send(announcement_text(feed, report), allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:  # gone, or closed to the bot: /feed list still shows
            log.info("feed %d: could not announce in %s: %s", feed.id, channel.id, exc)


async def setup(bot: ArchivistBot) -> None:
    await bot.add_cog(Community(bot))

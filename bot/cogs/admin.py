"""/upload, /delete and /channel watch|unwatch|list: for Manage Server (or the configured role).

Declared with `default_permissions` so Discord hides them from members, and checked in code as
well, because server owners can change who may use a command.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from archivist.errors import ArchivistError, ReadError
from archivist.models import Failed, IngestReport
from bot import render
from bot.app import UploadInterrupted
from bot.cogs.browse import article_choices
from bot.errors import (
    UserError,
    archivist_message,
    log_unexpected,
    require_admin,
    warn_if_role_name,
)
from bot.tasks import cancel_and_wait
from bot.views import NO_PINGS, delete_prompt, send_kwargs

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

# an input of an upload: its name, and what reads and stores it once its turn comes
Input = tuple[str, Callable[[], Awaitable[IngestReport]]]

PROGRESS_EVERY_S = 2.0
ADMIN = discord.Permissions(manage_guild=True)


def upload_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown:
    rate, per = interaction.client.upload_cooldown_spec  # type: ignore[attr-defined]
    return app_commands.Cooldown(rate, per)


def per_user(interaction: discord.Interaction) -> tuple[int, int]:
    return (id(interaction.client), interaction.user.id)


class UploadProgress:
    """Edits the deferred reply with progress every few seconds while a large upload runs.

    The archive reports progress from its worker thread; the numbers are handed to the loop.
    """

    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction
        self.loop = asyncio.get_running_loop()
        self.state: tuple[str, int, int] | None = None
        self.shown: tuple[str, int, int] | None = None
        self.task = self.loop.create_task(self._run())

    def callback(self, file_name: str):
        def progress(done: int, total: int) -> None:  # runs in the worker thread
            self.loop.call_soon_threadsafe(setattr, self, "state", (file_name, done, total))

        return progress

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            if self.state is not None and self.state != self.shown:
                self.shown = self.state
                name, done, total = self.state
                try:
                    await self.interaction.edit_original_response(
                        content=render.progress_text(done, total, name), allowed_mentions=NO_PINGS
                    )
                except discord.HTTPException:
                    log.warning("could not show upload progress", exc_info=True)

    async def stop(self) -> None:
        await cancel_and_wait(self.task)


class Admin(commands.Cog):
    def __init__(self, bot: ArchivistBot) -> None:
        # one upload at a time per server: a server's slow inputs leave the other intake thread
        # to every other server
        self._turns: dict[int, asyncio.Semaphore] = {}
        self.bot = bot

    @app_commands.command(name="upload")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(require_admin)
    @app_commands.checks.dynamic_cooldown(upload_cooldown, key=per_user)
    async def upload(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        file2: discord.Attachment | None = None,
        file3: discord.Attachment | None = None,
        source: app_commands.Range[str, 1, 100] | None = None,
        url: app_commands.Range[str, 1, 2000] | None = None,
    ) -> None:
        """Add articles to this server's archive (JSON, JSONL, text, HTML, PDF, DOCX, ZIP, a URL).

        Parameters
        ----------
        file: A file of articles
        file2: Another file
        file3: Another file
        source: The source to record for these articles (overrides the files' own)
        url: A web page (http or https) to fetch and store
        """
        assert interaction.guild_id is not None
        if file is None and file2 is None and file3 is None and url is None:
            raise UserError("Attach a file or give a `url` to add.")
        await interaction.response.defer(thinking=True)
        progress = UploadProgress(interaction)
        attachments = [f for f in (file, file2, file3) if f is not None]
        work, too_large = self._inputs(interaction, attachments, url, source, progress)
        turn = self._turns.setdefault(interaction.guild_id, asyncio.Semaphore(1))
        my_turn = False
        try:
            await turn.acquire()
            my_turn = True
            report, stopped = await self._read_all(work, interaction.guild_id)
        finally:
            if my_turn:
                turn.release()
            await progress.stop()
        log.info(
            "upload in %s by %s: %d added, %d duplicates, %d failed%s",
            interaction.guild_id,
            interaction.user.id,
            len(report.added),
            len(report.duplicates),
            len(report.failed) + len(too_large),
            f", stopped after {stopped.done} of {stopped.total}" if stopped else "",
        )
        embed = render.upload_embed(report, too_large, stopped)
        await interaction.edit_original_response(
            content=None, embed=embed, allowed_mentions=NO_PINGS
        )

    def _inputs(
        self,
        interaction: discord.Interaction,
        attachments: list[discord.Attachment],
        url: str | None,
        source: str | None,
        progress: UploadProgress,
    ) -> tuple[list[Input], list[Failed]]:
        """The inputs to read, in order, and the attachments refused for their size."""
        limit = self.bot.settings.limits.upload_max_bytes
        work: list[Input] = []
        too_large: list[Failed] = []
        for attachment in attachments:
            if attachment.size > limit:
                size, most = render.human_bytes(attachment.size), render.human_bytes(limit)
                too_large.append(
                    Failed(attachment.filename, f"{size} is over the limit of {most} per file")
                )
                continue
            add = functools.partial(self._add_attachment, interaction, attachment, source, progress)
            work.append((attachment.filename, add))
        if url:
            link = url.strip()
            fetch = functools.partial(self._add_url, interaction, link, source, progress)
            work.append((link, fetch))
        return work, too_large

    async def _read_all(
        self, work: list[Input], guild_id: int
    ) -> tuple[IngestReport, render.UploadStopped | None]:
        """Each input in turn; a stop of the bot ends the upload after the batch being stored."""
        report = IngestReport()
        for i, (name, add) in enumerate(work):
            try:
                report.merge(await self._one_input(name, add(), guild_id))
            except UploadInterrupted as stop:
                rest = tuple(later for later, _ in work[i + 1 :])
                return report, render.UploadStopped(name, stop.done, stop.total, rest)
        return report, None

    async def _one_input(
        self, name: str, work: Awaitable[IngestReport], guild_id: int
    ) -> IngestReport:
        """One input's outcome: whatever goes wrong with it is that input's `failed` line, and
        the other inputs' results are kept."""
        try:
            return await work
        except UploadInterrupted:  # not this input's failure: the upload ends here
            raise
        except Exception as error:  # noqa: BLE001 - becomes the input's line in the report
            if isinstance(error, ReadError):  # the report names the input already
                reason = error.reason
            elif isinstance(error, ArchivistError):
                reason = archivist_message(error)
            else:  # a bug: the line carries the id its traceback is logged with
                reason = log_unexpected(f"the upload of {name}", error, guild_id)
            return IngestReport.failure(name, reason)

    async def _add_attachment(
        self,
        interaction: discord.Interaction,
        attachment: discord.Attachment,
        source: str | None,
        progress: UploadProgress,
    ) -> IngestReport:
        data = await attachment.read()
        return await self.bot.offload_intake(
            self.bot.archive.add_bytes,
            attachment.filename,
            data,
            collection=str(interaction.guild_id),
            source=source,
            added_by=str(interaction.user.id),
            progress=progress.callback(attachment.filename),
        )

    async def _add_url(
        self,
        interaction: discord.Interaction,
        url: str,
        source: str | None,
        progress: UploadProgress,
    ) -> IngestReport:
        return await self.bot.offload_intake(
            self.bot.archive.add_url,
            url,
            collection=str(interaction.guild_id),
            source=source,
            added_by=str(interaction.user.id),
            allow_private=self.bot.settings.allow_private_urls,
            progress=progress.callback(url),
        )

    @app_commands.command(name="delete")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(require_admin)
    async def delete(
        self, interaction: discord.Interaction, id: app_commands.Range[str, 1, 200]
    ) -> None:
        """Delete an article from this server's archive (asks to confirm).

        Parameters
        ----------
        id: A word of its title, or its id (shown by /recent and under each answer)
        """
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        article = await self.bot.offload(
            self.bot.archive.get, id.strip(), collection=str(interaction.guild_id)
        )
        await interaction.followup.send(
            ephemeral=True, **send_kwargs(delete_prompt(article.id, article.title))
        )

    @delete.autocomplete("id")
    @app_commands.check(require_admin)
    async def delete_id(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await article_choices(interaction, current)

    channel = app_commands.Group(
        name="channel",
        description="Choose where I answer every question (admins)",
        guild_only=True,
        default_permissions=ADMIN,
    )

    @channel.command(name="watch")
    @app_commands.check(require_admin)
    async def watch(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> None:
        """Answer questions in a channel (and its threads) or every post of a forum.

        Parameters
        ----------
        channel: A text or forum channel (this channel if left out)
        """
        await self._set_watch(interaction, channel, True)

    @channel.command(name="unwatch")
    @app_commands.check(require_admin)
    async def unwatch(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> None:
        """Stop answering plain questions in a channel (mentions still work).

        Parameters
        ----------
        channel: A text or forum channel (this channel if left out)
        """
        await self._set_watch(interaction, channel, False)

    @channel.command(name="list")
    @app_commands.check(require_admin)
    async def list_watched(self, interaction: discord.Interaction) -> None:
        """The channels where I answer questions without a mention."""
        assert interaction.guild_id is not None
        ids = self.bot.watched.channels(interaction.guild_id)
        await interaction.response.send_message(
            render.watched_text(ids), ephemeral=True, allowed_mentions=NO_PINGS
        )

    async def _set_watch(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.ForumChannel | None,
        watched: bool,
    ) -> None:
        assert interaction.guild_id is not None and interaction.channel_id is not None
        channel_id = channel.id if channel is not None else interaction.channel_id
        if channel is None and isinstance(interaction.channel, discord.Thread):
            raise UserError(
                "Threads follow their channel: run this in the channel itself, or pick it "
                "with the `channel` option."
            )
        forum = isinstance(channel, discord.ForumChannel)
        await interaction.response.defer(ephemeral=True, thinking=True)
        changed = await self.bot.offload(
            self.bot.watched.set, interaction.guild_id, channel_id, watched
        )
        text = render.watch_text(f"<#{channel_id}>", watched, changed, forum=forum)
        if watched and not self.bot.intents.message_content:
            text += (
                "\nNote: the Message Content intent is off for this bot, so I only see "
                "messages that mention me. See docs/discord.md."
            )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)


async def setup(bot: ArchivistBot) -> None:
    warn_if_role_name(bot.settings.admin_role)  # once, at start
    await bot.add_cog(Admin(bot))

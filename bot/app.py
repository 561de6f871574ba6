"""The bot: an `AutoShardedBot` that holds the `Archive` and loads one cog per feature.

`run(settings)` is what `archivist bot` calls. Tests build `ArchivistBot` directly and point it
at the local Discord emulator through `settings.discord_api_base` / `discord_gateway_url`.

SIGTERM or SIGINT stop it gracefully (`ArchivistBot.close`): new interactions get a private
"Restarting" reply, answers already started and the current batch of an upload finish (within
`settings.shutdown_grace_s`), then the gateway closes and `run` returns (exit status 0).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands
from discord.ext import commands

from archivist import logs
from archivist.config import Settings
from archivist.errors import ArchivistError, ReadError
from archivist.feeds import FeedScheduler, scheduler_for
from bot.errors import new_error_id, report_error, user_message
from bot.metrics import LATE_ACK_S, Metrics, MetricsServer
from bot.watch import WatchedChannels

log = logging.getLogger("archivist.bot")

T = TypeVar("T")

EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.browse",
    "bot.cogs.admin",
    "bot.cogs.feeds",
    "bot.cogs.community",
)
RESTARTING = "Restarting: try again in a minute."
# Threads for questions and quick lookups, and, apart, for untrusted input (uploads, URLs,
# feeds): however slow a page or a file is, questions never wait behind it for a thread.
QUESTION_THREADS = 4
INTAKE_THREADS = 2


def configure_endpoints(settings: Settings) -> None:
    """Redirect discord.py's HTTP base and gateway (a proxy in production, the emulator in tests).

    These are class attributes of discord.py, so the redirect is process-wide.
    """
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class Restarting(ArchivistError):
    """New work asked of a bot that is stopping (a click, a mention, a command's first call)."""

    def __init__(self) -> None:
        super().__init__(RESTARTING)


class UploadInterrupted(ArchivistError):
    """A stop came during an upload: it ended after the batch being stored. Every finished batch
    is stored, so the same file uploaded again adds only the rest."""

    def __init__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        super().__init__(
            f"the bot restarted after storing {done} of {total} articles; upload the same file "
            "again to add the rest (those already stored count as duplicates)"
        )


class ArchivistTree(app_commands.CommandTree):
    """The command tree: every command and autocomplete is admitted by the bot first."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return await self.client.admit(interaction)  # type: ignore[attr-defined]


def watched_path(settings: Settings) -> Path:
    """Where earlier versions kept the watched channels (imported into the store once)."""
    return Path(settings.data_dir) / "bot" / "watched.json"


class ArchivistBot(commands.AutoShardedBot):
    """Answers questions from each server's own articles. Its dependencies come in here."""

    def __init__(
        self,
        archive: Any,
        settings: Settings,
        *,
        message_content: bool = True,
        ask_cooldown: tuple[int, float] = (5, 30.0),
        upload_cooldown: tuple[int, float] = (3, 60.0),
        guild_ready_timeout: float = 2.0,
        **options: Any,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content  # privileged: only watched channels need it
        intents.presences = False
        intents.members = False
        configure_endpoints(settings)
        if settings.shard_count is not None:  # one of several processes (docs/scaling.md)
            options.setdefault("shard_count", settings.shard_count)
            if settings.shard_ids is not None:
                options.setdefault("shard_ids", list(settings.shard_ids))
        super().__init__(
            command_prefix=commands.when_mentioned,  # no prefix commands; mentions are questions
            help_command=None,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=guild_ready_timeout,
            tree_cls=ArchivistTree,
            **options,
        )
        self.archive = archive
        self.settings = settings
        self.ask_cooldown = app_commands.Cooldown(*ask_cooldown)
        self.ask_cooldown_spec = ask_cooldown
        self.upload_cooldown_spec = upload_cooldown
        self.watched = WatchedChannels(archive, watched_path(settings))
        self._inflight: set[asyncio.Future] = set()
        # the tasks of the commands admitted: a stop lets them finish (within the grace)
        self._answering: set[asyncio.Task] = set()
        self.questions: Executor = ThreadPoolExecutor(QUESTION_THREADS, "archivist-ask")
        self.intake: Executor = ThreadPoolExecutor(INTAKE_THREADS, "archivist-intake")
        self._closing = False
        self.feeds: FeedScheduler | None = None
        self.metrics = Metrics(self)
        self.metrics_server: MetricsServer | None = None
        # one handler for every slash command
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        if self.settings.discord_gateway_url:
            self._pin_gateway(self.settings.discord_gateway_url)
        await self.offload(self.watched.load)
        self.watched.start(self.offload)  # another process's /channel watch, within a minute
        if self.settings.metrics_addr:
            self.metrics_server = MetricsServer(self, self.settings.metrics_addr)
            await self.metrics_server.start()
        for ext in EXTENSIONS:
            await self.load_extension(ext)
        self.feeds = scheduler_for(
            self.archive, self.settings, run=self.offload_intake, collections=self.own_collections
        )
        self.feeds.start()
        if self.settings.discord_dev_guild:
            guild = discord.Object(id=self.settings.discord_dev_guild)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to the dev server %s", len(synced), guild.id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))

    def own_collections(self) -> set[str]:
        """The servers this process serves (its shards'); none before it is ready, so that with
        several processes no feed is polled by a process that does not serve it."""
        return {str(guild.id) for guild in self.guilds} if self.is_ready() else set()

    def _pin_gateway(self, url: str) -> None:
        # AutoShardedBot connects to the URL `GET /gateway/bot` returns, not DEFAULT_GATEWAY;
        # keep its shard count but use the configured gateway.
        original = self.http.get_bot_gateway

        async def get_bot_gateway() -> tuple[int, str, Any]:
            shards, _, limits = await original()
            return shards, url, limits

        self.http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]

    # ---- work off the event loop -----------------------------------------------------------

    async def offload(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (model, FAISS, SQLite) in a question thread; close() waits for it."""
        return await self._run_in(self.questions, fn, *args, **kwargs)

    async def offload_intake(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run work on untrusted input (an upload, a URL, a feed) in an intake thread."""
        return await self._run_in(self.intake, fn, *args, **kwargs)

    async def _run_in(
        self, executor: Executor, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        # once stopping, only the commands admitted before the stop get more work done
        if self._closing and asyncio.current_task() not in self._answering:
            raise Restarting()
        if kwargs.get("progress") is not None:
            kwargs["progress"] = self._stopping_between_batches(kwargs["progress"])
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        future = asyncio.get_running_loop().run_in_executor(executor, call)
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        started = time.perf_counter()
        try:
            result = await asyncio.shield(future)
        except ReadError as error:
            self.metrics.read_failed(error)
            raise
        name = getattr(fn, "__name__", type(fn).__name__)
        self.metrics.call_done(name, time.perf_counter() - started, result)
        return result

    def _stopping_between_batches(
        self, progress: Callable[[int, int], None]
    ) -> Callable[[int, int], None]:
        """An upload's progress callback (called between batches, in the intake thread) that
        ends the upload there once the bot is stopping: the batch being stored finishes, the
        rest waits for the same file to be uploaded again."""

        def report(done: int, total: int) -> None:
            if self._closing and done < total:
                raise UploadInterrupted(done, total)
            progress(done, total)

        return report

    def _track(self, task: asyncio.Task) -> None:
        if task not in self._answering:
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    @property
    def stopping(self) -> bool:
        """Whether a stop has begun (new interactions get the "Restarting" reply)."""
        return self._closing

    async def close(self) -> None:
        """Graceful stop: refuse new work, let running answers and the current upload batch
        finish (within `settings.shutdown_grace_s`), then disconnect."""
        if not self._closing:
            self._closing = True
            started = time.perf_counter()
            log.info("stopping: new interactions get the restarting reply")
            if self.feeds is not None:  # a running poll stops between items
                await self.feeds.stop()
            await self.watched.stop()
            await self._let_running_work_finish()
            for executor in (self.questions, self.intake):
                executor.shutdown(wait=False, cancel_futures=True)
            if self.metrics_server is not None:
                await self.metrics_server.stop()
            log.info("stopped", extra={"duration": round(time.perf_counter() - started, 3)})
        await super().close()

    async def _let_running_work_finish(self) -> None:
        me = asyncio.current_task()
        running: set[asyncio.Future] = {t for t in self._answering if t is not me}
        running |= self._inflight
        if not running:
            return
        grace = self.settings.shutdown_grace_s
        log.info("waiting up to %g s for %d running commands and uploads", grace, len(running))
        _, late = await asyncio.wait(running, timeout=grace)
        if late:  # their members get no reply; the store keeps every batch already written
            log.warning(
                "grace over after %g s (ARCHIVIST_SHUTDOWN_GRACE_S): stopping with %d unfinished "
                "(commands and uploads)",
                grace,
                len(late),
            )

    # ---- errors ----------------------------------------------------------------------------

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.metrics.command_failed(unexpected=user_message(error) is None)
        await report_error(interaction, error)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        error_id = new_error_id()
        log.exception(
            "error in %s (error %s)", event_method, error_id, extra={"error_id": error_id}
        )

    # ---- admitting interactions ------------------------------------------------------------

    async def admit(self, interaction: discord.Interaction) -> bool:
        """Whether a command (or autocomplete) may run: not once a stop has begun. An admitted
        one is waited for by a stop and logged in one line when it ends."""
        if self._closing:
            await self._refuse_restarting(interaction)
            return False
        task = asyncio.current_task()
        if task is not None:
            self._track(task)
            started = time.perf_counter()
            task.add_done_callback(lambda _: self._log_interaction(interaction, started))
        return True

    async def _refuse_restarting(self, interaction: discord.Interaction) -> None:
        interaction.extras["outcome"] = "restarting"
        try:
            if interaction.type is discord.InteractionType.autocomplete:
                await interaction.response.autocomplete([])
            else:
                await interaction.response.send_message(RESTARTING, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell a member the bot is restarting", exc_info=True)
        self._log_interaction(interaction, None)

    def _log_interaction(self, interaction: discord.Interaction, started: float | None) -> None:
        """One line a command: what, where, how long, how it ended; never what was typed."""
        if interaction.type is discord.InteractionType.autocomplete:
            return  # one a keystroke: too many to log
        data: dict[str, Any] = dict(interaction.data or {})
        outcome = interaction.extras.get("outcome", "ok")
        fields = {
            "command": data.get("name"),
            "guild_id": interaction.guild_id,
            "outcome": outcome,
            "duration": None if started is None else round(time.perf_counter() - started, 3),
        }
        log.info("command %s: %s", fields["command"], outcome, extra=fields)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: the Ask cog's listener answers the messages meant for the bot."""

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))

    async def on_interaction(self, interaction: discord.Interaction, /) -> None:
        def check() -> None:
            if not interaction.response.is_done():
                self.metrics.late_acks.inc()

        asyncio.get_running_loop().call_later(LATE_ACK_S, check)


def command_payloads(settings: Settings) -> list[dict[str, Any]]:
    """The commands the bot syncs at start, as Discord is sent them (`archivist doctor` compares
    them with Discord's copy). Builds the bot's command tree without connecting."""

    # no endpoints: they would be redirected process-wide, and nothing here connects
    offline = dataclasses.replace(settings, discord_api_base=None, discord_gateway_url=None)

    async def build() -> list[dict[str, Any]]:
        bot = ArchivistBot(None, offline)
        try:
            for ext in EXTENSIONS:
                await bot.load_extension(ext)
            return [command.to_dict(bot.tree) for command in bot.tree.get_commands()]
        finally:
            for executor in (bot.questions, bot.intake):
                executor.shutdown(wait=False)

    return asyncio.run(build())


async def _serve(settings: Settings, archive: Any, message_content: bool) -> None:
    bot = ArchivistBot(archive, settings, message_content=message_content)
    loop = asyncio.get_running_loop()
    stops: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    def stop(sig: signal.Signals) -> None:
        log.info("%s received", sig.name)
        task = asyncio.ensure_future(bot.close())
        stops.add(task)
        task.add_done_callback(stops.discard)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop, sig)
        except (NotImplementedError, RuntimeError):  # not on the main thread / Windows
            pass
    async with bot:
        await bot.start(settings.discord_token or "")


def run(settings: Settings, archive: Any | None = None) -> None:
    """Start the bot and block until it stops (Ctrl-C or SIGTERM stop it gracefully).

    The Archive is built from `settings` unless one is given; its indexes are saved on the way
    out by whoever built it (`archive.close()`). Logging goes to stderr in `settings.log_format`.
    """
    if not settings.discord_token:
        raise ArchivistError("DISCORD_TOKEN is not set (environment or .env); see docs/discord.md")
    logs.configure(settings.log_level, settings.log_format)
    own_archive = archive is None
    if archive is None:
        from archivist.archive import Archive

        archive = Archive.from_settings(settings)
    try:
        archive.open_all_indexes()
        try:
            asyncio.run(_serve(settings, archive, message_content=True))
        except discord.PrivilegedIntentsRequired:
            log.warning(
                "the Message Content intent is not enabled for this application in the Developer "
                "Portal: watched channels will only see messages that mention the bot"
            )
            asyncio.run(_serve(settings, archive, message_content=False))
        except discord.LoginFailure:
            raise ArchivistError("Discord refused the token (DISCORD_TOKEN)") from None
    finally:
        if own_archive:  # a caller that passed its Archive closes it (which saves the indexes)
            archive.close()

"""Which channels the bot watches for plain questions: a copy of the store's
(`archive.settings_table.watched`), kept in memory because every message asks it.

The store is the truth, shared by every bot process (shards, machines) and the CLI: a change is
written through at once, and the copy is read again every `REFRESH_S` seconds, so a change made by
another process is followed within that time. Earlier versions kept them in a JSON file per
machine (`bot/watched.json`): `load` imports it once, then renames it `watched.json.imported`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from archivist.community import WATCHED_MAX
from archivist.errors import ArchivistError, shown
from bot.tasks import cancel_and_wait

log = logging.getLogger("archivist.bot.watch")

Runner = Callable[..., Awaitable[Any]]

# how soon another process's change is followed; a read of every server's row each time
REFRESH_S = 45.0
IMPORTED_SUFFIX = ".imported"


class WatchFileError(ArchivistError):
    """The old watched-channels file cannot be imported as it is; nothing of it was imported."""


def legacy_channels(path: Path) -> dict[str, set[int]]:
    """The channels an old `watched.json` names, per server ({} when there is no file); a
    file that is not what the bot wrote is a one-line `WatchFileError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WatchFileError(f"{path} is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise WatchFileError(f"{path} is not a JSON object of server ids")
    return {_server_id(path, key): _channel_ids(path, key, ids) for key, ids in raw.items()}


def _server_id(path: Path, key: str) -> str:
    if not (key.isascii() and key.isdigit()):
        raise WatchFileError(f"{path}: “{shown(key)}” is not a server id")
    return str(int(key))


def _channel_ids(path: Path, key: str, ids: Any) -> set[int]:
    if not isinstance(ids, list):
        raise WatchFileError(f"{path}: server {shown(key)} has no list of channel ids")
    out = set()
    for value in ids:
        # the bot wrote ints; a digit string is a hand edit meaning the same
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise WatchFileError(
                f"{path}: server {shown(key)}: “{shown(str(value))}” is not a channel id"
            )
        out.add(value)
    return out


class WatchedChannels:
    """The copy of every server's watched channel ids. `load`, `refresh` and `set` block (the
    store): call them off the event loop. `is_watched` and `channels` read the copy only."""

    def __init__(self, archive: Any, legacy_path: Path, refresh_s: float | None = None) -> None:
        self.archive = archive
        self.legacy_path = legacy_path
        self.refresh_s = REFRESH_S if refresh_s is None else refresh_s
        # replaced whole, never changed in place: the event loop reads it while a thread writes
        self._channels: dict[str, frozenset[int]] = {}
        # a refresh's read and a set's write-then-read in turn, so an older read never
        # replaces the copy after a newer change
        self._lock = threading.Lock()
        self._task: asyncio.Task | None = None

    @property
    def table(self) -> Any:
        return self.archive.settings_table.watched

    # ---- blocking: the store -----------------------------------------------------------------

    def load(self) -> None:
        """Import the old file if there is one, then read every server's channels."""
        try:
            self.import_legacy()
        except (ArchivistError, OSError) as exc:
            # the bot still starts: the file stays for the operator, and is tried again
            log.error("watched channels not imported (the file is kept): %s", exc)
        self.refresh()

    def import_legacy(self) -> int:
        """Watch in the store every channel the old file names, then rename the file; the
        number of servers in it. All or nothing as far as the file is concerned: it is checked
        whole first, and the writes can be made again (a channel watched twice is one)."""
        wanted = legacy_channels(self.legacy_path)
        if not wanted and not self.legacy_path.exists():
            return 0
        for server, ids in wanted.items():
            total = len(ids | set(self.table.channels(server)))
            if total > WATCHED_MAX:
                raise WatchFileError(
                    f"{self.legacy_path}: server {server} would watch {total} channels,"
                    f" over the {WATCHED_MAX} a server may"
                )
        for server, ids in wanted.items():
            for channel_id in sorted(ids):
                self.table.set(server, channel_id, True)
        try:
            os.replace(
                self.legacy_path,
                self.legacy_path.with_name(self.legacy_path.name + IMPORTED_SUFFIX),
            )
        except FileNotFoundError:
            pass  # another process on this machine imported it at the same moment
        count = sum(len(ids) for ids in wanted.values())
        log.info(
            "imported %d watched channels of %d servers from %s",
            count,
            len(wanted),
            self.legacy_path,
        )
        return len(wanted)

    def refresh(self) -> None:
        """Read every server's channels from the store (another process may have changed them)."""
        with self._lock:
            self._channels = dict(self.table.every())

    def set(self, guild_id: int, channel_id: int, watched: bool) -> bool:
        """Watch or unwatch; returns whether anything changed."""
        server = str(guild_id)
        with self._lock:
            changed = bool(self.table.set(server, channel_id, watched))
            # the server's row as stored: another process's change to it shows here at once
            ids = frozenset(self.table.channels(server))
            channels = {k: v for k, v in self._channels.items() if k != server}
            if ids:
                channels[server] = ids
            self._channels = channels
        return changed

    # ---- the copy ----------------------------------------------------------------------------

    def is_watched(self, guild_id: int, channel_id: int, parent_id: int | None = None) -> bool:
        """Whether the channel is watched; a thread (`parent_id` given) is watched with its
        channel or forum."""
        ids = self._channels.get(str(guild_id), frozenset())
        return channel_id in ids or (parent_id is not None and parent_id in ids)

    def channels(self, guild_id: int) -> list[int]:
        """The server's watched channel ids, smallest first."""
        return sorted(self._channels.get(str(guild_id), ()))

    # ---- following other processes -----------------------------------------------------------

    @property
    def following(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, run: Runner) -> None:
        """Refresh the copy every `refresh_s` seconds through `run` (the bot's `offload`)."""
        if not self.following:
            self._task = asyncio.get_running_loop().create_task(
                self._follow(run), name="watched-channels"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _follow(self, run: Runner) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await run(self.refresh)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the store is away: keep the copy, retry
                log.warning("watched channels not refreshed (the copy is kept): %s", exc)

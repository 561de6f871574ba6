"""The emulator's state (the world, what the bot did, the gateway sessions), its addresses and
the waiting helpers; every route module is a mixin over this class."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import payloads as P
from .gateway import GatewaySession
from .protocol import API_PREFIX, Interaction, Recorded


class EmulatorState:
    """What every part of the emulator reads and writes; tests read it as `emu.<name>`."""

    def __init__(
        self,
        *,
        token: str = "emulator-token.not-a-secret",
        heartbeat_interval: float = 41.25,
        ack_deadline: float = 3.0,
        followup_window: float = 15 * 60,
        shard_count: int = 1,
        lifetime: float = 600.0,
        require_allowed_mentions: bool = True,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = int(heartbeat_interval * 1000)
        self.ack_deadline = ack_deadline
        self.followup_window = followup_window
        self.shard_count = shard_count
        self.lifetime = lifetime
        self.require_allowed_mentions = require_allowed_mentions
        self.bot_user = P.user("archivist", bot=True)
        self.application_id = self.bot_user["id"]  # as for every modern bot
        # the application's flags: 1 << 19 is the Message Content switch of the Developer Portal
        self.application_flags = 0
        self.owner = P.user("owner")
        self.guilds: dict[str, P.Guild] = {}
        self.users: dict[str, dict] = {self.owner["id"]: self.owner}
        self.commands: dict[str | None, list[dict]] = {}  # guild id (None: global) -> commands
        self.interactions: dict[str, Interaction] = {}
        self.by_token: dict[str, Interaction] = {}
        self.messages: dict[str, dict] = {}  # id -> message (bot's and users')
        self.channel_log: dict[str, list[str]] = {}  # channel id -> message ids in order
        # A copy of every state a bot message was ever shown in (created, filled, edited), so a
        # test can tell what the channel saw at some point, not only what is left at the end.
        self.renders: list[dict] = []
        self.cdn: dict[str, tuple[bytes, str]] = {}
        self.requests: list[Recorded] = []
        self.invalid: list[Recorded] = []  # 4xx answers the bot provoked
        self.unhandled: list[Recorded] = []
        self.sessions: list[GatewaySession] = []
        self.closed_sessions: list[GatewaySession] = []
        self.gateway_queries: list[dict] = []
        self.identify_payloads: list[dict] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self._stopper: asyncio.Task | None = None

    # ---- addresses --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ---- waiting ----------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Waits until predicate() is truthy (re-checked after each request) and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Waits until every shard identified and the global or guild commands were synced."""
        await self.wait_until(
            lambda: (
                len([s for s in self.sessions if s.identified]) == self.shard_count
                and self.commands
            ),
            timeout,
        )

    # ---- where things live ------------------------------------------------------------------

    def shard_of(self, guild_id: str) -> int:
        return (int(guild_id) >> 22) % self.shard_count

    def session_for(self, guild_id: str | None) -> GatewaySession:
        shard = self.shard_of(guild_id) if guild_id else 0
        for s in self.sessions:
            if s.identified and s.shard[0] == shard:
                return s
        raise RuntimeError(f"no identified gateway session for shard {shard}")

    def _guild_of_channel(self, channel_id: str) -> P.Guild | None:
        for g in self.guilds.values():
            if any(c["id"] == channel_id for c in g.channels + g.threads):
                return g
        return None

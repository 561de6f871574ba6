"""A local Discord: the HTTP API and gateway routes a bot uses, strict about Discord's rules.

Start it, point discord.py at it (`emu.patch_discord()` or the bot's DISCORD_API_BASE /
DISCORD_GATEWAY_URL settings), then drive it as users would: `send_interaction`, `click`,
`send_message`, and read what the bot did from `emu.requests`, `emu.messages`, the
`Interaction` records and `emu.sessions[...].heartbeats`.

The emulator is one class assembled from mixins, one module per part of Discord: `state`
(the world and waiting), `guilds` (servers and application commands), `messages` (channels,
threads, forum posts), `invoking` (members running commands and clicking) and `interactions`
(callbacks, followups, deferrals); this module holds its life cycle and HTTP plumbing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .gateway import handle_gateway
from .guilds import COMMAND_NAME, GuildsMixin
from .interactions import (
    CHOICE_NAME_MAX,
    CHOICE_STRING_MAX,
    CHOICES_MAX,
    InteractionRoutes,
    validate_choices,
)
from .invoking import InvokingMixin
from .protocol import (
    API_PREFIX,
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHAT_INPUT,
    EPHEMERAL,
    LOADING,
    MESSAGE_COMMAND,
    RECORDED,
    USER_COMMAND,
    Interaction,
    Recorded,
    discord_error,
    json_response,
)

__all__ = [
    "API_PREFIX",
    "AUTOCOMPLETE",
    "AUTOCOMPLETE_RESULT",
    "CHAT_INPUT",
    "CHOICES_MAX",
    "CHOICE_NAME_MAX",
    "CHOICE_STRING_MAX",
    "COMMAND_NAME",
    "EPHEMERAL",
    "LOADING",
    "MESSAGE_COMMAND",
    "RECORDED",
    "USER_COMMAND",
    "DiscordEmulator",
    "Interaction",
    "Recorded",
    "discord_error",
    "json_response",
    "validate_choices",
]

log = logging.getLogger("discord_emu")


class DiscordEmulator(InteractionRoutes, InvokingMixin, GuildsMixin):
    """A local Discord for one test (or benchmark): start it, connect the bot, drive it."""

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self) -> DiscordEmulator:
        app = web.Application(middlewares=[self._record_middleware], client_max_size=64 * 2**20)
        app.router.add_get("/gateway", lambda r: handle_gateway(self, r))
        app.router.add_get("/cdn/attachments/{channel}/{aid}/{filename}", self._cdn)
        a = API_PREFIX
        app.router.add_get(a + "/users/@me", self._me)
        app.router.add_get(a + "/oauth2/applications/@me", self._application)
        app.router.add_get(a + "/gateway", self._gateway)
        app.router.add_get(a + "/gateway/bot", self._gateway_bot)
        app.router.add_put(a + "/applications/{app}/commands", self._put_commands)
        app.router.add_put(a + "/applications/{app}/guilds/{guild}/commands", self._put_commands)
        app.router.add_get(a + "/applications/{app}/commands", self._get_commands)
        app.router.add_get(a + "/applications/{app}/guilds/{guild}/commands", self._get_commands)
        app.router.add_post(a + "/interactions/{iid}/{token}/callback", self._callback)
        app.router.add_post(a + "/webhooks/{app}/{token}", self._followup)
        hook_msg = a + "/webhooks/{app}/{token}/messages/{mid}"
        app.router.add_get(hook_msg, self._webhook_message)
        app.router.add_patch(hook_msg, self._webhook_message)
        app.router.add_delete(hook_msg, self._webhook_message)
        app.router.add_post(a + "/channels/{cid}/messages", self._channel_post)
        app.router.add_post(a + "/channels/{cid}/typing", self._typing)
        app.router.add_get(a + "/channels/{cid}/messages/{mid}", self._channel_get_message)
        app.router.add_patch(a + "/channels/{cid}/messages/{mid}", self._channel_edit_message)
        app.router.add_post(a + "/channels/{cid}/messages/{mid}/threads", self._thread_from_message)
        app.router.add_route("*", "/{tail:.*}", self._unhandled)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._stopper = asyncio.get_running_loop().create_task(self._stop_later())
        return self

    async def _stop_later(self) -> None:
        await asyncio.sleep(self.lifetime)
        log.warning("emulator lifetime (%ss) is over: stopping", self.lifetime)
        await self.stop()

    async def stop(self) -> None:
        if self._stopper and self._stopper is not asyncio.current_task():
            self._stopper.cancel()
        for s in list(self.sessions):
            await s.ws.close()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def patch_discord(self) -> None:
        """Points discord.py at this emulator (process-wide class attributes)."""
        import discord.gateway
        import discord.http
        import yarl

        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def unacknowledged(self) -> list[Interaction]:
        now = time.monotonic()
        return [
            i
            for i in self.interactions.values()
            if i.acked_at is None and now - i.created_at > self.ack_deadline
        ]

    def heartbeats(self) -> list:
        return [h for s in self.sessions + self.closed_sessions for h in s.heartbeats]

    # ---- HTTP plumbing ----------------------------------------------------------------------

    @web.middleware
    async def _record_middleware(
        self, request: web.Request, handler: Callable
    ) -> web.StreamResponse:
        if request.path.startswith("/gateway") or request.path.startswith("/cdn/"):
            return await handler(request)
        body: Any = None
        raw = await request.read()
        ctype = request.headers.get("Content-Type")
        if raw:
            if ctype == "application/json":
                body = json.loads(raw)
            elif ctype and ctype.startswith("multipart/form-data"):
                body = await self._multipart_json(request)
            else:
                rec = Recorded(request.method, request.path, raw.decode(errors="replace"), 400)
                self.requests.append(rec)
                self.invalid.append(rec)
                return discord_error(400, 50035, f"unexpected Content-Type {ctype!r}")
        rec = Recorded(request.method, request.path, body)
        request[RECORDED] = rec
        self.requests.append(rec)
        needs_auth = not request.path.startswith(
            (API_PREFIX + "/interactions/", API_PREFIX + "/webhooks/")
        )
        if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
            response = discord_error(401, 0, "401: Unauthorized")
        else:
            response = await handler(request)
        rec.status = response.status
        if isinstance(response, web.Response) and response.body:
            rec.answer = json.loads(response.body)  # type: ignore[arg-type]
        if 400 <= response.status < 500 and handler != self._unhandled:
            self.invalid.append(rec)
        self._notify()
        return response

    async def _multipart_json(self, request: web.Request) -> Any:
        reader = await request.multipart()
        body: Any = None
        async for part in reader:
            if part.name == "payload_json":  # type: ignore[union-attr]
                body = json.loads(await part.text())  # type: ignore[union-attr]
        return body

    async def _unhandled(self, request: web.Request) -> web.Response:
        self.unhandled.append(request[RECORDED]) if RECORDED in request else None
        return discord_error(404, 0, "404: Not Found")

    async def _cdn(self, request: web.Request) -> web.Response:
        item = self.cdn.get(request.match_info["aid"])
        if item is None:
            return web.Response(status=404)
        return web.Response(body=item[0], headers={"Content-Type": item[1]})

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": self.application_id,
                "name": "Archivist",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.owner,
                "verify_key": "00" * 32,
                "flags": self.application_flags,
                "bot": self.bot_user,
            }
        )

    async def _gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

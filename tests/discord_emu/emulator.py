"""A local Discord: the HTTP API and gateway routes a bot uses, strict about Discord's rules.

Start it, point discord.py at it (`emu.patch_discord()` or the bot's DISCORD_API_BASE /
DISCORD_GATEWAY_URL settings), then drive it as users would: `send_interaction`, `click`,
`send_message`, and read what the bot did from `emu.requests`, `emu.messages`, the
`Interaction` records and `emu.sessions[...].heartbeats`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import payloads as P
from .gateway import GatewaySession, handle_gateway
from .validation import error_body, validate_message

log = logging.getLogger("discord_emu")

API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6
LOADING = 1 << 7
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3  # application command types
AUTOCOMPLETE = 4  # interaction type APPLICATION_COMMAND_AUTOCOMPLETE
AUTOCOMPLETE_RESULT = 8  # its only valid callback type
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_MAX = 100


@dataclass
class Recorded:
    """One HTTP request the bot made, and what the emulator answered."""

    method: str
    path: str
    body: Any
    status: int = 0
    answer: Any = None
    at: float = field(default_factory=time.monotonic)


RECORDED = web.RequestKey("recorded", Recorded) if hasattr(web, "RequestKey") else "recorded"


@dataclass
class Interaction:
    """An interaction sent to the bot, and everything the bot answered to it."""

    id: str
    token: str
    type: int
    payload: dict
    created_at: float
    ack_type: int | None = None
    acked_at: float | None = None
    original: dict | None = None  # the message the response created (or the clicked message)
    followups: list[dict] = field(default_factory=list)
    edits: list[dict] = field(default_factory=list)  # every payload that changed `original`
    rejected: list[Recorded] = field(default_factory=list)  # answers refused (late, invalid)
    followups_before_delete: int | None = None  # set when the bot deletes `original`
    choices: list[dict] | None = None  # an autocomplete's answer (callback type 8)

    @property
    def answer_seconds(self) -> float | None:
        """How long the bot took to acknowledge (Discord drops autocomplete answers after 3 s)."""
        return None if self.acked_at is None else self.acked_at - self.created_at

    @property
    def reply(self) -> dict | None:
        """The message that answers the invoker: the original response, or once the bot deleted
        it, the first followup sent after that (the error or answer that replaced it)."""
        if self.original is None or self.followups_before_delete is None:
            return self.original
        later = self.followups[self.followups_before_delete :]
        return later[0] if later else None

    @property
    def ephemeral(self) -> bool:
        return bool(self.reply and self.reply.get("flags", 0) & EPHEMERAL)

    @property
    def messages(self) -> list[dict]:
        return ([self.original] if self.original else []) + self.followups


def validate_choices(choices: Any, option_type: int) -> list[tuple[str, str]]:
    """Discord's rules for an autocomplete answer: at most 25 choices, each named in 1 to 100
    characters, with a value of the focused option's type (a string of at most 100)."""
    if not isinstance(choices, list):
        return [("data.choices", "must be an array")]
    problems: list[tuple[str, str]] = []
    if len(choices) > CHOICES_MAX:
        problems.append(("data.choices", f"Must be {CHOICES_MAX} or fewer in length."))
    for i, c in enumerate(choices):
        path = f"data.choices[{i}]"
        name = c.get("name") if isinstance(c, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= CHOICE_NAME_MAX:
            problems.append((f"{path}.name", f"Must be between 1 and {CHOICE_NAME_MAX} in length."))
        value = c.get("value") if isinstance(c, dict) else None
        if option_type == 3:
            ok = isinstance(value, str) and len(value) <= CHOICE_STRING_MAX
        elif option_type == 4:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            problems.append((f"{path}.value", f"not a valid value for option type {option_type}"))
    return problems


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body only when Content-Type is exactly `application/json`.
    body = b"" if data is None else json.dumps(data).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json"})


def discord_error(status: int, code: int, message: str) -> web.Response:
    return json_response({"code": code, "message": message}, status)


class DiscordEmulator:
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
        self._by_token: dict[str, Interaction] = {}
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

    # ---- life cycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

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

    # ---- world building ---------------------------------------------------------------------

    def add_user(self, name: str) -> dict:
        u = P.user(name)
        self.users[u["id"]] = u
        return u

    def add_guild(self, name: str) -> P.Guild:
        """A server (before the bot connects; it gets GUILD_CREATE at identify)."""
        g = P.guild(name, self.owner, self.bot_user)
        self.guilds[g.id] = g
        self.channel_log[g.channel_id] = []
        return g

    async def join_guild(
        self, name: str, *, system_channel: bool = True, bot_may_speak: bool = True
    ) -> P.Guild:
        """The bot is added to a new server while connected. Its first channel is the system
        channel (unless `system_channel` is false); `bot_may_speak=False` denies the bot Send
        Messages there by a channel overwrite."""
        g = self.add_guild(name)
        if system_channel:
            g.system_channel_id = g.channel_id
        if not bot_may_speak:
            g.deny(g.channel_id, self.bot_user["id"], P.SEND_MESSAGES, member=True)
        await self.dispatch_join(g)
        return g

    async def dispatch_join(self, guild: P.Guild) -> None:
        """GUILD_CREATE for a server not in READY: without `unavailable`, which discord.py reads
        as a join (`on_guild_join`), not as a known server coming back."""
        self.guilds[guild.id] = guild
        data = guild.to_gateway()
        del data["unavailable"]
        await self.session_for(guild.id).dispatch("GUILD_CREATE", data)

    async def leave_guild(self, guild: P.Guild) -> None:
        """The bot is removed from a server (GUILD_DELETE without `unavailable`)."""
        self.guilds.pop(guild.id, None)
        await self.session_for(guild.id).dispatch("GUILD_DELETE", {"id": guild.id})

    def add_channel(self, guild: P.Guild, name: str, kind: int = P.TEXT_CHANNEL) -> str:
        """A channel that exists before the bot connects (or that it never hears about)."""
        cid = guild.add_channel(name, kind)
        self.channel_log[cid] = []
        return cid

    async def create_channel(self, guild: P.Guild, name: str, kind: int = P.TEXT_CHANNEL) -> str:
        """A channel created while the bot is connected (CHANNEL_CREATE): `P.FORUM_CHANNEL` for a
        forum."""
        cid = self.add_channel(guild, name, kind)
        await self.session_for(guild.id).dispatch("CHANNEL_CREATE", guild.partial_channel(cid))
        return cid

    async def create_thread(self, channel_id: str, user: dict, name: str) -> str:
        """A member starts a public thread in a text channel (THREAD_CREATE, newly created)."""
        guild = self._guild_of_channel(channel_id)
        assert guild is not None, "threads live in servers"
        thread = guild.add_thread(channel_id, name, user["id"])
        self.channel_log[thread["id"]] = []
        event = thread | {"newly_created": True, "member": self._thread_member(thread, user)}
        await self.session_for(guild.id).dispatch("THREAD_CREATE", event)
        return thread["id"]

    async def create_forum_post(self, forum_id: str, user: dict, title: str, content: str) -> dict:
        """A member posts in a forum channel, as Discord sends it: THREAD_CREATE for the post's
        thread (newly created), then the starter message's MESSAGE_CREATE, whose id is the
        thread's and whose channel_id is the thread."""
        guild = self._guild_of_channel(forum_id)
        assert guild is not None and guild.channel(forum_id)["type"] == P.FORUM_CHANNEL
        thread_id = P.snowflake()
        thread = guild.add_thread(forum_id, title, user["id"], thread_id)
        thread |= {"message_count": 1, "total_message_sent": 1, "last_message_id": thread_id}
        self.channel_log[thread_id] = []
        event = thread | {"newly_created": True, "member": self._thread_member(thread, user)}
        await self.session_for(guild.id).dispatch("THREAD_CREATE", event)
        msg = self._message(thread_id, user, {"content": content}, guild=guild)
        msg["id"] = thread_id
        msg["position"] = 0
        msg["member"] = {k: v for k, v in P.member(user).items() if k != "user"}
        self._store(msg)
        await self._dispatch_message(msg, guild)
        return msg

    def _thread_member(self, thread: dict, user: dict) -> dict:
        return {
            "id": thread["id"],
            "user_id": user["id"],
            "join_timestamp": P.now_iso(),
            "flags": 0,
        }

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

    # ---- driving the bot --------------------------------------------------------------------

    def find_command(self, name: str, guild_id: str | None, kind: int = CHAT_INPUT) -> dict:
        for scope in (guild_id, None):
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", CHAT_INPUT) == kind:
                    return cmd
        raise KeyError(f"command /{name} was not synced (scopes: {list(self.commands)})")

    def _build_options(
        self,
        schema: list[dict],
        values: dict[str, Any],
        resolved: dict,
        channel_id: str,
        *,
        partial: bool = False,
    ) -> list[dict]:
        """The options as Discord sends them; `partial` for autocomplete, where the user has not
        filled in every required option yet."""
        by_name = {o["name"]: o for o in schema}
        out = []
        for name, value in values.items():
            if name not in by_name:
                raise KeyError(f"option {name!r} is not declared (have {sorted(by_name)})")
            opt = by_name[name]
            if opt["type"] == 11:  # attachment: value is (filename, bytes[, content type])
                filename, data, *ctype = value
                att = self.upload_attachment(channel_id, filename, data, *(ctype or []))
                resolved.setdefault("attachments", {})[att["id"]] = att
                value = att["id"]
            elif opt["type"] == 7 and not partial:  # channel: value is its id
                value = self._resolved_channel(opt, str(value), resolved)
            elif opt["type"] == 8 and not partial:  # role: value is its id
                value = self._resolved_role(str(value), resolved, channel_id)
            out.append({"name": name, "type": opt["type"], "value": value})
        for opt in schema:
            if not partial and opt.get("required") and opt["name"] not in values:
                raise KeyError(f"required option {opt['name']!r} missing")
        return out

    def _resolved_role(self, role_id: str, resolved: dict, channel_id: str) -> str:
        """A role option as Discord sends it: the id, and the role in `resolved.roles`."""
        guild = self._guild_of_channel(channel_id)
        role = next((r for r in guild.roles if r["id"] == role_id), None) if guild else None
        if role is None:
            raise KeyError(f"no role {role_id} in the server of channel {channel_id}")
        resolved.setdefault("roles", {})[role_id] = role
        return role_id

    def _resolved_channel(self, option: dict, channel_id: str, resolved: dict) -> str:
        """A channel option as Discord sends it: the id, and a partial channel (with the
        invoker's permissions there) in `resolved.channels`; only of the declared types."""
        guild = self._guild_of_channel(channel_id)
        if guild is None:
            raise KeyError(f"no channel {channel_id}")
        channel = guild.channel(channel_id)
        allowed = option.get("channel_types")
        if allowed and channel["type"] not in allowed:
            raise ValueError(f"channel type {channel['type']} is not one of {allowed}")
        keys = ("id", "name", "type", "parent_id", "nsfw", "position", "topic", "thread_metadata")
        partial = {k: channel[k] for k in keys if channel.get(k) is not None}
        partial["permissions"] = str(P.MEMBER_DEFAULT)
        resolved.setdefault("channels", {})[channel_id] = partial
        return channel_id

    def upload_attachment(
        self, channel_id: str, filename: str, data: bytes, content_type: str = "text/plain"
    ) -> dict:
        aid = P.snowflake()
        self.cdn[aid] = (data, content_type)
        url = f"{self.base_url}/cdn/attachments/{channel_id}/{aid}/{filename}"
        return {
            "id": aid,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    def _base_interaction(
        self,
        itype: int,
        guild: P.Guild | None,
        user: dict,
        channel_id: str | None,
        permissions: int,
        roles: list[str],
    ) -> dict:
        iid = P.snowflake()
        data: dict[str, Any] = {
            "id": iid,
            "application_id": self.application_id,
            "type": itype,
            "token": f"itoken-{iid}",
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 25 * 2**20,
            "app_permissions": str(P.MEMBER_DEFAULT),
        }
        if guild is not None:
            cid = channel_id or guild.channel_id
            data |= {
                "guild_id": guild.id,
                "guild_locale": "en-US",
                "channel_id": cid,
                "channel": guild.partial_channel(cid),
                "member": P.member(user, roles=roles, permissions=permissions),
                "authorizing_integration_owners": {"0": guild.id},
                "context": 0,
            }
        else:
            cid = channel_id or P.snowflake()
            data |= {
                "channel_id": cid,
                "channel": {"id": cid, "type": 1, "recipients": [user]},
                "user": user,
                "authorizing_integration_owners": {"1": user["id"]},
                "context": 1,
            }
        return data

    async def send_interaction(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        guild: P.Guild | None,
        user: dict,
        channel_id: str | None = None,
        permissions: int = P.MEMBER_DEFAULT,
        roles: list[str] | None = None,
    ) -> Interaction:
        """A user runs `/command` ("channel watch" for a subcommand) with these options."""
        name, *sub = command.split()
        cmd = self.find_command(name, guild.id if guild else None)
        base = self._base_interaction(2, guild, user, channel_id, permissions, roles or [])
        resolved: dict = {}
        schema = cmd.get("options", [])
        opts: list[dict]
        if sub:
            subcmd = next(o for o in schema if o["name"] == sub[0] and o["type"] == 1)
            inner = self._build_options(
                subcmd.get("options", []), options or {}, resolved, base["channel_id"]
            )
            opts = [{"name": sub[0], "type": 1, "options": inner}]
        else:
            opts = self._build_options(schema, options or {}, resolved, base["channel_id"])
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": opts}
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        if resolved:
            data["resolved"] = resolved
        base["data"] = data
        return await self._deliver(base)

    async def send_context_menu(
        self,
        name: str,
        message: dict,
        *,
        user: dict,
        permissions: int = P.MEMBER_DEFAULT,
        roles: list[str] | None = None,
    ) -> Interaction:
        """A user right-clicks `message` and picks the app's message command `name` (Apps):
        an APPLICATION_COMMAND interaction whose data has type 3, the message's id as
        `target_id` and the message itself in `resolved.messages`."""
        guild = self.guilds.get(message.get("guild_id", ""))
        cmd = self.find_command(name, guild.id if guild else None, MESSAGE_COMMAND)
        base = self._base_interaction(
            2, guild, user, message["channel_id"], permissions, roles or []
        )
        target = {k: v for k, v in message.items() if k not in ("member", "referenced_message")}
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: target}},
        }
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        base["data"] = data
        return await self._deliver(base)

    async def send_autocomplete(
        self,
        command: str,
        options: dict[str, Any] | None,
        *,
        focused: str,
        guild: P.Guild | None,
        user: dict,
        permissions: int = P.MEMBER_DEFAULT,
        roles: list[str] | None = None,
    ) -> Interaction:
        """A user types in the option `focused` of `/command` (interaction type 4): Discord sends
        the options filled so far, the focused one as the typed text (a string whatever the
        option's type) with `focused: true`, and only for an option declared `autocomplete`."""
        name, *sub = command.split()
        cmd = self.find_command(name, guild.id if guild else None)
        base = self._base_interaction(AUTOCOMPLETE, guild, user, None, permissions, roles or [])
        schema = cmd.get("options", [])
        if sub:
            schema = next(o for o in schema if o["name"] == sub[0] and o["type"] == 1).get(
                "options", []
            )
        declared = next((o for o in schema if o["name"] == focused), None)
        if declared is None or not declared.get("autocomplete"):
            raise KeyError(f"option {focused!r} of /{command} does not autocomplete")
        values = dict(options or {})
        values.setdefault(focused, "")
        opts = self._build_options(schema, values, {}, base["channel_id"], partial=True)
        for o in opts:
            if o["name"] == focused:
                o["value"], o["focused"] = str(o["value"]), True
        if sub:
            opts = [{"name": sub[0], "type": 1, "options": opts}]
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": opts}
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]
        base["data"] = data
        return await self._deliver(base)

    async def click(
        self,
        message: dict,
        custom_id: str,
        *,
        user: dict,
        permissions: int = P.MEMBER_DEFAULT,
        roles: list[str] | None = None,
    ) -> Interaction:
        """A user presses the button `custom_id` on a message the bot sent."""
        ids = [
            c.get("custom_id") for row in message.get("components", []) for c in row["components"]
        ]
        if custom_id not in ids:
            raise KeyError(f"no button {custom_id!r} on that message (have {ids})")
        guild = self.guilds.get(message.get("guild_id", ""))
        base = self._base_interaction(
            3, guild, user, message["channel_id"], permissions, roles or []
        )
        base["message"] = message
        base["data"] = {"custom_id": custom_id, "component_type": 2}
        record = await self._deliver(base)
        record.original = message  # the response to a component edits this message
        return record

    async def _deliver(self, payload: dict) -> Interaction:
        record = Interaction(
            id=payload["id"],
            token=payload["token"],
            type=payload["type"],
            payload=payload,
            created_at=time.monotonic(),
        )
        self.interactions[record.id] = record
        self._by_token[record.token] = record
        await self.session_for(payload.get("guild_id")).dispatch("INTERACTION_CREATE", payload)
        return record

    async def send_message(
        self,
        channel_id: str,
        user: dict,
        content: str,
        *,
        mention_bot: bool = False,
        reply_to: dict | None = None,
    ) -> dict:
        """A user posts in a channel (MESSAGE_CREATE), optionally mentioning or replying."""
        guild = self._guild_of_channel(channel_id)
        if mention_bot:
            content = f"<@{self.bot_user['id']}> {content}"
        msg = self._message(channel_id, user, {"content": content}, guild=guild)
        mentioned = [u for uid, u in self.users.items() if f"<@{uid}>" in content]
        if f"<@{self.bot_user['id']}>" in content:
            mentioned.append(self.bot_user)
        if reply_to is not None:
            msg["type"] = 19
            msg["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": channel_id,
            } | ({"guild_id": guild.id} if guild else {})
            msg["referenced_message"] = reply_to
            if reply_to["author"]["id"] not in [u["id"] for u in mentioned]:
                mentioned.append(reply_to["author"])
        msg["mentions"] = mentioned
        if guild is not None:
            msg["member"] = {k: v for k, v in P.member(user).items() if k != "user"}
        self._store(msg)
        await self._dispatch_message(msg, guild)
        return msg

    async def _dispatch_message(self, msg: dict, guild: P.Guild | None) -> None:
        session = self.session_for(guild.id if guild else None)
        event = dict(msg)
        # Without the Message Content intent Discord blanks content, except for messages that
        # mention the bot, DMs and the bot's own messages.
        privileged = session.intents & P.MESSAGE_CONTENT_INTENT
        own = msg["author"]["id"] == self.bot_user["id"]
        mentions_bot = any(u["id"] == self.bot_user["id"] for u in msg.get("mentions", []))
        if not (privileged or own or mentions_bot or guild is None):
            event |= {"content": "", "embeds": [], "attachments": [], "components": []}
        await session.dispatch("MESSAGE_CREATE", event)

    # ---- inspection -------------------------------------------------------------------------

    def channel_messages(self, channel_id: str) -> list[dict]:
        return [self.messages[m] for m in self.channel_log.get(channel_id, [])]

    def bot_messages(self, channel_id: str) -> list[dict]:
        return [m for m in self.channel_messages(channel_id) if m["author"].get("bot")]

    def public_renders(self, channel_id: str) -> list[dict]:
        """Every state of a bot message that everyone in the channel could read, in order
        (a "thinking..." placeholder has no text of its own and is left out)."""
        return [
            m
            for m in self.renders
            if m["channel_id"] == channel_id and not m.get("flags", 0) & (EPHEMERAL | LOADING)
        ]

    def pings(self) -> list[dict]:
        """Bot messages that would have notified someone (mention_everyone or user mentions)."""
        return [
            m
            for m in self.messages.values()
            if m["author"]["id"] == self.bot_user["id"]
            and (m["mention_everyone"] or m["mentions"] or m["mention_roles"])
        ]

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

    # ---- application commands ---------------------------------------------------------------

    async def _put_commands(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != self.application_id:
            return discord_error(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild")
        body = request[RECORDED].body
        problems = self._validate_commands(body)
        if problems:
            return json_response(error_body(problems), 400)
        stored = []
        for cmd in body:
            out = {k: v for k, v in cmd.items() if v is not None}
            out |= {
                "id": P.snowflake(),
                "application_id": self.application_id,
                "version": P.snowflake(),
            }
            out.setdefault("type", 1)
            out.setdefault("description", "")  # context menus have none; Discord answers ""
            if "default_member_permissions" in out:  # Discord answers with a string
                out["default_member_permissions"] = str(out["default_member_permissions"])
            if guild_id:
                out["guild_id"] = guild_id
            stored.append(out)
        self.commands[guild_id] = stored
        return json_response(stored)

    def _validate_commands(self, body: Any) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not isinstance(body, list) or len(body) > 100:
            return [("", "expected a list of at most 100 commands")]

        def check(path: str, item: dict, level: int) -> None:
            name = item.get("name", "")
            if level == 0 and item.get("type", CHAT_INPUT) in (USER_COMMAND, MESSAGE_COMMAND):
                # context menus: any case and spaces, no description, no options
                if not isinstance(name, str) or not 1 <= len(name) <= 32:
                    problems.append((f"{path}.name", "must be 1 to 32 characters"))
                if item.get("description") or item.get("options"):
                    problems.append((path, "context menu commands take no description or options"))
                return
            if not COMMAND_NAME.match(name) or name != name.lower():
                problems.append((f"{path}.name", f"invalid command name {name!r}"))
            if item.get("type", 1) == 1 and not 1 <= len(item.get("description", "")) <= 100:
                problems.append((f"{path}.description", "must be 1 to 100 characters"))
            opts = item.get("options") or []
            if len(opts) > 25:
                problems.append((f"{path}.options", "Must be 25 or fewer in length."))
            seen_optional = False
            for i, o in enumerate(opts):
                if o["type"] in (1, 2):
                    if level >= 2:
                        problems.append((f"{path}.options[{i}]", "subcommands nest too deep"))
                    check(f"{path}.options[{i}]", o, level + 1)
                    continue
                if o.get("autocomplete") and (o.get("choices") or o["type"] not in (3, 4, 10)):
                    problems.append(
                        (
                            f"{path}.options[{i}]",
                            "autocomplete is for string or number options without choices",
                        )
                    )
                if o.get("required"):
                    if seen_optional:
                        problems.append((f"{path}.options[{i}]", "required options come first"))
                else:
                    seen_optional = True
                check(f"{path}.options[{i}]", o, 99)

        for i, cmd in enumerate(body):
            check(f"[{i}]", cmd, 0)
        return problems

    async def _get_commands(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != self.application_id:
            return discord_error(403, 50001, "Missing Access")
        return json_response(self.commands.get(request.match_info.get("guild"), []))

    # ---- messages ---------------------------------------------------------------------------

    def _message(self, channel_id: str, author: dict, body: dict, *, guild: P.Guild | None) -> dict:
        msg: dict[str, Any] = {
            "id": P.snowflake(),
            "channel_id": channel_id,
            "author": author,
            "content": body.get("content") or "",
            "timestamp": P.now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags", 0) or 0,
        }
        if guild is not None:
            msg["guild_id"] = guild.id
        return msg

    def _store(self, msg: dict) -> None:
        self.messages[msg["id"]] = msg
        self.channel_log.setdefault(msg["channel_id"], []).append(msg["id"])
        self._rendered(msg)

    def _rendered(self, msg: dict) -> None:
        if msg["author"]["id"] == self.bot_user["id"]:
            self.renders.append(json.loads(json.dumps(msg)))

    def _apply_mentions(self, msg: dict, body: dict) -> None:
        """What Discord would notify: parse the content under the allowed_mentions rules."""
        am = body.get("allowed_mentions")
        parse = set(am.get("parse", [])) if isinstance(am, dict) else {"users", "roles", "everyone"}
        allowed_users = set(am.get("users", [])) if isinstance(am, dict) else set()
        content = msg["content"]
        msg["mention_everyone"] = "everyone" in parse and bool(
            re.search(r"@(everyone|here)", content)
        )
        ids = re.findall(r"<@!?(\d+)>", content)
        msg["mentions"] = [
            self.users[i]
            for i in ids
            if i in self.users and ("users" in parse or i in allowed_users)
        ]
        roles = re.findall(r"<@&(\d+)>", content)
        msg["mention_roles"] = roles if "roles" in parse else []
        msg["allowed_mentions"] = am  # kept for the tests' assertions

    def _check_body(self, body: Any, *, require_text: bool = True) -> web.Response | None:
        if not isinstance(body, dict):
            return json_response(error_body([("", "body must be a JSON object")]), 400)
        problems = validate_message(body, require_allowed_mentions=self.require_allowed_mentions)
        if require_text and not (
            body.get("content") or body.get("embeds") or body.get("components")
        ):
            problems.append(("", "Cannot send an empty message"))
        if problems:
            return json_response(error_body(problems), 400)
        return None

    def _bot_message(self, channel_id: str, body: dict, **extra: Any) -> dict:
        guild = self._guild_of_channel(channel_id)
        msg = self._message(channel_id, self.bot_user, body, guild=guild) | extra
        if "message_reference" in body:
            # Discord answers with snowflakes as strings, whatever the request used.
            ref = {
                k: str(v) if k.endswith("_id") else v for k, v in body["message_reference"].items()
            }
            msg["type"] = 19
            msg["message_reference"] = ref
            if ref.get("message_id") in self.messages:
                msg["referenced_message"] = self.messages[ref["message_id"]]
        self._apply_mentions(msg, body)
        return msg

    def _edit(self, msg: dict, body: dict) -> None:
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                msg[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        msg["edited_timestamp"] = P.now_iso()
        self._apply_mentions(
            msg,
            body
            | (
                {}
                if "allowed_mentions" in body
                else {"allowed_mentions": msg.get("allowed_mentions")}
            ),
        )

    async def _channel_post(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        guild = self._guild_of_channel(cid)
        if guild is None:
            return discord_error(404, 10003, "Unknown Channel")
        if guild.denied(cid, self.bot_user["id"], P.SEND_MESSAGES):
            return discord_error(403, 50013, "Missing Permissions")
        body = request[RECORDED].body
        if (bad := self._check_body(body)) is not None:
            return bad
        msg = self._bot_message(cid, body)
        self._store(msg)
        await self._dispatch_message(msg, guild)
        return json_response(msg)

    async def _typing(self, request: web.Request) -> web.Response:
        if self._guild_of_channel(request.match_info["cid"]) is None:
            return discord_error(404, 10003, "Unknown Channel")
        return web.Response(status=204)

    async def _channel_get_message(self, request: web.Request) -> web.Response:
        msg = self.messages.get(request.match_info["mid"])
        if msg is None or msg["channel_id"] != request.match_info["cid"]:
            return discord_error(404, 10008, "Unknown Message")
        return json_response(msg)

    async def _channel_edit_message(self, request: web.Request) -> web.Response:
        msg = self.messages.get(request.match_info["mid"])
        if msg is None or msg["author"]["id"] != self.bot_user["id"]:
            return discord_error(404, 10008, "Unknown Message")
        body = request[RECORDED].body
        if (bad := self._check_body(body, require_text=False)) is not None:
            return bad
        self._edit(msg, body)
        self._rendered(msg)
        return json_response(msg)

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        """Start a public thread on a message of a text channel: the thread's id is the
        message's, one thread per message, a name of 1-100 characters (THREAD_CREATE)."""
        cid, mid = request.match_info["cid"], request.match_info["mid"]
        guild = self._guild_of_channel(cid)
        msg = self.messages.get(mid)
        if guild is None or msg is None or msg["channel_id"] != cid:
            return discord_error(404, 10008, "Unknown Message")
        if guild.channel(cid)["type"] != P.TEXT_CHANNEL:
            return discord_error(400, 50024, "Cannot execute action on this channel type")
        if any(t["id"] == mid for t in guild.threads):
            return discord_error(400, 160004, "A thread has already been created for this message")
        name = (request[RECORDED].body or {}).get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            return discord_error(400, 50035, "Invalid Form Body (name)")
        thread = guild.add_thread(cid, name, self.bot_user["id"], mid)
        self.channel_log[mid] = []
        member = self._thread_member(thread, self.bot_user)
        event = thread | {"newly_created": True, "member": member}
        await self.session_for(guild.id).dispatch("THREAD_CREATE", event)
        return json_response(thread | {"member": member})

    # ---- interactions -----------------------------------------------------------------------

    async def _callback(self, request: web.Request) -> web.Response:
        record = self.interactions.get(request.match_info["iid"])
        rec: Recorded = request[RECORDED]
        if record is None or record.token != request.match_info["token"]:
            return discord_error(404, 10062, "Unknown interaction")
        if time.monotonic() - record.created_at > self.ack_deadline:
            record.rejected.append(rec)
            return discord_error(404, 10062, "Unknown interaction")
        if record.acked_at is not None:
            record.rejected.append(rec)
            return discord_error(400, 40060, "Interaction has already been acknowledged.")
        body = rec.body or {}
        rtype = body.get("type")
        data = body.get("data") or {}
        if (rtype == AUTOCOMPLETE_RESULT) != (record.type == AUTOCOMPLETE):
            record.rejected.append(rec)
            return json_response(
                error_body([("type", "autocomplete is answered by type 8, and only it")]), 400
            )
        if rtype == AUTOCOMPLETE_RESULT:
            return self._autocomplete_result(record, rec, data)
        if rtype not in (4, 5, 6, 7, 9):
            return json_response(error_body([("type", f"invalid callback type {rtype!r}")]), 400)
        if rtype in (6, 7) and record.type != 3:
            return json_response(error_body([("type", "only component interactions update")]), 400)
        if rtype in (4, 7) and (bad := self._check_body(data, require_text=rtype == 4)) is not None:
            record.rejected.append(rec)
            return bad
        record.ack_type, record.acked_at = rtype, time.monotonic()
        channel_id = record.payload["channel_id"]
        if rtype in (4, 5):
            metadata = {"id": record.id, "type": record.type, "user": self._invoker(record)}
            command = record.payload.get("data") or {}
            if record.type == 2 and command.get("type") == MESSAGE_COMMAND:
                metadata["target_message_id"] = command["target_id"]
            msg = self._bot_message(
                channel_id,
                data,
                webhook_id=self.application_id,
                application_id=self.application_id,
                interaction_metadata=metadata,
            )
            if rtype == 5:
                msg["flags"] = (data.get("flags", 0) or 0) | LOADING
            record.original = msg
            record.edits.append(data)
            self._store(msg)
        elif rtype == 7:
            assert record.original is not None
            self._edit(record.original, data)
            self._rendered(record.original)
            record.edits.append(data)
        answer: dict[str, Any] = {
            "interaction": {
                "id": record.id,
                "type": record.type,
                "response_message_loading": rtype == 5,
                "response_message_ephemeral": bool((data.get("flags") or 0) & EPHEMERAL),
            }
        }
        if record.original is not None and rtype != 6:
            answer["interaction"]["response_message_id"] = record.original["id"]
            answer["resource"] = {"type": rtype, "message": record.original}
        return json_response(answer)

    def _autocomplete_result(self, record: Interaction, rec: Recorded, data: dict) -> web.Response:
        problems = validate_choices(data.get("choices"), self._focused_type(record))
        if problems:
            record.rejected.append(rec)
            return json_response(error_body(problems), 400)
        record.ack_type, record.acked_at = AUTOCOMPLETE_RESULT, time.monotonic()
        record.choices = data["choices"]
        # discord.py asks `with_response`: the callback's summary, with no message resource.
        return json_response({"interaction": {"id": record.id, "type": record.type}})

    def _focused_type(self, record: Interaction) -> int:
        opts = record.payload["data"]["options"]
        while opts and opts[0]["type"] in (1, 2):
            opts = opts[0].get("options", [])
        return next(o["type"] for o in opts if o.get("focused"))

    def _invoker(self, record: Interaction) -> dict:
        p = record.payload
        return p["member"]["user"] if "member" in p else p["user"]

    def _webhook_record(self, request: web.Request) -> Interaction | web.Response:
        record = self._by_token.get(request.match_info["token"])
        if record is None or request.match_info["app"] != self.application_id:
            return discord_error(404, 10015, "Unknown Webhook")
        if time.monotonic() - record.created_at > self.followup_window:
            record.rejected.append(request[RECORDED])
            return discord_error(401, 50027, "Invalid Webhook Token")
        if record.acked_at is None:
            record.rejected.append(request[RECORDED])
            return discord_error(404, 10015, "Unknown Webhook")  # nothing to follow up yet
        return record

    async def _followup(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        if isinstance(record, web.Response):
            return record
        body = request[RECORDED].body
        if (bad := self._check_body(body)) is not None:
            record.rejected.append(request[RECORDED])
            return bad
        original = record.original
        if record.ack_type == 5 and original is not None and original["flags"] & LOADING:
            if not original.get("deleted"):  # once deleted, a followup is a message of its own
                return self._fill_deferred(record, original, body)
        msg = self._bot_message(record.payload["channel_id"], body, webhook_id=self.application_id)
        self._store(msg)
        record.followups.append(msg)
        return json_response(msg)

    def _fill_deferred(self, record: Interaction, original: dict, body: dict) -> web.Response:
        """Discord's rule for the first followup after a deferral: it fills the loading message,
        and "the flags field will be ignored, and the ephemerality of the message will be
        determined by the flags value in your original ACK" (Create Followup Message). So an
        "ephemeral" error after a public defer is shown to the whole channel."""
        visibility = original["flags"] & EPHEMERAL
        self._edit(original, body)
        original["flags"] = visibility | ((body.get("flags", 0) or 0) & ~(EPHEMERAL | LOADING))
        record.edits.append(body)
        self._rendered(original)
        return json_response(original)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        record = self._webhook_record(request)
        if isinstance(record, web.Response):
            return record
        mid = request.match_info["mid"]
        if mid == "@original":
            msg = record.original
        else:
            msg = next((m for m in record.messages if m["id"] == mid), None)
        if msg is None or msg.get("deleted"):
            return discord_error(404, 10008, "Unknown Message")
        if request.method == "GET":
            return json_response(msg)
        if request.method == "DELETE":
            self.channel_log[msg["channel_id"]].remove(msg["id"])
            msg["deleted"] = True
            if msg is record.original:
                record.followups_before_delete = len(record.followups)
            # "Returns 204 No Content": no body and no JSON content type (discord.py would
            # try to parse an empty body as JSON).
            return web.Response(status=204)
        body = request[RECORDED].body
        if (bad := self._check_body(body, require_text=False)) is not None:
            record.rejected.append(request[RECORDED])
            return bad
        self._edit(msg, body)
        msg["flags"] = msg.get("flags", 0) & ~LOADING
        record.edits.append(body)
        self._rendered(msg)
        return json_response(msg)

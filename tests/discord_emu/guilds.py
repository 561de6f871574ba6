"""World building (users, servers, channels, joins and leaves) and the application command
routes, with Discord's rules for command names, descriptions and options."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from . import payloads as P
from .protocol import (
    CHAT_INPUT,
    MESSAGE_COMMAND,
    RECORDED,
    USER_COMMAND,
    discord_error,
    json_response,
)
from .state import EmulatorState
from .validation import error_body

COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


class GuildsMixin(EmulatorState):
    """The servers the bot is in, and the commands it synced to them."""

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

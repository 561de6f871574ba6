"""Members invoking the bot: slash commands (with their options as Discord resolves them),
context menus, autocomplete and button clicks, each delivered as INTERACTION_CREATE."""

from __future__ import annotations

import time
from typing import Any

from . import payloads as P
from .protocol import AUTOCOMPLETE, CHAT_INPUT, MESSAGE_COMMAND, Interaction
from .state import EmulatorState


class InvokingMixin(EmulatorState):
    """Members running the bot's commands and pressing its buttons."""

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

    def base_interaction(
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
        base = self.base_interaction(2, guild, user, channel_id, permissions, roles or [])
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
        base = self.base_interaction(
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
        base = self.base_interaction(AUTOCOMPLETE, guild, user, None, permissions, roles or [])
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
        base = self.base_interaction(
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
        self.by_token[record.token] = record
        await self.session_for(payload.get("guild_id")).dispatch("INTERACTION_CREATE", payload)
        return record

"""Builders for the JSON objects Discord sends: users, members, guilds, channels, messages.

Absent fields are omitted, never sent as null: discord.py reads some of them with `data[...]`
and some with `.get`, and Discord itself omits most optional fields.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count(1)

# Permission bits the tests use.
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
USE_APPLICATION_COMMANDS = 1 << 31
MEMBER_DEFAULT = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY | (USE_APPLICATION_COMMANDS)
)

MESSAGE_CONTENT_INTENT = 1 << 15

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types)
TEXT_CHANNEL, PUBLIC_THREAD, FORUM_CHANNEL = 0, 11, 15


def snowflake() -> str:
    """A fresh, increasing snowflake (as Discord sends them: a string)."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (next(_counter) & 0x3FFFFF))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user(name: str, *, bot: bool = False, user_id: str | None = None) -> dict:
    data = {
        "id": user_id or snowflake(),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,  # discord.py reads it with data['avatar'] and Discord sends null
        "public_flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


def member(u: dict, *, roles: list[str] | None = None, permissions: int | None = None) -> dict:
    data = {
        "user": u,
        "roles": list(roles or []),
        "joined_at": now_iso(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }
    if permissions is not None:  # only interactions carry the computed permissions
        data["permissions"] = str(permissions)
    return data


@dataclass
class Guild:
    id: str
    name: str
    owner: dict
    channels: list[dict] = field(default_factory=list)
    roles: list[dict] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)
    system_channel_id: str | None = None  # where Discord posts join messages; the bot may too
    threads: list[dict] = field(default_factory=list)  # active threads (forum posts included)

    @property
    def channel_id(self) -> str:
        """The first text channel ("general")."""
        return self.channels[0]["id"]

    def add_channel(self, name: str, kind: int = TEXT_CHANNEL) -> str:
        cid = snowflake()
        self.channels.append(
            {
                "id": cid,
                "type": kind,
                "name": name,
                "position": len(self.channels),
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "topic": None,
            }
        )
        return cid

    def add_thread(
        self, parent_id: str, name: str, owner_id: str, thread_id: str | None = None
    ) -> dict:
        """A public thread of a text channel, or a forum post (its id is its starter message's)."""
        self.channel(parent_id)  # the parent must exist
        thread = {
            "id": thread_id or snowflake(),
            "guild_id": self.id,
            "parent_id": parent_id,
            "owner_id": owner_id,
            "type": PUBLIC_THREAD,
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now_iso(),
                "locked": False,
                "create_timestamp": now_iso(),
            },
        }
        self.threads.append(thread)
        return thread

    def channel(self, channel_id: str) -> dict:
        """A channel or an active thread of this server (KeyError if it has none by that id)."""
        for c in self.channels + self.threads:
            if c["id"] == channel_id:
                return c
        raise KeyError(f"no channel {channel_id} in {self.name}")

    def add_role(self, name: str, permissions: int = 0) -> str:
        rid = snowflake()
        self.roles.append(_role(rid, name, permissions, position=len(self.roles)))
        return rid

    def deny(self, channel_id: str, target_id: str, permissions: int, *, member: bool) -> None:
        """A permission overwrite on a channel denying `permissions` to a member or a role."""
        ch = next(c for c in self.channels if c["id"] == channel_id)
        ch["permission_overwrites"].append(
            {"id": target_id, "type": 1 if member else 0, "allow": "0", "deny": str(permissions)}
        )

    def denied(self, channel_id: str, member_id: str, permission: int) -> bool:
        """Whether an overwrite on the channel denies `permission` to this member or @everyone
        (the emulator's members have no other roles)."""
        ch = self.channel(channel_id)
        if ch["type"] == PUBLIC_THREAD:  # a thread follows its parent's overwrites
            ch = self.channel(ch["parent_id"])
        return any(
            o["id"] in (member_id, self.id) and int(o["deny"]) & permission
            for o in ch["permission_overwrites"]
        )

    def role_named(self, name: str) -> dict:
        return next(r for r in self.roles if r["name"] == name)

    def to_gateway(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "owner_id": self.owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_id": self.system_channel_id,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": self.roles,
            "channels": self.channels,
            "threads": self.threads,
            "members": self.members,
            "member_count": len(self.members),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "large": False,
            "unavailable": False,
            "joined_at": now_iso(),
            "premium_progress_bar_enabled": False,
        }

    def partial_channel(self, channel_id: str) -> dict:
        return {**self.channel(channel_id), "guild_id": self.id}


def _role(rid: str, name: str, permissions: int, position: int) -> dict:
    return {
        "id": rid,
        "name": name,
        "color": 0,
        "hoist": False,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild(name: str, owner: dict, bot_user: dict) -> Guild:
    gid = snowflake()
    g = Guild(id=gid, name=name, owner=owner)
    g.roles.append(_role(gid, "@everyone", MEMBER_DEFAULT, 0))  # @everyone's id is the guild's
    g.add_channel("general")
    g.members.append(member(owner))
    g.members.append(member(bot_user))
    return g

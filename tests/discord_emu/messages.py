"""Messages, channels, threads and forum posts: the channel routes the bot calls, what members
post, and what each message looked like to whom (mentions, Message Content intent, renders)."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from . import payloads as P
from .protocol import EPHEMERAL, LOADING, RECORDED, discord_error, json_response
from .state import EmulatorState
from .validation import error_body, validate_message


class MessagesMixin(EmulatorState):
    """Channels and what is posted in them, by members or by the bot."""

    # ---- members posting --------------------------------------------------------------------

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

    # ---- building and storing messages ------------------------------------------------------

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

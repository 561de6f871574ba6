"""What the emulator records of the bot's requests and interactions, Discord's constants they
refer to, and its JSON answers (shared by every route module)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6
LOADING = 1 << 7
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3  # application command types
AUTOCOMPLETE = 4  # interaction type APPLICATION_COMMAND_AUTOCOMPLETE
AUTOCOMPLETE_RESULT = 8  # its only valid callback type


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


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body only when Content-Type is exactly `application/json`.
    body = b"" if data is None else json.dumps(data).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": "application/json"})


def discord_error(status: int, code: int, message: str) -> web.Response:
    return json_response({"code": code, "message": message}, status)

"""The interaction routes: callbacks (and which types answer what), followups, the deferral rules
and the webhook message routes, with the acknowledgement and followup deadlines."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .messages import MessagesMixin
from .protocol import (
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    EPHEMERAL,
    LOADING,
    MESSAGE_COMMAND,
    RECORDED,
    Interaction,
    Recorded,
    discord_error,
    json_response,
)
from .validation import error_body

CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_STRING_MAX = 100


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


class InteractionRoutes(MessagesMixin):
    """How the bot answers an interaction, under Discord's rules and deadlines."""

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
        record = self.by_token.get(request.match_info["token"])
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

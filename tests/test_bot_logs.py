"""Logs an operator can search: one line a command (JSON lines with ARCHIVIST_LOG_FORMAT=json),
a bug's traceback once with the id its member sees, and never a question or the token at INFO."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from discord_emu.harness import article, articles_json, message_text, reply_to, running_bot

from archivist import logs
from archivist.config import load_settings
from archivist.errors import ConfigError

QUESTION = "When will the quokkaville library open on Sundays?"
SECRET_WORD = "quokkaville"


def run(coro):
    return asyncio.run(coro)


@contextmanager
def log_lines(log_format: str, level: int = logging.INFO) -> Iterator[io.StringIO]:
    """What the bot logs at `level` and above, formatted as `archivist bot` formats it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter(log_format))
    handler.setLevel(level)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(min(old_level or level, level))
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def ask_and_refuse(tmp_path, log_format: str) -> tuple[list[str], str, str]:
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("library", extra="Sunday opening starts in March.")])
            rec = await h.command("ask", {"question": QUESTION})
            assert "Library hours" in message_text(rec.original)
            await h.command("upload", {}, admin=True)  # refused: nothing attached
            return h.guild.id, h.emu.token

    with log_lines(log_format) as out:
        guild_id, token = run(scenario())
    return out.getvalue().splitlines(), guild_id, token


def test_json_lines_one_a_command_with_guild_duration_and_outcome(tmp_path):
    lines, guild_id, _ = ask_and_refuse(tmp_path, "json")
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    commands = {e["command"]: e for e in events if e.get("command") and "duration" in e}
    ask, upload = commands["ask"], commands["upload"]
    assert {"time", "level", "logger", "event"} <= set(ask)
    assert (ask["level"], ask["guild_id"], ask["outcome"]) == ("INFO", int(guild_id), "ok")
    assert isinstance(ask["duration"], float) and ask["duration"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", ask["time"])
    assert (upload["outcome"], upload["guild_id"]) == ("refused", int(guild_id))
    assert sum(1 for e in events if e.get("command") == "ask" and "duration" in e) == 1


def test_text_lines_carry_the_same_fields(tmp_path):
    lines, guild_id, _ = ask_and_refuse(tmp_path, "text")
    ask = [line for line in lines if "command ask: ok" in line]
    assert len(ask) == 1
    assert f"guild_id={guild_id}" in ask[0] and "outcome=ok" in ask[0] and "duration=" in ask[0]
    assert " INFO archivist.bot: " in ask[0]


def test_no_question_text_or_token_in_logs_at_info(tmp_path):
    lines, _, token = ask_and_refuse(tmp_path, "json")
    text = "\n".join(lines)
    assert lines  # the bot did log its commands
    assert SECRET_WORD not in text.lower()
    assert token not in text
    assert "Attach a file" not in text  # a refusal's wording can quote what was typed


def test_an_unexpected_error_is_logged_once_with_the_id_its_member_sees(tmp_path):
    from discord import Interaction, app_commands

    @app_commands.command(name="explode")
    async def explode(interaction: Interaction) -> None:
        """Fails like a bug would."""
        raise RuntimeError("a bug in the bot")

    async def scenario():
        async with running_bot(tmp_path) as h:
            h.bot.tree.add_command(explode)
            await h.bot.tree.sync()
            rec = await h.command("explode")
            return rec.reply or rec.original, rec.ephemeral

    with log_lines("json") as out:
        reply, ephemeral = run(scenario())
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    shown = re.search(r"\(error ([0-9a-f]{8}), logged\)", reply["content"])
    assert shown and ephemeral
    assert reply["content"].startswith("Something went wrong on my side")
    error_id = shown.group(1)
    tracebacks = [e for e in events if "traceback" in e]
    assert len(tracebacks) == 1
    assert tracebacks[0]["error_id"] == error_id and tracebacks[0]["level"] == "ERROR"
    assert "RuntimeError: a bug in the bot" in tracebacks[0]["traceback"]
    assert error_id in tracebacks[0]["event"]
    line = next(e for e in events if e.get("command") == "explode" and "duration" in e)
    assert line["outcome"] == "error"


def test_a_bug_answering_a_mention_or_storing_an_upload_shows_the_id_the_log_has(
    tmp_path, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the core")

    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("library")])
            monkeypatch.setattr(h.archive, "ask", broken)
            monkeypatch.setattr(h.archive, "add_bytes", broken)
            asked = await h.emu.send_message(
                h.guild.channel_id, h.member, "when does the library open?", mention_bot=True
            )
            reply = await reply_to(h, asked)
            wind = {"file": articles_json([article("wind")])}
            upload = await h.command("upload", wind, admin=True)
            final = await h.wait_final(upload, "Failed", timeout=30)
            return reply["content"], message_text(final)

    with log_lines("json") as out:
        answered, uploaded = run(scenario())
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    logged = [e["error_id"] for e in events if "traceback" in e]
    # the upload's line is markdown-escaped in its embed
    seen = r"\\?\(error ([0-9a-f]{8}), logged\\?\)"
    shown = [re.findall(seen, text) for text in (answered, uploaded)]
    assert answered.startswith("Something went wrong on my side")
    assert "articles.json: Something went wrong on my side" in uploaded
    assert shown == [[logged[0]], [logged[1]]] and len(logged) == 2


def test_configure_replaces_the_handlers_and_writes_json(monkeypatch):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    try:
        logs.configure("info", "json", stream=out)
        assert len(root.handlers) == 1
        logging.getLogger("archivist.bot").info(
            "stopped", extra={"duration": 1.5, "guild_id": 42, "outcome": "ok"}
        )
        logging.getLogger("archivist.bot").debug("not at INFO")
        # httpx names each URL it fetches at INFO: a member's upload URL or feed
        logging.getLogger("httpx").info("HTTP Request: GET https://example.org/members-page")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    (line,) = out.getvalue().splitlines()
    event = json.loads(line)
    assert (event["event"], event["duration"], event["guild_id"], event["outcome"]) == (
        "stopped",
        1.5,
        42,
        "ok",
    )


def test_log_format_setting(monkeypatch):
    monkeypatch.delenv("ARCHIVIST_LOG_FORMAT", raising=False)
    assert load_settings(dotenv=False).log_format == "text"
    monkeypatch.setenv("ARCHIVIST_LOG_FORMAT", "JSON")
    assert load_settings(dotenv=False).log_format == "json"
    monkeypatch.setenv("ARCHIVIST_LOG_FORMAT", "yaml")
    with pytest.raises(ConfigError) as caught:
        load_settings(dotenv=False)
    assert str(caught.value) == "ARCHIVIST_LOG_FORMAT must be text or json, got 'yaml'"

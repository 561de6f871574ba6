"""The token never reaches a log line or a user-facing message, even at DEBUG."""

from __future__ import annotations

import asyncio
import logging

from discord_emu.harness import message_text, running_bot


def test_token_never_logged_even_on_errors(tmp_path, caplog):
    async def scenario():
        async with running_bot(tmp_path) as h:
            token = h.emu.token
            rec = await h.command("ask", {"question": "Anything about ferries?"})
            await h.command("article", {"id": "no-such-id"})
            return token, [message_text(rec.original)]

    with caplog.at_level(logging.DEBUG):
        token, replies = asyncio.run(scenario())
    assert len(token) > 20
    logged = "\n".join(r.getMessage() + " " + str(r.exc_info or "") for r in caplog.records)
    assert (
        "IDENTIFY" in logged or "READY" in logged or "shard" in logged.lower()
    )  # logs were captured
    assert token not in logged
    assert all(token not in reply for reply in replies)


def test_cli_bot_without_token_says_how(tmp_path):
    from click.testing import CliRunner

    from archivist.cli import cli

    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "bot"])
    assert result.exit_code == 2
    assert "DISCORD_TOKEN is not set" in result.output

"""/help and the welcome posted when the bot joins a server, through the real discord.py client
and the local Discord emulator."""

from __future__ import annotations

import asyncio
import re

import discord
from discord_emu.harness import message_text, running_bot

from bot import render


def run(coro):
    return asyncio.run(coro)


def command_names(commands: list[dict]) -> set[str]:
    """How members type each synced command: "/feed add" for a subcommand, the name otherwise
    (a message context menu, type 3, is named as it is shown)."""
    names: set[str] = set()
    for cmd in commands:
        prefix = "/" if cmd.get("type", 1) == 1 else ""
        subs = [o["name"] for o in cmd.get("options", []) if o["type"] in (1, 2)]
        names |= {f"{prefix}{cmd['name']} {s}" for s in subs} or {prefix + cmd["name"]}
    return names


def mentioned(name: str, text: str) -> bool:
    """/feed add is named in help as "/feed add" or in a group "/feed add|list|remove"."""
    if name in text:
        return True
    group, _, sub = name.partition(" ")
    return any(
        sub in chunk.split("|")
        for chunk in (part.split("`")[0] for part in text.split(f"`{group} ")[1:])
    )


def test_help_is_private_and_names_every_registered_command(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            rec = await h.command("help")
            assert rec.ack_type == 4 and rec.ephemeral
            text = message_text(rec.original)
            assert "What is stored about you" in text
            names = command_names(h.emu.commands[None])
            assert "/help" in names and "/ask" in names
            assert {"/insights", "/settings"} <= names  # the community cog is loaded at start
            # every command but /help itself, which the member is reading
            missing = sorted(n for n in names - {"/help"} if not mentioned(n, text))
            assert not missing, f"/help does not name {missing}"
            links = rec.original["embeds"][0]["fields"][-1]
            assert links["name"] == "Links"
            assert f"client_id={h.emu.application_id}" in links["value"]
            # threads need both: watched forums and threads are answered inside them
            asked = discord.Permissions(int(re.search(r"permissions=(\d+)", links["value"])[1]))
            assert asked.create_public_threads and asked.send_messages_in_threads

    run(scenario())


def test_welcome_once_in_the_system_channel_of_a_new_server(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            assert not h.emu.bot_messages(h.guild.channel_id)  # no welcome for known servers
            beta = await h.emu.join_guild("Beta")
            welcome = await h.emu.wait_until(lambda: h.emu.bot_messages(beta.channel_id))
            assert [m["content"] for m in welcome] == [render.WELCOME]
            assert "/help" in welcome[0]["content"]
            # removed and added again in the same run: still one welcome
            await h.emu.leave_guild(beta)
            await h.emu.wait_until(lambda: h.bot.get_guild(int(beta.id)) is None)
            await h.emu.dispatch_join(beta)
            await h.emu.wait_until(lambda: h.bot.get_guild(int(beta.id)) is not None)
            await asyncio.sleep(0.2)
            assert len(h.emu.bot_messages(beta.channel_id)) == 1

    run(scenario())


def test_no_welcome_where_the_bot_may_not_speak_or_there_is_no_system_channel(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            muted = await h.emu.join_guild("Muted", bot_may_speak=False)
            silent = await h.emu.join_guild("Quiet", system_channel=False)
            control = await h.emu.join_guild("Open")
            # the welcome of the last server joined shows the first two were handled already
            await h.emu.wait_until(lambda: h.emu.bot_messages(control.channel_id))
            await h.emu.wait_until(lambda: h.bot.get_guild(int(silent.id)) is not None)
            assert not h.emu.bot_messages(muted.channel_id)
            assert not h.emu.bot_messages(silent.channel_id)
            assert not h.emu.invalid  # it did not even try where it may not speak

    run(scenario())

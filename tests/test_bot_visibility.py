"""Who sees what after a deferral, as Discord decides it, through the real discord.py client.

Discord's rule (Create Followup Message): the first followup to a deferred response ignores its
own `flags`; it fills the "thinking..." message with the deferral's visibility. Once the bot has
deleted that message, a followup is a message of its own, with its own flags.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord
import pytest
from discord import app_commands
from discord_emu.emulator import EPHEMERAL, DiscordEmulator, Interaction
from discord_emu.harness import message_text, running_bot

NO_PINGS = discord.AllowedMentions.none()


def run(coro):
    return asyncio.run(coro)


def public_texts(emu: DiscordEmulator, channel_id: str) -> list[str]:
    """Everything the channel could read from the bot at any moment."""
    return [message_text(m) for m in emu.public_renders(channel_id)]


# ---- the bot --------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_an_error_after_a_public_defer_is_seen_by_its_author_alone(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            rec = await h.command("article", {"id": "nope"})
            channel = rec.payload["channel_id"]
            assert rec.ack_type == 5 and rec.reply is not None
            assert "No article with id “nope”" in message_text(rec.reply)
            assert rec.ephemeral
            # The public "thinking..." placeholder is gone, not filled with the error.
            assert rec.original is not None and rec.original.get("deleted")
            assert not any("nope" in text for text in public_texts(h.emu, channel))
            public_now = [m for m in h.emu.bot_messages(channel) if not m["flags"] & EPHEMERAL]
            assert public_now == []

    run(scenario())


@pytest.mark.timeout(120)
def test_a_followup_after_the_original_is_deleted_is_a_new_private_message(tmp_path):
    async def scenario():
        seen: list[discord.Interaction] = []
        async with running_bot(tmp_path) as h:

            async def keep(interaction: discord.Interaction) -> None:
                seen.append(interaction)

            h.bot.add_listener(keep, "on_interaction")
            rec = await h.command("stats")
            assert not rec.ephemeral and "Articles" in message_text(rec.original)
            interaction = seen[-1]
            await interaction.delete_original_response()  # 204 without a body
            sent = await interaction.followup.send(
                "Only for you.", ephemeral=True, wait=True, allowed_mentions=NO_PINGS
            )
            assert sent.flags.ephemeral and sent.id != int(rec.original["id"])
            assert rec.original.get("deleted") and rec.followups[-1]["id"] == str(sent.id)
            assert rec.reply is rec.followups[-1] and rec.ephemeral
            assert "Only for you." not in public_texts(h.emu, rec.payload["channel_id"])

    run(scenario())


# ---- the emulator alone, driven by a minimal discord.py client ------------------------------


class Probe(discord.Client):
    """A client whose only command defers, then follows up as its options say."""

    def __init__(self) -> None:
        super().__init__(
            intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none()
        )
        self.tree = app_commands.CommandTree(self)
        self.tree.command(name="probe", description="defer then follow up")(self.probe)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def probe(
        self,
        interaction: discord.Interaction,
        defer_private: bool,
        followup_private: bool,
        delete_first: bool = False,
    ) -> None:
        await interaction.response.defer(ephemeral=defer_private, thinking=True)
        if delete_first:
            await interaction.delete_original_response()
        await interaction.followup.send("first", ephemeral=followup_private)
        await interaction.followup.send("second", ephemeral=followup_private)


@asynccontextmanager
async def probe_running() -> AsyncIterator[tuple[DiscordEmulator, dict, object]]:
    import discord.gateway
    import discord.http

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    async with DiscordEmulator() as emu:
        guild = emu.add_guild("Probe")
        user = emu.add_user("max")
        emu.patch_discord()
        client = Probe()
        task = asyncio.create_task(client.start(emu.token))
        try:
            await emu.wait_ready()
            yield emu, user, guild
        finally:
            await client.close()
            await asyncio.wait_for(task, 10)
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


async def probe(emu: DiscordEmulator, user: dict, guild, **options: bool) -> Interaction:
    rec = await emu.send_interaction("probe", options, guild=guild, user=user)
    await emu.wait_until(
        lambda: rec.rejected or any(m["content"] == "second" for m in rec.followups), 10
    )
    return rec


@pytest.mark.timeout(60)
def test_the_first_followup_after_a_defer_keeps_the_deferral_visibility():
    async def scenario():
        async with probe_running() as (emu, user, guild):
            public = await probe(emu, user, guild, defer_private=False, followup_private=True)
            assert public.rejected == []
            first, second = public.messages
            # "first" asked to be ephemeral, but it is the public deferred message, filled.
            assert first is public.original and first["content"] == "first"
            assert not first["flags"] & EPHEMERAL
            assert "first" in public_texts(emu, guild.channel_id)
            # Later followups are messages of their own and keep their flags.
            assert second["content"] == "second" and second["flags"] & EPHEMERAL

            private = await probe(emu, user, guild, defer_private=True, followup_private=False)
            first, second = private.messages
            assert first is private.original and first["flags"] & EPHEMERAL
            assert second["content"] == "second" and not second["flags"] & EPHEMERAL

    run(scenario())


@pytest.mark.timeout(60)
def test_after_deleting_the_placeholder_followups_keep_their_own_flags():
    async def scenario():
        async with probe_running() as (emu, user, guild):
            rec = await probe(
                emu, user, guild, defer_private=False, followup_private=True, delete_first=True
            )
            assert rec.rejected == [] and emu.invalid == []
            assert rec.original is not None and rec.original.get("deleted")
            assert [m["content"] for m in rec.followups] == ["first", "second"]
            assert all(m["flags"] & EPHEMERAL for m in rec.followups)
            assert rec.reply is rec.followups[0] and rec.ephemeral
            assert public_texts(emu, guild.channel_id) == []

    run(scenario())

"""Runs the real bot against the emulator for one test: `async with running_bot(tmp_path) as h`.

On the way out it checks what every test must keep: no request Discord would refuse, no route
the emulator does not know, no ping, every interaction acknowledged in time.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .emulator import DiscordEmulator, Interaction
from .payloads import MANAGE_GUILD, MEMBER_DEFAULT, Guild

LOADING = 1 << 7


@dataclass
class Harness:
    emu: DiscordEmulator
    bot: Any
    archive: Any
    guilds: list[Guild]
    admin: dict
    member: dict
    allow_invalid: bool = False
    extra: dict = field(default_factory=dict)
    autocompletes: list[Interaction] = field(default_factory=list)

    @property
    def guild(self) -> Guild:
        return self.guilds[0]

    async def command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        guild: Guild | None | str = "first",
        user: dict | None = None,
        admin: bool = False,
        permissions: int | None = None,
        roles: list[str] | None = None,
        channel_id: str | None = None,
        timeout: float = 20.0,
    ) -> Interaction:
        """Runs a slash command (in `channel_id`, else the server's first channel) and waits
        until the bot's reply is complete (not loading)."""
        g = self.guild if guild == "first" else guild
        perms = (
            permissions
            if permissions is not None
            else (MEMBER_DEFAULT | MANAGE_GUILD if admin else MEMBER_DEFAULT)
        )
        record = await self.emu.send_interaction(
            name,
            options,
            guild=g,
            user=user or (self.admin if admin else self.member),  # type: ignore[arg-type]
            permissions=perms,
            roles=roles,
            channel_id=channel_id,
        )
        await self.wait_done(record, timeout)
        return record

    async def context_menu(
        self, name: str, message: dict, *, user: dict | None = None, timeout: float = 20.0
    ) -> Interaction:
        """A member right-clicks `message` and picks the message command `name`; waits for the
        complete reply."""
        record = await self.emu.send_context_menu(name, message, user=user or self.member)
        await self.wait_done(record, timeout)
        return record

    async def settle(self) -> None:
        """A round trip through the bot: whatever it would have sent by now is in."""
        await self.command("help")

    async def autocomplete(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        focused: str,
        admin: bool = False,
        guild: Guild | None | str = "first",
        timeout: float = 5.0,
    ) -> list[dict]:
        """A member (or admin) types in option `focused`; returns the choices the bot offered.
        The interaction record (with `answer_seconds`) is appended to `autocompletes`."""
        g = self.guild if guild == "first" else guild
        record = await self.emu.send_autocomplete(
            command,
            options,
            focused=focused,
            guild=g,  # type: ignore[arg-type]
            user=self.admin if admin else self.member,
            permissions=MEMBER_DEFAULT | MANAGE_GUILD if admin else MEMBER_DEFAULT,
        )
        self.autocompletes.append(record)
        await self.emu.wait_until(lambda: record.choices is not None, timeout)
        assert record.choices is not None
        return record.choices

    async def click(
        self,
        message: dict,
        custom_id: str,
        *,
        user: dict | None = None,
        admin: bool = False,
        timeout: float = 20.0,
    ) -> Interaction:
        perms = MEMBER_DEFAULT | MANAGE_GUILD if admin else MEMBER_DEFAULT
        record = await self.emu.click(
            message,
            custom_id,
            user=user or (self.admin if admin else self.member),
            permissions=perms,
        )
        before = len(record.edits)
        await self.emu.wait_until(
            lambda: (
                record.acked_at is not None
                and (
                    record.ack_type in (4, 7)
                    or (record.ack_type == 5 and not _loading(record))
                    or (record.ack_type == 6 and len(record.edits) > before)
                )
            ),
            timeout,
        )
        return record

    async def wait_done(self, record: Interaction, timeout: float = 20.0) -> None:
        await self.emu.wait_until(
            lambda: (
                record.acked_at is not None and record.original is not None and not _loading(record)
            ),
            timeout,
        )

    async def seed(self, items: list[dict], guild: Guild | None = None) -> Interaction:
        """Upload `items` (see `article`) as an admin and wait for the upload's summary."""
        rec = await self.command(
            "upload", {"file": articles_json(items)}, admin=True, guild=guild or self.guild
        )
        await self.wait_final(rec, "Added")
        return rec

    async def wait_final(self, record: Interaction, text: str, timeout: float = 60.0) -> dict:
        """Waits until the interaction's message shows `text` (deferred work with progress)."""
        return await self.emu.wait_until(
            lambda: (
                record.original
                if record.original and text in message_text(record.original)
                else None
            ),
            timeout,
        )


def _loading(record: Interaction) -> bool:
    """Whether the invoker still sees "thinking...": a deleted placeholder waits for the followup
    that replaces it."""
    if record.original is not None and record.original.get("deleted"):
        return record.reply is None and bool(record.original.get("flags", 0) & LOADING)
    return bool(record.original and record.original.get("flags", 0) & LOADING)


def message_text(msg: dict) -> str:
    """Everything a person reads in a message, as one string (for assertions)."""
    parts = [msg.get("content") or ""]
    for e in msg.get("embeds", []):
        parts += [e.get("title", ""), e.get("description", "")]
        parts += [f"{f['name']}: {f['value']}" for f in e.get("fields", [])]
        parts.append(e.get("footer", {}).get("text", ""))
    return "\n".join(p for p in parts if p)


def buttons(msg: dict) -> dict[str, str]:
    """label -> custom_id of the message's buttons."""
    return {
        c.get("label", ""): c.get("custom_id", "")
        for row in msg.get("components", [])
        for c in row["components"]
    }


# ---- synthetic articles (never real article text) --------------------------------------------

TOPICS = {
    "harbour": (
        "Harbour ferry",
        "The harbour council approved a new electric ferry for the island route.",
    ),
    "library": (
        "Library hours",
        "The city library will open on Sundays from March, the librarian said.",
    ),
    "wind": ("Wind farm", "Twelve offshore wind turbines will be built north of the bay by 2027."),
    "school": (
        "School lunches",
        "Every primary school pupil will get a free hot lunch from next autumn.",
    ),
    "flood": (
        "Flood barrier",
        "A river flood barrier protecting the old town was finished on Tuesday.",
    ),
}


def article(
    topic: str, n: int = 0, *, source: str = "Test Gazette", extra: str = "", **fields: Any
) -> dict:
    title, lead = TOPICS[topic]
    rnd = random.Random(f"{topic}{n}")
    filler = " ".join(
        f"Officials gave update number {rnd.randint(1, 999)} on the {topic} plan." for _ in range(3)
    )
    return {
        "title": f"{title} {n}" if n else title,
        "source": source,
        "date": f"2024-0{1 + n % 9}-1{n % 10}",
        "text": f"{lead} {extra}\n\n{filler}",
        **fields,
    }


def articles_json(items: list[dict]) -> tuple[str, bytes, str]:
    return ("articles.json", json.dumps(items).encode(), "application/json")


# ---- the running bot ---------------------------------------------------------------------------


@asynccontextmanager
async def running_bot(
    data_dir: Path,
    *,
    guilds: tuple[str, ...] = ("Alpha",),
    heartbeat_interval: float = 41.25,
    embedder: Any = None,
    archive: Any = None,
    emulator: DiscordEmulator | None = None,
    admin_role: str | None = None,
    dev_guild: bool = False,
    upload_max_bytes: int | None = None,
    allow_private_urls: bool = False,
    check_clean: bool = True,
    **bot_options: Any,
) -> AsyncIterator[Harness]:
    import discord.gateway
    import discord.http

    from archivist.archive import Archive
    from archivist.config import Limits, Settings
    from archivist.embedding import HashingEmbedder
    from archivist.ranking import SearchConfig
    from bot.app import ArchivistBot

    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    own_emu = emulator is None
    emu = emulator or await DiscordEmulator(heartbeat_interval=heartbeat_interval).start()
    gs = list(emu.guilds.values()) or [emu.add_guild(name) for name in guilds]
    admin = next((u for u in emu.users.values() if u["username"] == "ada"), None) or emu.add_user(
        "ada"
    )
    member = next((u for u in emu.users.values() if u["username"] == "max"), None) or emu.add_user(
        "max"
    )
    limits = Limits() if upload_max_bytes is None else Limits(upload_max_bytes=upload_max_bytes)
    settings = Settings(
        data_dir=data_dir,
        limits=limits,
        discord_token=emu.token,
        discord_api_base=emu.api_base,
        discord_gateway_url=emu.gateway_url,
        discord_dev_guild=int(gs[0].id) if dev_guild else None,
        admin_role=admin_role,
        allow_private_urls=allow_private_urls,  # the local test server of URL and feed tests
    )
    own_archive = archive is None
    # The fake embedder's cosines are not MiniLM's, so the hybrid's `answered` calibration (fitted
    # on the real model) means nothing here; plain fusion with its cosine rule keeps these tests
    # about the Discord layer. Ranking is tested in test_search.py and with the real model.
    archive = archive or Archive(
        data_dir,
        embedder=embedder or HashingEmbedder(),
        limits=limits,
        search_config=SearchConfig(mode="rrf"),
    )
    bot = ArchivistBot(archive, settings, guild_ready_timeout=0.2, **bot_options)
    task = asyncio.create_task(bot.start(emu.token))
    h = Harness(emu, bot, archive, gs, admin, member)
    try:
        await emu.wait_until(lambda: bot.is_ready() or task.done(), 20)
        if task.done():
            task.result()
        yield h
        if check_clean:
            await asyncio.sleep(0.05)  # let the last responses land
            assert not emu.unhandled, f"routes the emulator does not know: {emu.unhandled}"
            if not h.allow_invalid:
                assert not emu.invalid, f"requests Discord would refuse: {emu.invalid}"
            assert not emu.pings(), f"messages that would ping: {emu.pings()}"
            assert not emu.unacknowledged(), "interactions never acknowledged"
    finally:
        await bot.close()
        try:
            await asyncio.wait_for(task, 10)
        except Exception:  # noqa: BLE001 - the test's own failure matters more
            pass
        if own_archive:
            archive.close()
        if own_emu:
            await emu.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def replies_to(h: Any, msg: dict) -> dict | None:
    """The bot's reply to the user message `msg` so far, wherever it was posted."""
    return next(
        (
            m
            for m in h.emu.bot_messages(msg["channel_id"])
            if m.get("message_reference", {}).get("message_id") == msg["id"]
        ),
        None,
    )


async def reply_to(h: Any, msg: dict, timeout: float = 10.0) -> dict:
    """The bot's reply to the user message `msg`, waited for."""
    return await h.emu.wait_until(lambda: replies_to(h, msg), timeout)

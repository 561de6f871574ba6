"""Untrusted input has its own threads: however many slow pages an admin asks for, questions
from every server are still answered."""

from __future__ import annotations

import asyncio

from discord_emu.harness import article, message_text, running_bot
from discord_emu.payloads import MANAGE_GUILD, MEMBER_DEFAULT
from hostile_corpus import hostile_server

SLOW_UPLOADS = 8  # more than every thread the bot had for all its work before the split


def test_questions_are_answered_while_slow_pages_are_being_read(tmp_path):
    async def scenario():
        async with running_bot(
            tmp_path,
            allow_private_urls=True,
            ask_cooldown=(100, 60.0),
            upload_cooldown=(100, 60.0),
        ) as h:
            # the server stops first, so the bot's shutdown need not wait for the slow reads
            with hostile_server(drip_interval=0.2, lifetime_s=60) as server:
                url = server.base + "/drip-body"
                await h.seed([article(t) for t in ("harbour", "library", "wind")])
                uploads = [
                    await h.emu.send_interaction(
                        "upload",
                        {"url": f"{url}?{n}"},
                        guild=h.guild,
                        user=h.admin,
                        permissions=MEMBER_DEFAULT | MANAGE_GUILD,
                    )
                    for n in range(SLOW_UPLOADS)
                ]
                await asyncio.sleep(0.5)  # every slow fetch has started
                asks = await asyncio.gather(
                    *(
                        h.command("ask", {"question": "When will the library open?"}, timeout=15)
                        for _ in range(20)
                    )
                )
                assert all("Library hours" in message_text(a.original) for a in asks)
                # the slow pages were still being read while the questions were answered
                assert all("Added" not in message_text(u.original or {}) for u in uploads)

    asyncio.run(scenario())


def test_one_servers_slow_uploads_do_not_hold_up_another_servers_upload(tmp_path):
    async def scenario():
        async with running_bot(
            tmp_path,
            guilds=("Alpha", "Beta"),
            allow_private_urls=True,
            upload_cooldown=(100, 60.0),
        ) as h:
            alpha, beta = h.guilds
            with hostile_server(drip_interval=0.2, lifetime_s=60) as server:
                slow = [
                    await h.emu.send_interaction(
                        "upload",
                        {"url": f"{server.base}/drip-body?{n}"},
                        guild=alpha,
                        user=h.admin,
                        permissions=MEMBER_DEFAULT | MANAGE_GUILD,
                    )
                    for n in range(4)
                ]
                await asyncio.sleep(0.5)
                await h.seed([article("library")], guild=beta)  # waits for "Added"
                assert all("Added" not in message_text(u.original or {}) for u in slow)
            assert h.archive.count(collection=beta.id) == 1

    asyncio.run(scenario())

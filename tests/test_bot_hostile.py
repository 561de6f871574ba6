"""The bot against hostile input (issue #17), end to end through the emulator.

Stored fields are rendered without letting them add a link; buttons that cost an ask have the
ask cooldown; the admin role is an id; one bad input of an upload never loses the others'
report; a member's errors are shown to that member alone.
"""

from __future__ import annotations

import asyncio
import logging
import re

from discord_emu.emulator import EPHEMERAL, DiscordEmulator
from discord_emu.harness import article, articles_json, buttons, message_text, running_bot
from test_bot_render import masked_links

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.ranking import SearchConfig
from bot import render


def run(coro):
    return asyncio.run(coro)


def seen_by_channel(record, msg: dict) -> bool:
    """Whether everyone in the channel sees `msg`, one of the interaction's messages.

    Discord keeps a deferred response's visibility, that of the defer, whatever the followup
    that fills it asks (the emulator applies the followup's flags, so the defer's are read here).
    """
    if msg.get("deleted"):
        return False
    if msg is record.original and record.ack_type == 5 and record.edits:
        return not (record.edits[0].get("flags") or 0) & EPHEMERAL
    return not msg.get("flags", 0) & EPHEMERAL


# ---- 1. markdown link injection ------------------------------------------------------------


def test_recent_shows_one_link_per_article_whatever_its_url_and_title(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            hostile = article(
                "harbour",
                title="Ferry](https://evil.example) [Official notice",
                url="https://news.example/ferry)[Login](https://evil.example/login",
                source="[Gazette](https://evil.example) @everyone",
            )
            await h.seed([hostile, article("wind", url="https://news.example/wind")])
            rec = await h.command("recent")
            description = rec.original["embeds"][0]["description"]
            links = masked_links(description)
            assert len(links) <= 2, description
            assert all(href.startswith("https://news.example/") for _, href in links), links
            assert not any("evil" in text for text, _ in links), links
            assert "\\@everyone" in description
            # the wind article's link is intact: the hostile one did not swallow it
            assert ("Wind farm", "https://news.example/wind") in links

    run(scenario())


# ---- 2. buttons have the ask cooldown ----------------------------------------------------


def test_more_results_clicked_too_fast_is_refused_privately(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, ask_cooldown=(1, 60.0)) as h:
            await h.seed([article(t) for t in ("harbour", "library", "wind", "school", "flood")])
            rec = await h.command(
                "ask", {"question": "When will the library open on Sundays?", "count": 1}
            )
            more = buttons(rec.original)["More results"]
            first = await h.click(rec.original, more)
            assert first.ack_type == 5 and first.ephemeral
            assert "2. " in message_text(first.original)
            again = await h.click(rec.original, more, user=h.admin)  # another member: own budget
            assert again.ack_type == 5
            slow = await h.click(rec.original, more)
            assert slow.ack_type == 4 and slow.ephemeral
            assert "Slow down: you can use this again in" in slow.original["content"]

    run(scenario())


def test_page_buttons_clicked_too_fast_are_refused_privately(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, ask_cooldown=(1, 60.0)) as h:
            await h.seed([article("harbour", n) for n in range(1, 4)])
            rec = await h.command("recent", {"count": 1})
            msg = rec.original
            older = await h.click(msg, buttons(msg)["Older"])
            assert older.ack_type == 6 and "Page 2/3" in message_text(msg)
            slow = await h.click(msg, buttons(msg)["Older"])
            assert slow.ack_type == 4 and slow.ephemeral and "Slow down" in slow.original["content"]
            assert "Page 2/3" in message_text(msg)  # the shared message is left as it was

    run(scenario())


# ---- 3. the admin role is an id ----------------------------------------------------------


async def _role_scenario(tmp_path, admin_role: str | None, check) -> None:
    emu = await DiscordEmulator().start()
    guild = emu.add_guild("Alpha")
    real = guild.add_role("Archivists")
    impostor = guild.add_role("Archivists")  # anyone with Manage Roles can make this one
    try:
        setting = real if admin_role is None else admin_role
        async with running_bot(tmp_path, emulator=emu, admin_role=setting) as h:
            await check(h, real, impostor)
    finally:
        await emu.stop()


async def _upload(h, roles: list[str]):
    rec = await h.command("upload", {"file": articles_json([article("wind")])}, roles=roles)
    if rec.ack_type == 5:
        await h.wait_final(rec, "Upload finished")
    return rec


def test_admin_role_is_matched_by_id_not_by_name(tmp_path):
    async def check(h, real, impostor):
        refused = await _upload(h, [impostor])
        assert refused.ack_type == 4 and refused.ephemeral
        assert "Manage Server" in refused.original["content"]
        assert f"<@&{real}>" in refused.original["content"]
        assert h.archive.count(collection=h.guild.id) == 0
        allowed = await _upload(h, [real])
        assert "Added (1)" in message_text(allowed.original)

    run(_role_scenario(tmp_path, None, check))


def test_admin_role_given_by_name_is_ignored_with_one_warning(tmp_path, caplog):
    async def check(h, real, impostor):
        for roles in ([real], [impostor]):
            refused = await _upload(h, roles)
            assert refused.ack_type == 4 and refused.ephemeral
            assert (
                "Only members with the Manage Server permission can do this."
                == (refused.original["content"])
            )
        admin = await h.command("upload", {"file": articles_json([article("wind")])}, admin=True)
        await h.wait_final(admin, "Added (1)")  # Manage Server still works

    with caplog.at_level(logging.WARNING, logger="archivist.bot"):
        run(_role_scenario(tmp_path, "Archivists", check))
    warnings = [r.getMessage() for r in caplog.records if "ARCHIVIST_ADMIN_ROLE" in r.getMessage()]
    assert len(warnings) == 1
    assert "Archivists" in warnings[0] and "Copy Role ID" in warnings[0]


# ---- 4. one bad input of an upload keeps the others' report -------------------------------


def test_upload_with_a_broken_url_keeps_the_files_report(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            rec = await h.command(
                "upload",
                {"file": articles_json([article("wind")]), "url": "http://[::1"},
                admin=True,
            )
            text = message_text(await h.wait_final(rec, "Failed"))
            assert "Added (1)" in text and "Wind farm" in text
            assert "Failed (1)" in text
            failed = next(
                f["value"] for f in rec.original["embeds"][0]["fields"] if "Failed" in f["name"]
            )
            assert failed.startswith("• " + render.escape("http://[::1") + ": ")
            assert "\n" not in failed
            assert h.archive.count(collection=h.guild.id) == 1

    run(scenario())


class BrokenReaderArchive(Archive):
    """An archive whose reader has a bug for one file name (any unexpected exception)."""

    def add_bytes(self, name, data, **kwargs):
        if name == "boom.json":
            raise RuntimeError("a reader bug")
        return super().add_bytes(name, data, **kwargs)


def test_upload_with_an_unexpected_error_in_one_file_keeps_the_others(tmp_path):
    async def scenario():
        archive = BrokenReaderArchive(
            tmp_path, embedder=HashingEmbedder(), search_config=SearchConfig(mode="rrf")
        )
        try:
            async with running_bot(tmp_path, archive=archive) as h:
                boom = ("boom.json", articles_json([article("flood")])[1], "application/json")
                rec = await h.command(
                    "upload",
                    {"file": boom, "file2": articles_json([article("school")])},
                    admin=True,
                )
                text = message_text(await h.wait_final(rec, "Failed"))
                assert "Added (1)" in text and "School lunches" in text
                assert "Failed (1)" in text and "boom.json: " in text
                # the member sees the id the traceback is logged under, never the exception
                assert re.search(r"error [0-9a-f]{8}, logged", text) and "RuntimeError" not in text
        finally:
            archive.close()

    run(scenario())


# ---- 5. a member's errors are shown to that member alone ----------------------------------


def test_errors_after_a_public_defer_reach_only_the_member(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("harbour")])
            for name, options, error in (
                ("article", {"id": "nope"}, "No article with id “nope”"),
                ("ask", {"question": "???"}, "The question has no words to search for"),
            ):
                rec = await h.command(name, options)
                told = [m for m in rec.messages if error in message_text(m)]
                assert told, (name, [message_text(m) for m in rec.messages])
                assert not any(seen_by_channel(rec, m) for m in rec.messages), name

    run(scenario())


def test_upload_refusals_are_private(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, upload_cooldown=(2, 60.0)) as h:  # the empty one counts
            empty = await h.command("upload", {}, admin=True)
            assert empty.ack_type == 4 and empty.ephemeral
            assert "Attach a file" in empty.original["content"]
            first = await h.command("upload", {"url": "http://[::1"}, admin=True)
            await h.wait_final(first, "Failed (1)")
            slow = await h.command("upload", {"url": "http://[::1"}, admin=True)
            assert slow.ack_type == 4 and slow.ephemeral and "Slow down" in slow.original["content"]

    run(scenario())

"""Every slash command, through the real discord.py client and the local Discord emulator."""

from __future__ import annotations

import asyncio
import io
import zipfile

from discord_emu.emulator import DiscordEmulator
from discord_emu.harness import article, articles_json, buttons, message_text, running_bot


def run(coro):
    return asyncio.run(coro)


def test_ask_answers_with_buttons_more_results_and_article(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article(t) for t in ("harbour", "library", "wind", "school", "flood")])
            rec = await h.command(
                "ask", {"question": "When will the library open on Sundays?", "count": 2}
            )
            msg = rec.original
            text = message_text(msg)
            assert "Library hours" in msg["embeds"][0]["title"]
            assert (
                "**The city library will open on Sundays from March, the librarian said.**" in text
            )
            assert msg["content"].startswith("**Q:** When will the library open on Sundays?")
            labels = buttons(msg)
            assert "More results" in labels and "Show article 1" in labels
            more = await h.click(msg, labels["More results"])
            assert more.followups or more.original
            page2 = more.original if more.ack_type == 5 else more.followups[0]
            assert page2["embeds"][0]["title"].startswith("3. ")
            assert page2["flags"] & 64  # only for the one who clicked
            show = await h.click(msg, labels["Show article 1"])
            art = show.original
            assert "Library hours" in art["embeds"][0]["title"]
            assert "librarian" in art["embeds"][0]["description"]

    run(scenario())


def test_ask_nothing_relevant_empty_archive_dm_and_cooldown(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, ask_cooldown=(2, 60.0)) as h:
            empty = await h.command("ask", {"question": "Anything about ferries?"})
            assert "archive is empty" in message_text(empty.original)
            await h.seed([article("harbour"), article("library")])
            rec = await h.command("ask", {"question": "zebra quantum saxophone"})
            text = message_text(rec.original)
            assert "Nothing relevant found" in text
            assert "Closest articles" in text and "/article id:" in text
            # the titles it lists open with a click: no dead end
            opens = [label for label in buttons(rec.original) if label.startswith("Open ")]
            assert opens and opens[0].startswith("Open 1: ")
            shown = await h.click(rec.original, buttons(rec.original)[opens[0]])
            assert shown.reply is not None and shown.ephemeral
            # a third /ask within the minute is refused, ephemerally, without a defer
            slow = await h.command("ask", {"question": "ferry?"})
            assert slow.ack_type == 4 and slow.ephemeral
            assert "Slow down" in slow.original["content"]
            dm = await h.command(
                "ask", {"question": "ferry?"}, guild=None, user=h.emu.add_user("dmuser")
            )
            assert dm.ephemeral and "only work in servers" in dm.original["content"]

    run(scenario())


def test_recent_paginates_and_filters_by_source(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            items = [article("harbour", n) for n in range(1, 8)]
            items.append(article("wind", source="Coast Weekly"))
            await h.seed(items)
            rec = await h.command("recent", {"count": 3})
            msg = rec.original
            assert msg["embeds"][0]["title"] == "Newest articles"
            assert "Page 1/3 · 8 articles" in msg["embeds"][0]["footer"]["text"]
            labels = buttons(msg)
            assert set(labels) == {"Newer", "Older"}
            assert msg["components"][0]["components"][0]["disabled"] is True
            first_page = message_text(msg)
            older = await h.click(msg, labels["Older"])
            assert older.ack_type == 6  # edited in place
            assert "Page 2/3" in msg["embeds"][0]["footer"]["text"]
            assert message_text(msg) != first_page
            only = await h.command("recent", {"source": "Coast Weekly"})
            text = message_text(only.original)
            assert "Wind farm" in text and "Harbour" not in text
            assert "source: Coast Weekly" in text

    run(scenario())


def test_article_pages_and_unknown_id(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            long = article(
                "flood",
                extra=" ".join(
                    f"Paragraph {i} says the barrier gates were tested again." for i in range(400)
                ),
            )
            await h.seed([long])
            article_id = h.archive.recent(collection=h.guild.id, limit=1)[0].id
            rec = await h.command("article", {"id": article_id})
            msg = rec.original
            embed = msg["embeds"][0]
            assert embed["title"] == "Flood barrier"
            assert (
                f"id {article_id}" in embed["footer"]["text"]
                and "page 1/" in embed["footer"]["text"]
            )
            nxt = await h.click(msg, buttons(msg)["Next"])
            assert nxt.ack_type == 6 and "page 2/" in msg["embeds"][0]["footer"]["text"]
            page3 = await h.command("article", {"id": article_id, "page": 3})
            assert "page 3/" in page3.original["embeds"][0]["footer"]["text"]
            missing = await h.command("article", {"id": "nope"})
            assert "No article with id “nope” here. /recent lists the articles." in message_text(
                missing.reply
            )
            assert missing.ephemeral  # the member's error is theirs alone

    run(scenario())


def test_stats(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("harbour"), article("wind")])
            rec = await h.command("stats")
            fields = {f["name"]: f["value"] for f in rec.original["embeds"][0]["fields"]}
            assert fields["Articles"] == "2"
            assert int(fields["Passages"]) >= 2
            assert fields["Last upload"] != "never"
            assert fields["Index size"].endswith(("B", "KB", "MB"))

    run(scenario())


def test_upload_by_admin_refused_for_member_and_limits(tmp_path):
    async def scenario():
        emu = await DiscordEmulator().start()
        role = emu.add_guild("Alpha").add_role("Archivists")  # in the server before the bot joins
        try:
            async with running_bot(
                tmp_path, emulator=emu, admin_role=role, upload_max_bytes=20_000
            ) as h:
                await upload_scenario(h, role)
        finally:
            await emu.stop()

    run(scenario())


async def upload_scenario(h, role: str) -> None:
    synced = {c["name"]: c for c in h.emu.commands[None]}
    for name in ("upload", "delete", "channel"):
        assert synced[name]["default_member_permissions"] == "32"  # Manage Server
        assert synced[name]["dm_permission"] is False
    assert "default_member_permissions" not in synced["ask"]
    # A plain member (a server owner may have opened the command to everyone): refused.
    refused = await h.command("upload", {"file": articles_json([article("wind")])})
    assert refused.ack_type == 4 and refused.ephemeral
    assert "Manage Server" in refused.original["content"]
    assert f"<@&{role}>" in refused.original["content"]  # the role, by its id
    assert h.archive.count(collection=h.guild.id) == 0
    # The configured role is enough.
    ok = await h.command(
        "upload",
        {"file": articles_json([article("wind")]), "source": "Radio"},
        roles=[role],
    )
    await h.wait_final(ok, "Added (1)")
    assert not ok.ephemeral
    assert h.archive.recent(collection=h.guild.id)[0].source == "Radio"
    # Admin: one good file, one duplicate, one unreadable, one too large.
    big = ("big.txt", b"x" * 30_000, "text/plain")
    bad = ("notes.xyz", b"hello", "application/octet-stream")
    rec = await h.command(
        "upload",
        {
            "file": articles_json([article("wind"), article("school")]),
            "file2": bad,
            "file3": big,
        },
        admin=True,
    )
    final = await h.wait_final(rec, "Failed")
    text = message_text(final)
    assert "Added (1)" in text and "School lunches" in text
    assert "Already in the archive (1)" in text and "Wind farm" in text
    assert "Failed (2)" in text
    assert "big.txt" in text and "29.3 KB is over the limit of 19.5 KB per file" in text
    assert "notes.xyz" in text
    # A ZIP from a Mac: its clutter is listed as skipped, not silently dropped.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("news/articles.json", articles_json([article("flood")])[1])
        bundle.writestr("__MACOSX/news/._articles.json", b"\0\5\26\7")
    rec = await h.command(
        "upload", {"file": ("news.zip", buffer.getvalue(), "application/zip")}, admin=True
    )
    text = message_text(await h.wait_final(rec, "Skipped"))
    assert "Added (1)" in text and "Skipped (1)" in text and "Failed" not in text
    assert r"news.zip!\_\_MACOSX/news/.\_articles.json" in text  # markdown-escaped


def test_delete_confirm_cancel_and_refusal(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("harbour"), article("wind")])
            ids = {a.title: a.id for a in h.archive.recent(collection=h.guild.id)}
            member = await h.command("delete", {"id": ids["Wind farm"]})
            assert member.ephemeral and "Manage Server" in member.original["content"]
            rec = await h.command("delete", {"id": ids["Wind farm"]}, admin=True)
            prompt = rec.original
            assert rec.ephemeral and "Delete this article?" in message_text(prompt)
            keep = await h.click(prompt, buttons(prompt)["Keep it"], admin=True)
            assert keep.ack_type == 7 and prompt["content"] == "Nothing was deleted."
            rec = await h.command("delete", {"id": ids["Wind farm"]}, admin=True)
            prompt = rec.original
            sneaky = await h.click(prompt, buttons(prompt)["Delete"])  # not an admin
            assert sneaky.ack_type == 4 and sneaky.ephemeral
            assert "Manage Server" in sneaky.original["content"]
            assert h.archive.count(collection=h.guild.id) == 2
            done = await h.click(prompt, buttons(prompt)["Delete"], admin=True)
            assert done.ack_type == 6 and "Deleted **Wind farm**" in prompt["content"]
            assert prompt["components"] == []
            assert h.archive.count(collection=h.guild.id) == 1

    run(scenario())


def test_dev_guild_sync(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, dev_guild=True) as h:
            assert set(h.emu.commands) == {h.guild.id}
            names = {c["name"] for c in h.emu.commands[h.guild.id]}
            assert names == {
                "ask",
                "recent",
                "article",
                "stats",
                "upload",
                "delete",
                "channel",
                "feed",
                "help",
                "insights",
                "settings",
                "Search the archive",  # the message menu
            }
            await h.seed([article("school")])
            rec = await h.command("ask", {"question": "free hot lunch for pupils?"})
            assert "School lunches" in message_text(rec.original)

    run(scenario())

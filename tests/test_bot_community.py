"""👍/👎 on answers, /insights and /settings, through the real discord.py client and the local
Discord emulator: a 👎 shows in /insights, a changed vote counts once, admins only, the admin
role /settings picks is honoured, logging off keeps no question, new feed items announced."""

from __future__ import annotations

import asyncio
import threading
from contextlib import asynccontextmanager

from discord_emu.emulator import DiscordEmulator
from discord_emu.harness import article, message_text, running_bot
from feed_server import Item, feed_server

COMMUNITY = "bot.cogs.community"


def run(coro):
    return asyncio.run(coro)


@asynccontextmanager
async def community_bot(tmp_path, **options):
    async with running_bot(tmp_path, **options) as h:
        if COMMUNITY not in h.bot.extensions:  # until bot.app's EXTENSIONS names it
            await h.bot.load_extension(COMMUNITY)
            await h.bot.tree.sync()
            await h.bot.get_cog("Community").on_ready()
        yield h


def vote_ids(msg: dict) -> dict[str, str]:
    """ "up"/"down" -> the custom id of the answer's vote button."""
    ids = [
        c["custom_id"]
        for row in msg.get("components", [])
        for c in row["components"]
        if c.get("custom_id", "").startswith("archivist:vote:")
    ]
    return {cid.split(":")[2]: cid for cid in ids}


async def insights_text(h, **options) -> str:
    rec = await h.command("insights", options or None, admin=True)
    assert rec.ephemeral
    return message_text(rec.reply)


def test_a_thumbs_down_shows_in_insights_and_a_changed_vote_counts_once(tmp_path):
    async def scenario():
        async with community_bot(tmp_path) as h:
            await h.seed([article(t) for t in ("harbour", "library", "wind")])
            asked = await h.command("ask", {"question": "When will the library open on Sundays?"})
            votes = vote_ids(asked.original)
            assert set(votes) == {"up", "down"}
            buttons = [c for row in asked.original["components"] for c in row["components"]]
            assert {b.get("emoji", {}).get("name") for b in buttons} >= {"👍", "👎"}

            down = await h.click(asked.original, votes["down"])
            assert down.ephemeral and "Thanks" in message_text(down.reply)
            text = await insights_text(h)
            assert "When will the library open on Sundays?" in text and "1 👎" in text
            assert "1 question, 100% answered" in text and "1 vote, 0% 👍" in text

            changed = await h.click(asked.original, votes["up"])
            assert changed.ephemeral and "Changed your vote to 👍" in message_text(changed.reply)
            again = await h.click(asked.original, votes["up"])
            assert "already gave this answer 👍" in message_text(again.reply)
            text = await insights_text(h)
            assert "1 vote, 100% 👍" in text  # the member's one vote, changed
            assert "library open" not in text  # no 👎 left on it

            other = await h.click(asked.original, votes["down"], user=h.emu.add_user("zoe"))
            assert other.ephemeral
            assert "2 votes, 50% 👍" in await insights_text(h)

    run(scenario())


def test_an_answer_does_not_wait_for_its_question_log(tmp_path):
    async def scenario():
        async with community_bot(tmp_path) as h:
            await h.seed([article("harbour"), article("library")])
            holding, release = threading.Event(), threading.Event()

            def hold_the_writer() -> None:  # as an upload's batch (or another process) would
                with h.archive.store.write_lock:
                    holding.set()
                    release.wait(30)

            writer = threading.Thread(target=hold_the_writer)
            writer.start()
            try:
                holding.wait(5)
                rec = await h.command("ask", {"question": "When does the library open?"})
                assert set(vote_ids(rec.original)) == {"up", "down"}
                assert h.archive.insights(h.guild.id).periods[0].asked == 0  # not yet logged
            finally:
                release.set()
                writer.join()
            await h.emu.wait_until(lambda: h.archive.insights(h.guild.id).periods[0].asked, 10)

    run(scenario())


def test_unanswered_questions_listed_most_asked_first_and_cleared(tmp_path):
    async def scenario():
        async with community_bot(tmp_path) as h:
            await h.seed([article("harbour"), article("library")])
            for question in ("zebra quantum saxophone", "Zebra quantum saxophone?", "quasar yodel"):
                rec = await h.command("ask", {"question": question})
                assert "Nothing relevant found" in message_text(rec.original)
            text = await insights_text(h, days=7)
            assert text.index("saxophone") < text.index("quasar yodel")
            assert "asked 2×, 2 not answered" in text and "0% answered" in text
            cleared = await h.command("insights", {"clear": True}, admin=True)
            assert cleared.ephemeral and "Erased" in message_text(cleared.reply)
            assert "saxophone" not in await insights_text(h)

    run(scenario())


def test_a_member_is_refused_privately_and_nothing_changes(tmp_path):
    async def scenario():
        async with community_bot(tmp_path) as h:
            for command, options in (
                ("insights", None),
                ("insights", {"clear": True}),
                ("settings", None),
                ("settings", {"logging": False}),
            ):
                refused = await h.command(command, options)
                assert refused.ack_type == 4 and refused.ephemeral, command
                assert "Manage Server" in message_text(refused.reply)
            assert h.archive.server_settings(h.guild.id).question_logging
            synced = {c["name"]: c for c in h.emu.commands[None]}
            for name in ("insights", "settings"):
                assert synced[name]["default_member_permissions"] == "32"

    run(scenario())


def test_the_admin_role_set_by_settings_is_honoured(tmp_path):
    async def scenario():
        emu = await DiscordEmulator().start()
        guild = emu.add_guild("Alpha")
        role = guild.add_role("Archivists")  # in the server before the bot joins
        try:
            async with community_bot(tmp_path, emulator=emu) as h:
                before = await h.command("insights", roles=[role])
                assert before.ephemeral and "Manage Server" in message_text(before.reply)

                everyone = await h.command("settings", {"admin_role": guild.id}, admin=True)
                assert everyone.ephemeral and "@everyone cannot" in message_text(everyone.reply)
                saved = await h.command("settings", {"admin_role": role}, admin=True)
                assert saved.ephemeral and f"<@&{role}>" in message_text(saved.reply)
                assert h.archive.server_settings(guild.id).admin_role_id == int(role)

                after = await h.command("insights", roles=[role])
                assert after.ephemeral and "Insights" in message_text(after.reply)
                # the role makes an admin, not the one who decides who the admins are
                handed = await h.command("settings", {"reset": "admin_role_id"}, roles=[role])
                assert "Only members with the Manage Server permission" in message_text(
                    handed.reply
                )
                assert h.archive.server_settings(guild.id).admin_role_id == int(role)
        finally:
            await emu.stop()

    run(scenario())


def test_logging_off_stores_no_question_and_help_says_so(tmp_path):
    async def scenario():
        async with community_bot(tmp_path) as h:
            on = await h.command("help")
            assert "questions asked here" in message_text(on.reply)
            assert "/insights clear" in message_text(on.reply)
            await h.seed([article("harbour"), article("library")])
            off = await h.command("settings", {"logging": False}, admin=True)
            assert "Question logging: off" in message_text(off.reply)
            rec = await h.command("ask", {"question": "zebra quantum saxophone"})
            assert set(vote_ids(rec.original)) == {"up", "down"}  # votes still count
            await h.click(rec.original, vote_ids(rec.original)["down"])
            found = h.archive.insights(h.guild.id)
            assert found.questions == () and found.periods[0].asked == 0
            assert found.periods[0].votes == 1
            text = await insights_text(h)
            assert "Question logging is off" in text and "saxophone" not in text
            quiet = await h.command("help")
            assert "a question is answered and not kept" in message_text(quiet.reply)

    run(scenario())


def test_default_source_and_settings_shown(tmp_path):
    async def scenario():
        async with community_bot(tmp_path) as h:
            await h.seed([article("harbour"), article("wind", source="Coast Weekly")])
            typo = await h.command("settings", {"default_source": "Coast Weekyl"}, admin=True)
            assert typo.ephemeral and "Coast Weekly" in message_text(typo.reply)
            assert h.archive.server_settings(h.guild.id).default_source is None
            choices = await h.autocomplete(
                "settings", {"default_source": "Coa"}, focused="default_source", admin=True
            )
            assert [c["value"] for c in choices] == ["Coast Weekly"]
            await h.command("settings", {"default_source": "Coast Weekly"}, admin=True)
            rec = await h.command("ask", {"question": "What will be built north of the bay?"})
            assert "Coast Weekly" in rec.original["content"]
            shown = message_text((await h.command("settings", admin=True)).reply)
            assert "Default source for /ask: Coast Weekly" in shown
            assert "Answers in threads: off" in shown and "Question logging: on" in shown

    run(scenario())


def test_new_feed_items_are_announced_in_the_chosen_channel(tmp_path):
    async def scenario():
        with feed_server() as server:
            server.serve_pages("ferry", "library")
            url = server.set_rss("/rss.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])
            async with community_bot(tmp_path, allow_private_urls=True) as h:
                news = await h.emu.create_channel(h.guild, "news")
                await h.command("feed add", {"url": url}, admin=True)
                assert not h.emu.bot_messages(news)  # no channel chosen yet
                await h.command("settings", {"announce_channel": news}, admin=True)
                server.set_rss(
                    "/rss.xml",
                    "Harbour Gazette",
                    [Item("library", "/news/library"), Item("ferry", "/news/ferry")],
                )
                h.bot.feeds.interval_s = 0
                await h.bot.feeds.poll_due()
                (said,) = h.emu.bot_messages(news)
                assert "New from **Harbour Gazette**" in said["content"]
                assert said["content"].count("/article id:") == 1  # the new item only

    run(scenario())


def test_answers_in_threads_when_the_server_wants_them(tmp_path):
    async def scenario():
        async with community_bot(tmp_path) as h:
            await h.seed([article("library"), article("school")])
            news = await h.emu.create_channel(h.guild, "news")
            question = "Will every primary school pupil get a free hot lunch?"
            before = await h.emu.send_message(news, h.member, question, mention_bot=True)
            await h.emu.wait_until(lambda: h.emu.bot_messages(news), 10)
            (reply,) = h.emu.bot_messages(news)  # threads off: a reply in the channel
            assert reply["message_reference"]["message_id"] == before["id"]

            saved = await h.command("settings", {"threads": True}, admin=True)
            assert "Answers in threads: on" in message_text(saved.reply)
            asked = await h.emu.send_message(news, h.member, question, mention_bot=True)
            answer = await h.emu.wait_until(lambda: h.emu.bot_messages(asked["id"]), 10)
            assert "School lunches" in message_text(answer[0])
            assert h.guild.channel(asked["id"])["name"] == question[:100]
            assert len(h.emu.bot_messages(news)) == 1  # nothing more in the channel itself

            # a question asked in a thread is answered there, not in a thread of a thread
            thread = await h.emu.create_thread(news, h.member, "lunch talk")
            inside = await h.emu.send_message(thread, h.member, question, mention_bot=True)
            await h.emu.wait_until(lambda: h.emu.bot_messages(thread), 10)
            assert h.emu.bot_messages(thread)[0]["message_reference"]["message_id"] == inside["id"]

    run(scenario())


def test_a_vote_lands_after_a_restart_and_is_not_taken_for_an_expired_button(tmp_path):
    async def scenario():
        emu = await DiscordEmulator().start()
        try:
            async with community_bot(tmp_path, emulator=emu) as h:
                await h.seed([article("harbour"), article("library")])
                asked = await h.command("ask", {"question": "When does the library open?"})
            async with running_bot(tmp_path, emulator=emu) as h2:  # a new process, same store
                down = await h2.click(asked.original, vote_ids(asked.original)["down"])
                assert down.ephemeral and "Thanks" in message_text(down.reply)
                assert "expired" not in message_text(down.reply)
                assert h2.archive.insights(h2.guild.id).periods[0].votes == 1
        finally:
            await emu.stop()

    run(scenario())

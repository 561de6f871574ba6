"""Answers that reach only the member they are for: `private` on /ask and /article, buttons
pressed by someone else on a public reply, the "Search the archive" message menu, and
`/ask since`. Through the real discord.py client and the local Discord emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from discord_emu.emulator import EPHEMERAL, MESSAGE_COMMAND
from discord_emu.harness import article, buttons, message_text, running_bot


def run(coro):
    return asyncio.run(coro)


def public_texts(h, channel_id: str, since: int = 0) -> list[str]:
    """Everything the channel could read from the bot at any moment (after the first `since`)."""
    return [message_text(m) for m in h.emu.public_renders(channel_id)[since:]]


def long_article() -> dict:
    pages = " ".join(f"Paragraph {i} says the barrier gates were tested again." for i in range(400))
    return article("flood", extra=pages)


def test_private_ask_and_article_answer_only_the_asker(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("library"), article("harbour")])
            channel = h.guild.channel_id
            seen = len(h.emu.public_renders(channel))  # the upload's summary
            rec = await h.command(
                "ask", {"question": "When will the library open on Sundays?", "private": True}
            )
            assert rec.ephemeral and "Library hours" in message_text(rec.reply)
            article_id = h.archive.recent(collection=h.guild.id, limit=5)[-1].id
            read = await h.command("article", {"id": article_id, "private": True})
            assert read.ephemeral and read.reply["embeds"][0]["title"]
            assert public_texts(h, channel, seen) == []
            # left out, both stay public as before
            public = await h.command("ask", {"question": "When will the library open?"})
            assert not public.ephemeral and "Library hours" in public_texts(h, channel)[-1]

    run(scenario())


def test_someone_elses_click_is_private_and_the_public_message_unchanged(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            items = [long_article()] + [article("library", n) for n in range(1, 4)]
            await h.seed(items)
            other = h.emu.add_user("zoe")
            flood_id = next(
                a.id
                for a in h.archive.recent(collection=h.guild.id, limit=9)
                if a.title == "Flood barrier"
            )
            rec = await h.command("article", {"id": flood_id})
            public = rec.original
            before = message_text(public)
            nxt = await h.click(public, buttons(public)["Next"], user=other)
            assert nxt.ephemeral and "page 2/" in message_text(nxt.reply)
            assert message_text(public) == before
            # the author still turns the public message's pages
            mine = await h.click(public, buttons(public)["Next"])
            assert mine.ack_type == 6 and "page 2/" in message_text(public)

            listing = await h.command("recent", {"count": 2})
            first_page = message_text(listing.original)
            older = await h.click(listing.original, buttons(listing.original)["Older"], user=other)
            assert older.ephemeral and "Page 2/" in message_text(older.reply)
            assert message_text(listing.original) == first_page

            answer = await h.command(
                "ask", {"question": "When will the library open on Sundays?", "count": 1}
            )
            shown = message_text(answer.original)
            more = await h.click(
                answer.original, buttons(answer.original)["More results"], user=other
            )
            assert more.ephemeral and more.reply["embeds"][0]["title"].startswith("2. ")
            assert message_text(answer.original) == shown

    run(scenario())


def test_an_error_on_someone_elses_click_is_theirs_alone(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([long_article()])
            flood_id = h.archive.recent(collection=h.guild.id, limit=1)[0].id
            rec = await h.command("article", {"id": flood_id})
            h.archive.delete(flood_id, collection=h.guild.id)
            click = await h.click(
                rec.original, buttons(rec.original)["Next"], user=h.emu.add_user("zoe")
            )
            assert click.ephemeral and "No article with id" in message_text(click.reply)
            assert not any("No article" in t for t in public_texts(h, h.guild.channel_id))

    run(scenario())


def test_the_message_menu_searches_with_the_message_and_answers_privately(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("library"), article("school")])
            menu = h.emu.find_command("Search the archive", None, MESSAGE_COMMAND)
            assert menu["type"] == MESSAGE_COMMAND and menu["description"] == ""
            channel = h.guild.channel_id
            seen = len(h.emu.public_renders(channel))  # the upload's summary
            said = await h.emu.send_message(channel, h.admin, "Do pupils get a free hot lunch")
            rec = await h.context_menu("Search the archive", said)
            assert rec.ephemeral and rec.reply["flags"] & EPHEMERAL
            assert "School lunches" in message_text(rec.reply)
            assert rec.reply["content"].startswith("**Q:** Do pupils get a free hot lunch")
            assert public_texts(h, channel, seen) == []
            empty = await h.emu.send_message(channel, h.admin, "")
            refused = await h.context_menu("Search the archive", empty)
            assert refused.ephemeral and "no text to search" in message_text(refused.reply)

    run(scenario())


def test_ask_since_keeps_to_the_period(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            recent = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
            await h.seed(
                [
                    article("library", 1, date=recent),
                    article("library", 2, date="2019-05-02"),
                ]
            )
            question = "When will the library open on Sundays?"
            week = await h.command("ask", {"question": question, "count": 5, "since": "week"})
            titles = [e["title"] for e in week.original["embeds"]]
            assert titles and all("Library hours 1" in t for t in titles)
            assert "**Since:** the past week" in week.original["content"]
            every = await h.command("ask", {"question": question, "count": 5, "since": "any"})
            assert any("Library hours 2" in e["title"] for e in every.original["embeds"])
            day = await h.command("ask", {"question": question, "since": "day"})
            assert "Nothing from the past day" in message_text(day.original)

    run(scenario())

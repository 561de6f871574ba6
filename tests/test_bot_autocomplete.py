"""Autocomplete of ids and sources, and the unknown-source message: through the real discord.py
client and the emulator, which refuses answers Discord would (more than 25 choices, a name
over 100 characters, a value of the wrong type) and records how long each answer took."""

from __future__ import annotations

import asyncio

from discord_emu.harness import article, message_text, running_bot
from feed_server import Item, feed_server

AUTOCOMPLETE_WINDOW_S = 3.0  # Discord drops an answer after this


def run(coro):
    return asyncio.run(coro)


def ids_by_title(h, guild_id: str) -> dict[str, str]:
    return {a.title: a.id for a in h.archive.recent(collection=guild_id, limit=100)}


def assert_answered_in_time(h) -> None:
    assert h.autocompletes
    for record in h.autocompletes:
        assert record.ack_type == 8 and not record.rejected
        assert record.answer_seconds is not None
        assert record.answer_seconds < AUTOCOMPLETE_WINDOW_S / 2


def test_article_autocomplete_by_title_word_id_prefix_and_newest_first(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article(t) for t in ("harbour", "library", "wind", "school")])
            ids = ids_by_title(h, h.guild.id)

            by_word = await h.autocomplete("article", {"id": "FERR"}, focused="id")
            assert by_word == [{"name": "Harbour ferry", "value": ids["Harbour ferry"]}]
            # the member picks it: the value is the id /article reads
            shown = await h.command("article", {"id": by_word[0]["value"]})
            assert "Harbour ferry" in message_text(shown.reply)

            prefix = ids["Library hours"][:5]
            by_id = await h.autocomplete("article", {"id": prefix}, focused="id")
            assert by_id[0] == {"name": "Library hours", "value": ids["Library hours"]}

            newest = await h.autocomplete("article", {}, focused="id")
            assert [c["name"] for c in newest] == [
                "School lunches",
                "Wind farm",
                "Library hours",
                "Harbour ferry",
            ]
            assert await h.autocomplete("article", {"id": "zebra"}, focused="id") == []
            assert_answered_in_time(h)

    run(scenario())


def test_forty_long_titles_offer_at_most_25_choices_named_within_100_characters(tmp_path):
    long = "Harbour council report on the electric island ferry, its timetable and its fares"

    async def scenario():
        async with running_bot(tmp_path) as h:
            items = [article("harbour", n, title=f"{long} part {n} " * 2) for n in range(40)]
            await h.seed(items)
            for typed in ("", "harbour ferry"):
                choices = await h.autocomplete("article", {"id": typed}, focused="id")
                assert len(choices) == 25
                assert all(1 <= len(c["name"]) <= 100 for c in choices)
                assert all(c["name"].startswith("Harbour council report") for c in choices)
            # the emulator refused nothing (checked again when the bot stops)
            assert not h.emu.invalid
            assert_answered_in_time(h)

    run(scenario())


def test_delete_autocompletes_for_admins_only(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("flood"), article("wind")])
            ids = ids_by_title(h, h.guild.id)
            admin = await h.autocomplete("delete", {"id": "flo"}, focused="id", admin=True)
            assert admin == [{"name": "Flood barrier", "value": ids["Flood barrier"]}]
            # the owner may have opened /delete to everyone: a member is offered nothing
            assert await h.autocomplete("delete", {"id": "flo"}, focused="id") == []
            assert_answered_in_time(h)

    run(scenario())


def test_sources_autocomplete_on_ask_and_recent_keeps_to_the_server(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, guilds=("Alpha", "Beta")) as h:
            alpha, beta = h.guilds
            await h.seed(
                [article("wind", n, source="Coast Weekly") for n in range(3)]
                + [article("library", source="Test Gazette")]
            )
            await h.seed([article("school", source="Beta Times")], guild=beta)
            every = await h.autocomplete("ask", {"question": "wind?"}, focused="source")
            assert every == [
                {"name": "Coast Weekly", "value": "Coast Weekly"},
                {"name": "Test Gazette", "value": "Test Gazette"},
            ]
            typed = await h.autocomplete("recent", {"source": "gaz"}, focused="source")
            assert typed == [{"name": "Test Gazette", "value": "Test Gazette"}]
            other = await h.autocomplete("recent", {}, focused="source", guild=beta)
            assert [c["name"] for c in other] == ["Beta Times"]
            assert_answered_in_time(h)

    run(scenario())


def test_an_unknown_source_is_told_privately_with_the_sources_there_are(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed(
                [article("wind", n, source="Coast Weekly") for n in range(2)]
                + [article("library", source="Test Gazette")]
            )
            before = len(h.emu.public_renders(h.guild.channel_id))
            expected = "No articles from “Coast Weeky” here. Sources: Coast Weekly, Test Gazette."
            for command, options in (
                ("ask", {"question": "When is the wind farm built?", "source": "Coast Weeky"}),
                ("recent", {"source": "Coast Weeky"}),
            ):
                rec = await h.command(command, options)
                assert rec.ack_type == 4 and rec.ephemeral  # answered before any deferral
                assert rec.reply is not None
                assert rec.reply["content"].startswith(expected)
            assert len(h.emu.public_renders(h.guild.channel_id)) == before
            # a known source in another case still answers
            known = await h.command("recent", {"source": "coast weekly"})
            assert "Wind farm" in message_text(known.reply)

    run(scenario())


def test_feed_remove_autocompletes_this_servers_feeds(tmp_path):
    async def scenario():
        with feed_server() as server:
            server.serve_pages("ferry", "library")
            harbour = server.set_rss("/h.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])
            books = server.set_rss("/b.xml", "Book News", [Item("library", "/news/library")])
            async with running_bot(
                tmp_path, guilds=("Alpha", "Beta"), allow_private_urls=True
            ) as h:
                alpha, beta = h.guilds
                await h.command("feed add", {"url": harbour}, admin=True)
                await h.command("feed add", {"url": books}, admin=True)
                await h.command("feed add", {"url": books}, admin=True, guild=beta)
                found = await h.autocomplete(
                    "feed remove", {"feed": "harb"}, focused="feed", admin=True
                )
                assert len(found) == 1 and found[0]["name"].startswith("Harbour Gazette")
                everything = await h.autocomplete("feed remove", {}, focused="feed", admin=True)
                assert len(everything) == 2  # not Beta's
                removed = await h.command("feed remove", {"feed": found[0]["value"]}, admin=True)
                assert "Stopped following **Harbour Gazette**" in message_text(removed.reply)
                assert_answered_in_time(h)

    run(scenario())


def test_the_emulator_refuses_an_answer_discord_would_refuse():
    from discord_emu.emulator import validate_choices

    good = [{"name": f"Article {n}", "value": f"id{n}"} for n in range(25)]
    assert validate_choices(good, 3) == []
    assert validate_choices(good + [{"name": "one more", "value": "x"}], 3)
    assert validate_choices([{"name": "x" * 101, "value": "a"}], 3)
    assert validate_choices([{"name": "", "value": "a"}], 3)
    assert validate_choices([{"name": "a", "value": 7}], 3)  # a string option's value
    assert validate_choices([{"name": "a", "value": "v" * 101}], 3)
    assert validate_choices([{"name": "a", "value": "7"}], 4)  # an integer option's value
    assert validate_choices([{"name": "a", "value": 7}], 4) == []

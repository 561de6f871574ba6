"""Questions asked in plain messages, isolation between servers, and what the bot never does."""

from __future__ import annotations

import asyncio

from discord_emu.harness import article, buttons, message_text, reply_to, running_bot


def run(coro):
    return asyncio.run(coro)


def test_mention_and_reply_to_an_answer(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article(t) for t in ("harbour", "library", "wind")])
            ch = h.guild.channel_id
            asked = await h.emu.send_message(
                ch, h.member, "what will the harbour ferry be?", mention_bot=True
            )
            answer = await reply_to(h, asked)
            assert "Harbour ferry" in answer["embeds"][0]["title"]
            assert answer["allowed_mentions"] == {"parse": [], "replied_user": False}
            assert "Show article 1" in buttons(answer)
            follow = await h.emu.send_message(
                ch,
                h.member,
                "and when will the offshore wind turbines be built north of the bay?",
                reply_to=answer,
            )
            second = await reply_to(h, follow)
            assert "Wind farm" in second["embeds"][0]["title"]
            # A plain message in an unwatched channel is left alone (and its content is not even
            # delivered without the Message Content intent... which this bot asks for).
            ignored = await h.emu.send_message(ch, h.member, "is the library open on Sundays?")
            await h.command("stats")  # a round trip: anything the bot would have sent is in by now
            assert not [
                m
                for m in h.emu.bot_messages(ch)
                if m.get("message_reference", {}).get("message_id") == ignored["id"]
            ]

    run(scenario())


def test_watched_channel_answers_questions_only(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("library"), article("school")])
            news = h.emu.add_channel(h.guild, "ask-the-archive")
            watch = await h.emu.send_interaction(
                "channel watch",
                guild=h.guild,
                user=h.admin,
                channel_id=news,
                permissions=h.emu_admin_perms if hasattr(h, "emu_admin_perms") else 32 | 2147552256,
            )
            await h.wait_done(watch)
            assert watch.ephemeral and "I now answer questions" in message_text(watch.original)
            watched = h.archive.settings_table.watched
            assert watched.channels(str(h.guild.id)) == [int(news)]  # in the store, for all
            q = await h.emu.send_message(
                news, h.member, "Will every primary school pupil get a free hot lunch?"
            )
            answer = await reply_to(h, q)
            assert "School lunches" in message_text(answer)
            statement = await h.emu.send_message(news, h.member, "I like the library.")
            unwatch = await h.emu.send_interaction(
                "channel unwatch",
                guild=h.guild,
                user=h.admin,
                channel_id=news,
                permissions=32 | 2147552256,
            )
            await h.wait_done(unwatch)
            assert "no longer answer" in message_text(unwatch.original)
            later = await h.emu.send_message(news, h.member, "Will pupils get a free lunch?")
            await h.command("stats")
            replied_to = {
                m.get("message_reference", {}).get("message_id") for m in h.emu.bot_messages(news)
            }
            assert statement["id"] not in replied_to and later["id"] not in replied_to
            # the unwatch reached the store, which every process (and a restart) reads
            assert watched.channels(str(h.guild.id)) == []
            # plain members cannot watch
            refused = await h.command("channel watch")
            assert refused.ephemeral and "Manage Server" in refused.original["content"]

    run(scenario())


def test_two_servers_never_see_each_other(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, guilds=("Alpha", "Beta")) as h:
            alpha, beta = h.guilds
            await h.seed([article("harbour")], guild=alpha)
            await h.seed([article("wind")], guild=beta)
            rec = await h.command("ask", {"question": "harbour ferry island route"}, guild=beta)
            assert "Harbour" not in message_text(rec.original)
            recent = await h.command("recent", guild=beta)
            assert "Wind farm" in message_text(recent.original)
            assert "Harbour" not in message_text(recent.original)
            alpha_id = h.archive.recent(collection=alpha.id)[0].id
            peek = await h.command("article", {"id": alpha_id}, guild=beta)
            assert "No article with id" in message_text(peek.reply)
            stats = await h.command("stats", guild=alpha)
            assert {f["name"]: f["value"] for f in stats.original["embeds"][0]["fields"]}[
                "Articles"
            ] == "1"
            delete = await h.command("delete", {"id": alpha_id}, guild=beta, admin=True)
            assert "No article with id" in message_text(delete.reply)
            assert h.archive.count(collection=alpha.id) == 1

    run(scenario())


def test_stored_everyone_never_pings_and_markdown_is_escaped(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            hostile = article(
                "harbour",
                extra="@everyone look! <@&123> **bold** # heading [x](javascript:alert(1))",
                title="@everyone **Harbour** ferry",
                url="javascript:alert(1)",
            )
            await h.seed([hostile])
            rec = await h.command("ask", {"question": "@everyone harbour ferry"})
            msg = rec.original
            embed = msg["embeds"][0]
            assert "url" not in embed  # only http(s) links
            assert "\\*\\*Harbour\\*\\*" in embed["title"]
            assert (
                "@everyone look!" in embed["description"] and "\\<@&123\\>" in embed["description"]
            )
            assert (
                msg["mention_everyone"] is False
                and msg["mentions"] == []
                and msg["mention_roles"] == []
            )
            asked = await h.emu.send_message(
                h.guild.channel_id, h.member, "@everyone harbour ferry?", mention_bot=True
            )
            reply = await reply_to(h, asked)
            assert "@everyone" in reply["content"] and reply["mention_everyone"] is False
            # every message the bot sent carried allowed_mentions with parse: [] (else: 400)
            sent = [
                r
                for r in h.emu.requests
                if r.method in ("POST", "PATCH") and isinstance(r.body, dict)
            ]
            bodies = [r.body.get("data", r.body) for r in sent]
            assert all(
                b.get("allowed_mentions", {}).get("parse") == []
                for b in bodies
                if b.get("content") or b.get("embeds")
            )

    run(scenario())


def test_over_long_answer_is_cut_within_limits(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            words = " ".join(
                f"Gate{i} was checked by the engineers on the flood barrier." for i in range(300)
            )
            items = [article("flood", n, extra=words) for n in range(1, 6)]
            await h.seed(items)
            rec = await h.command(
                "ask", {"question": "who checked the flood barrier gates?", "count": 5}
            )
            embeds = rec.original["embeds"]
            assert len(embeds) == 5
            total = sum(
                len(e.get("title", ""))
                + len(e.get("description", ""))
                + len(e.get("footer", {}).get("text", ""))
                for e in embeds
            )
            assert total <= 6000
            cut = [e["description"] for e in embeds if e["description"].endswith("…")]
            assert cut, "long passages should have been cut"
            for d in cut:
                assert (
                    d.endswith((". …", "**…**", "** …")) or d[-2] != " "
                )  # sentence or word boundary
                assert d.count("**") % 2 == 0  # bold never left open

    run(scenario())

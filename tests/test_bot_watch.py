"""Watched channels that earn their place, and who a plain message is addressed to: silence
without an answer, threads and forum posts, replies that are not questions, and a mention
under someone else's message. Through the real discord.py client and the local emulator."""

from __future__ import annotations

import asyncio

from discord_emu.harness import article, message_text, running_bot
from discord_emu.payloads import FORUM_CHANNEL

# answered by the test embedder's cosine rule (a shorter "free lunch?" is not)
LUNCH = "Will every primary school pupil get a free hot lunch?"


def run(coro):
    return asyncio.run(coro)


async def reply_to(h, msg, timeout=10.0):
    """The bot's reply to the user message `msg`, wherever it was posted."""
    return await h.emu.wait_until(lambda: replies_to(h, msg), timeout)


def replies_to(h, msg) -> dict | None:
    return next(
        (
            m
            for m in h.emu.bot_messages(msg["channel_id"])
            if m.get("message_reference", {}).get("message_id") == msg["id"]
        ),
        None,
    )


async def watch(h, channel_id: str, option: str | None = None):
    rec = await h.command(
        "channel watch",
        {"channel": option} if option else None,
        admin=True,
        channel_id=channel_id,
    )
    assert rec.ephemeral
    return rec


def test_a_watched_channel_speaks_only_with_an_answer(tmp_path):
    async def scenario():
        async with running_bot(tmp_path, ask_cooldown=(2, 60.0)) as h:
            await h.seed([article("library"), article("school")])
            news = await h.emu.create_channel(h.guild, "ask-the-archive")
            await watch(h, news)
            odd = await h.emu.send_message(news, h.member, "zebra quantum saxophone?")
            await h.settle()
            assert replies_to(h, odd) is None  # "nothing relevant" is not worth a message here
            asked = await h.emu.send_message(
                news, h.member, "zebra quantum saxophone?", mention_bot=True
            )
            assert "Nothing relevant found" in message_text(await reply_to(h, asked))
            # the member's cooldown is used up: silence in the channel, a reply to a mention
            lunch = await h.emu.send_message(news, h.member, LUNCH)
            await h.settle()
            assert replies_to(h, lunch) is None
            again = await h.emu.send_message(news, h.member, LUNCH, mention_bot=True)
            assert "Slow down" in message_text(await reply_to(h, again))
            other = await h.emu.send_message(news, h.admin, LUNCH)
            assert "School lunches" in message_text(await reply_to(h, other))

    run(scenario())


def test_an_empty_archive_stays_silent_in_a_watched_channel(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await watch(h, h.guild.channel_id)
            asked = await h.emu.send_message(h.guild.channel_id, h.member, "Is the ferry late?")
            await h.settle()
            assert replies_to(h, asked) is None

    run(scenario())


def test_threads_and_forum_posts_of_watched_channels_are_answered_in_place(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("library"), article("school")])
            news = await h.emu.create_channel(h.guild, "news")
            await watch(h, news)
            thread = await h.emu.create_thread(news, h.member, "lunch talk")
            asked = await h.emu.send_message(thread, h.member, LUNCH)
            answer = await reply_to(h, asked)
            assert answer["channel_id"] == thread and "School lunches" in message_text(answer)

            forum = await h.emu.create_channel(h.guild, "questions", FORUM_CHANNEL)
            rec = await watch(h, h.guild.channel_id, option=forum)
            assert "each new post" in message_text(rec.reply)
            post = await h.emu.create_forum_post(
                forum, h.member, "Library on Sundays", "Will the city library open on Sundays?"
            )
            answer = await reply_to(h, post)
            assert answer["channel_id"] == post["id"]  # in the post's own thread
            assert "Library hours" in message_text(answer)
            odd = await h.emu.create_forum_post(forum, h.member, "Zebra", "quantum saxophone")
            await h.settle()
            assert replies_to(h, odd) is None

            listed = await h.command("channel list", admin=True)
            text = message_text(listed.reply)
            assert listed.ephemeral and f"<#{news}>" in text and f"<#{forum}>" in text
            gone = await h.command("channel unwatch", {"channel": forum}, admin=True)
            assert "no longer answer" in message_text(gone.reply)
            assert f"<#{forum}>" not in message_text(
                (await h.command("channel list", admin=True)).reply
            )

    run(scenario())


def test_replies_and_mentions_are_questions_only_when_asked(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("library"), article("school"), article("wind")])
            ch = h.guild.channel_id
            asked = await h.emu.send_message(
                ch, h.member, "will the library open on Sundays?", mention_bot=True
            )
            answer = await reply_to(h, asked)
            thanks = await h.emu.send_message(ch, h.member, "thanks!", reply_to=answer)
            await h.settle()
            assert replies_to(h, thanks) is None
            follow = await h.emu.send_message(
                ch, h.member, "and when will the offshore wind turbines be built", reply_to=answer
            )
            assert "Wind farm" in message_text(await reply_to(h, follow))
            # "@Archivist" under someone else's message: that message is the question
            claim = await h.emu.send_message(ch, h.admin, "pupils get a free hot lunch now")
            check = await h.emu.send_message(ch, h.member, "", mention_bot=True, reply_to=claim)
            assert "School lunches" in message_text(await reply_to(h, check))

    run(scenario())

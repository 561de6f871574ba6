"""Watched channels that earn their place, and who a plain message is addressed to: silence
without an answer, threads and forum posts, replies that are not questions, and a mention
under someone else's message. Through the real discord.py client and the local emulator."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from discord_emu.emulator import DiscordEmulator
from discord_emu.harness import article, message_text, replies_to, reply_to, running_bot
from discord_emu.payloads import FORUM_CHANNEL

import archivist.archive
import bot.watch
from archivist.config import Settings
from archivist.doctor import WARN, check_intent
from archivist.embedding import HashingEmbedder

# answered by the test embedder's cosine rule (a shorter "free lunch?" is not)
LUNCH = "Will every primary school pupil get a free hot lunch?"


def run(coro):
    return asyncio.run(coro)


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


# ---- the watched channels live in the store, shared by every bot process ------------------------


async def only_session_left(emu) -> None:
    """Wait until one bot process is connected: the emulator sends a server's events to the
    first process connected for its shard, so the other takes over once the first is gone."""
    await emu.wait_until(lambda: len([s for s in emu.sessions if s.identified]) == 1, 10)


def test_a_watch_made_in_one_bot_process_is_followed_by_another(tmp_path, monkeypatch):
    monkeypatch.setattr(bot.watch, "REFRESH_S", 3600.0)  # only the refresh called below

    async def scenario():
        emu = await DiscordEmulator().start()
        try:
            async with running_bot(tmp_path, emulator=emu) as a:
                async with running_bot(tmp_path, emulator=emu) as b:  # a second process
                    await a.seed([article("library"), article("school")])
                    ch = a.guild.channel_id
                    await watch(a, ch)
                    assert not b.bot.watched.is_watched(int(b.guild.id), int(ch))  # not yet
                    await b.bot.offload(b.bot.watched.refresh)  # what its timer does
                    assert b.bot.watched.is_watched(int(b.guild.id), int(ch))
                    await a.bot.close()
                    await only_session_left(emu)
                    asked = await emu.send_message(ch, b.member, LUNCH)
                    assert "School lunches" in message_text(await reply_to(b, asked))
        finally:
            await emu.stop()

    run(scenario())


def test_two_bot_processes_changes_to_one_server_both_stay(tmp_path):
    async def scenario():
        emu = await DiscordEmulator().start()
        try:
            async with running_bot(tmp_path, emulator=emu) as a:
                async with running_bot(tmp_path, emulator=emu) as b:
                    first = a.guild.channel_id
                    second = await emu.create_channel(a.guild, "questions")
                    await watch(a, first)  # b's copy does not have it: it writes all the same
                    await a.bot.close()
                    await only_session_left(emu)
                    await watch(b, second)
                    listed = message_text((await b.command("channel list", admin=True)).reply)
                    stored = b.archive.settings_table.watched.channels(b.guild.id)
                    return first, second, listed, stored
        finally:
            await emu.stop()

    first, second, listed, stored = run(scenario())
    assert f"<#{first}>" in listed and f"<#{second}>" in listed
    assert stored == sorted([int(first), int(second)])


def test_the_bot_follows_the_store_on_its_own_and_stops_following_when_it_stops(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(bot.watch, "REFRESH_S", 0.05)

    async def scenario():
        async with running_bot(tmp_path) as h:
            assert h.bot.watched.following
            ch = int(h.guild.channel_id)
            # another process (the CLI, a machine) writes to the store
            await asyncio.to_thread(h.archive.settings_table.watched.set, h.guild.id, ch, True)
            await h.emu.wait_until(lambda: h.bot.watched.is_watched(int(h.guild.id), ch), 10)
            await h.bot.close()
            assert not h.bot.watched.following

    run(scenario())


def legacy_file(data_dir, content) -> Path:
    path = data_dir / "bot" / "watched.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_an_old_watched_json_is_imported_once_and_kept_as_imported(tmp_path):
    async def scenario():
        emu = await DiscordEmulator().start()
        guild = emu.add_guild("Alpha")
        already = 888  # watched in the store before the upgrade (by another machine)
        archive = archivist.archive.Archive(tmp_path, embedder=HashingEmbedder())
        try:
            archive.settings_table.watched.set(guild.id, already, True)
            path = legacy_file(
                tmp_path, {guild.id: [int(guild.channel_id)], "4242": [5, 6], "77": []}
            )
            async with running_bot(tmp_path, emulator=emu, archive=archive) as h:
                await h.seed([article("school")])
                listed = message_text((await h.command("channel list", admin=True)).reply)
                asked = await emu.send_message(guild.channel_id, h.member, LUNCH)
                answer = message_text(await reply_to(h, asked))
                unwatched = await h.command("channel unwatch", admin=True)
                assert "no longer answer" in message_text(unwatched.reply)
            files = sorted(p.name for p in path.parent.iterdir())
            # a restart does not import the renamed file again: the unwatch stays
            async with running_bot(tmp_path, emulator=emu, archive=archive) as h:
                after = message_text((await h.command("channel list", admin=True)).reply)
            stored = archive.settings_table.watched.every()
            return guild.channel_id, listed, answer, files, after, stored
        finally:
            archive.close()
            await emu.stop()

    channel, listed, answer, files, after, stored = run(scenario())
    assert f"<#{channel}>" in listed and "<#888>" in listed  # the file's and the store's
    assert "School lunches" in answer
    assert files == ["watched.json.imported"]
    assert f"<#{channel}>" not in after and "<#888>" in after
    assert stored["4242"] == frozenset({5, 6}) and "77" not in stored


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("{not json", " is not JSON (JSONDecodeError)"),
        ({"1234": [5, "six"]}, ": server 1234: “six” is not a channel id"),
        ({"the news": [5]}, ": “the news” is not a server id"),
        ([5, 6], " is not a JSON object of server ids"),
        # checked whole before anything is written: the first 500 are not half imported
        (
            {"1234": list(range(1, 502))},
            ": server 1234 would watch 501 channels, over the 500 a server may",
        ),
    ],
)
def test_an_old_watched_json_that_cannot_be_read_is_kept_and_named_in_one_line(
    tmp_path, caplog, content, named
):
    path = legacy_file(tmp_path, content)
    before = path.read_bytes()
    archive = archivist.archive.Archive(tmp_path, embedder=HashingEmbedder())
    try:
        watched = bot.watch.WatchedChannels(archive, path)
        with caplog.at_level(logging.INFO, logger="archivist.bot.watch"):
            watched.load()  # the bot still starts
        stored = archive.settings_table.watched.every()
    finally:
        archive.close()
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "archivist.bot.watch"]
    assert logged == f"watched channels not imported (the file is kept): {path}{named}"
    assert path.read_bytes() == before and stored == {}  # nothing of it half imported
    assert watched.channels(1234) == []


def test_the_doctor_counts_the_channels_watched_in_the_store(tmp_path):
    archive = archivist.archive.Archive(tmp_path, embedder=HashingEmbedder())
    try:
        for channel in (11, 12):
            archive.settings_table.watched.set("1234", channel, True)
        database_url = getattr(archive.store, "url", None)  # PostgreSQL's, in test_bot_postgres
    finally:
        archive.close()
    legacy_file(tmp_path, {"1234": [12, 13]})  # not imported yet: the bot's next start does
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    check = check_intent(settings, token_ok=False)
    assert (check.status, check.detail) == (
        WARN,
        "3 watched channels; not checked without a usable token",
    )
    assert (tmp_path / "bot" / "watched.json").exists()  # the doctor writes nothing

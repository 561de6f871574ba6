"""/feed add|list|remove and /upload url:, through the Discord emulator, against a local server."""

from __future__ import annotations

import asyncio
import re

from discord_emu.harness import message_text, running_bot
from discord_emu.payloads import MANAGE_GUILD, MEMBER_DEFAULT
from feed_server import Item, feed_server


def run(coro):
    return asyncio.run(coro)


def test_feed_add_list_remove_by_admin_and_refused_for_member(tmp_path):
    async def scenario():
        with feed_server() as server:
            server.serve_pages("ferry", "library")
            url = server.set_rss("/rss.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])
            async with running_bot(
                tmp_path, guilds=("Alpha", "Beta"), allow_private_urls=True
            ) as h:
                alpha, beta = h.guilds
                assert h.bot.feeds.running  # started by setup_hook
                synced = {c["name"]: c for c in h.emu.commands[None]}
                assert synced["feed"]["default_member_permissions"] == "32"
                assert synced["feed"]["dm_permission"] is False
                assert {o["name"] for o in synced["feed"]["options"]} == {"add", "list", "remove"}

                # A plain member (the owner may have opened the command to everyone): refused.
                for command, options in (
                    ("feed add", {"url": url}),
                    ("feed list", {}),
                    ("feed remove", {"feed": "1"}),
                ):
                    refused = await h.command(command, options)
                    assert refused.ephemeral and "Manage Server" in refused.original["content"]
                assert h.archive.count(collection=alpha.id) == 0

                rec = await h.command("feed add", {"url": url}, admin=True)
                text = message_text(rec.original)
                assert rec.ephemeral and "Following Harbour Gazette" in text
                assert "Added (1)" in text and "Ferry timetable changes" in text
                (stored,) = h.archive.recent(collection=alpha.id)
                assert stored.source == "Harbour Gazette"
                assert stored.url == server.base + "/news/ferry"

                dup = await h.command("feed add", {"url": url}, admin=True)
                assert "already followed here" in message_text(dup.original)
                bad = await h.command("feed add", {"url": server.base + "/news/ferry"}, admin=True)
                assert "not an RSS or Atom feed" in message_text(bad.original)

                listed = await h.command("feed list", admin=True)
                text = message_text(listed.original)
                assert "Feeds (1)" in text and "Harbour Gazette" in text and "1 items seen" in text
                other = await h.command("feed list", admin=True, guild=beta)
                assert "No feeds" in message_text(other.original)  # per server
                nope = await h.command(
                    "feed remove", {"feed": "Harbour Gazette"}, admin=True, guild=beta
                )
                assert "No feed “Harbour Gazette”" in message_text(nope.original)

                # The schedule finds new items (polled now, as if the interval had passed).
                server.set_rss(
                    "/rss.xml",
                    "Harbour Gazette",
                    [Item("library", "/news/library"), Item("ferry", "/news/ferry")],
                )
                h.bot.feeds.interval_s = 0
                await h.bot.feeds.poll_due()
                assert h.archive.count(collection=alpha.id) == 2
                assert h.archive.count(collection=beta.id) == 0

                gone = await h.command("feed remove", {"feed": "Harbour Gazette"}, admin=True)
                assert "Stopped following **Harbour Gazette**" in message_text(gone.original)
                after = await h.command("feed list", admin=True)
                assert "No feeds" in message_text(after.original)
                assert h.archive.count(collection=alpha.id) == 2  # the articles stay
                scheduler = h.bot.feeds
            assert not scheduler.running  # stopped on shutdown

    run(scenario())


def test_a_failing_feed_is_disabled_and_its_channel_told_once(tmp_path):
    async def scenario():
        with feed_server() as server:
            server.serve_pages("ferry", "library")
            url = server.set_rss("/rss.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])
            async with running_bot(tmp_path, allow_private_urls=True) as h:
                news = h.emu.add_channel(h.guild, "news")

                def posted(channel):  # for everyone to see, not a command's ephemeral reply
                    return [m for m in h.emu.bot_messages(channel) if not m.get("flags", 0) & 64]

                rec = await h.emu.send_interaction(
                    "feed add",
                    {"url": url},
                    guild=h.guild,
                    user=h.admin,
                    permissions=MEMBER_DEFAULT | MANAGE_GUILD,
                    channel_id=news,
                )
                await h.wait_done(rec)
                assert "Following Harbour Gazette" in message_text(rec.original)

                server.routes["/rss.xml"] = (500, "text/plain", b"oops")
                scheduler = h.bot.feeds
                scheduler.interval_s = 0  # no waiting between polls (the back-off included)
                await scheduler.poll_due()
                await scheduler.poll_due()
                listed = message_text((await h.command("feed list", admin=True)).original)
                assert "the server answered 500 Internal Server Error" in listed
                assert re.search(
                    r"\d+ failed polls in a row; next try \d{4}-\d\d-\d\d \d\d:\d\d UTC", listed
                ), listed
                assert posted(news) == []  # failing, not yet disabled

                limit = h.archive.limits.feed_max_failures
                for _ in range(limit):
                    await scheduler.poll_due()
                (told,) = await h.emu.wait_until(lambda: posted(news) or None)
                assert "Harbour Gazette" in told["content"]
                assert f"disabled after {limit} failed polls in a row" in told["content"]
                assert "500 Internal Server Error" in told["content"]
                hits = server.hits["/rss.xml"]
                await scheduler.poll_due()  # disabled: neither fetched nor told again
                assert server.hits["/rss.xml"] == hits and len(posted(news)) == 1
                listed = message_text((await h.command("feed list", admin=True)).original)
                assert f"disabled after {limit} failed polls in a row" in listed

                # Added again (once the server mends), it is polled again.
                server.set_rss(
                    "/rss.xml",
                    "Harbour Gazette",
                    [Item("library", "/news/library"), Item("ferry", "/news/ferry")],
                )
                again = await h.command("feed add", {"url": url}, admin=True)
                text = message_text(again.original)
                assert "Following Harbour Gazette" in text and "Added (1)" in text
                listed = message_text((await h.command("feed list", admin=True)).original)
                assert "Feeds (1)" in listed and "disabled" not in listed and "⚠" not in listed

    run(scenario())


def test_upload_url(tmp_path):
    async def scenario():
        with feed_server() as server:
            server.serve_pages("bridge")
            page = server.base + "/news/bridge"
            async with running_bot(tmp_path, allow_private_urls=True) as h:
                member = await h.command("upload", {"url": page})
                assert member.ephemeral and "Manage Server" in member.original["content"]
                empty = await h.command("upload", {}, admin=True)
                assert (
                    empty.ephemeral
                    and "Attach a file or give a `url`" in (empty.original["content"])
                )
                rec = await h.command("upload", {"url": page, "source": "Valley"}, admin=True)
                final = await h.wait_final(rec, "Added")
                assert "Added (1)" in message_text(final) and "Bridge reopens" in message_text(
                    final
                )
                (stored,) = h.archive.recent(collection=h.guild.id)
                assert (stored.source, stored.url) == ("Valley", page)
                missing = await h.command("upload", {"url": server.base + "/gone"}, admin=True)
                text = message_text(await h.wait_final(missing, "Failed"))
                assert "404" in text
            # By default the bot never fetches private or loopback addresses.
            async with running_bot(tmp_path / "default") as h:
                rec = await h.command("upload", {"url": page}, admin=True)
                text = message_text(await h.wait_final(rec, "Failed"))
                assert "loopback address; refused" in text
                assert server.hits.get("/news/bridge") == 1

    run(scenario())


def test_the_bot_polls_only_the_feeds_of_its_own_servers(tmp_path):
    """With several shard processes, each polls only the feeds of the servers it serves."""
    from archivist import feeds

    async def scenario():
        with feed_server() as server:
            server.serve_pages("ferry")
            url = server.set_rss("/rss.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])
            async with running_bot(tmp_path, allow_private_urls=True) as h:
                ours, theirs = h.guild.id, "4242"  # a server served by another process
                for collection in (ours, theirs):
                    await asyncio.to_thread(
                        feeds.add_feed,
                        h.archive,
                        url,
                        collection=collection,
                        allow_private=True,
                        poll_now=False,
                    )
                assert h.bot.feeds is not None
                polled = await h.bot.feeds.poll_due()
                assert [feed.collection for feed, _ in polled] == [ours]
                (other,) = feeds.list_feeds(h.archive, collection=theirs)
                assert other.last_polled_at is None

    run(scenario())

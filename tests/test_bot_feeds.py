"""/feed add|list|remove and /upload url:, through the Discord emulator, against a local server."""

from __future__ import annotations

import asyncio

from discord_emu.harness import message_text, running_bot
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
                assert "no feed 'Harbour Gazette'" in message_text(nope.original)

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

"""Every slash command, through the real discord.py client and the local Discord emulator."""

from __future__ import annotations

import asyncio

from discord_emu.harness import article, articles_json, buttons, message_text, running_bot


def run(coro):
    return asyncio.run(coro)


async def _seed(h, items, guild=None):
    rec = await h.command("upload", {"file": articles_json(items)}, admin=True,
                          guild=guild or h.guild)
    await h.wait_final(rec, "Added")
    return rec


def test_ask_answers_with_buttons_more_results_and_article(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await _seed(h, [article(t) for t in ("harbour", "library", "wind", "school", "flood")])
            rec = await h.command("ask", {"question": "When will the library open on Sundays?", "count": 2})
            msg = rec.original
            text = message_text(msg)
            assert "Library hours" in msg["embeds"][0]["title"]
            assert "**The city library will open on Sundays from March, the librarian said.**" in text
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

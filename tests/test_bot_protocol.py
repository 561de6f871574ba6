"""Discord's deadlines and limits, as the emulator enforces them, and the bot keeping them."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from discord_emu import DiscordEmulator, validate_message
from discord_emu.harness import articles_json, buttons, message_text, running_bot

from archivist.embedding import HashingEmbedder


def run(coro):
    return asyncio.run(coro)


# ---- the emulator itself (so a green bot test means something) --------------------------------


def test_validation_matches_discords_limits():
    ok = {"content": "hi", "allowed_mentions": {"parse": []}}
    assert validate_message(ok) == []
    assert validate_message({"content": "x" * 2001, "allowed_mentions": {"parse": []}})
    assert validate_message({"content": "hi"})  # no allowed_mentions: refused here
    embed = {"title": "t" * 257}
    assert validate_message({"embeds": [embed], "allowed_mentions": {"parse": []}})
    many = [{"description": "d" * 4000} for _ in range(2)]
    assert validate_message({"embeds": many, "allowed_mentions": {"parse": []}})  # > 6000 total
    fields = {"fields": [{"name": "n", "value": "v"}] * 26}
    assert validate_message({"embeds": [fields], "allowed_mentions": {"parse": []}})
    assert validate_message(
        {"embeds": [{"footer": {"text": "f" * 2049}}], "allowed_mentions": {"parse": []}}
    )
    button = {"type": 2, "style": 1, "label": "l" * 81, "custom_id": "c" * 101}
    problems = validate_message(
        {
            "content": "x",
            "allowed_mentions": {"parse": []},
            "components": [{"type": 1, "components": [button]}],
        }
    )
    assert {p for p, _ in problems} == {
        "components[0].components[0].label",
        "components[0].components[0].custom_id",
    }
    assert validate_message({"embeds": [{"title": None}], "allowed_mentions": {"parse": []}})


def test_late_acknowledgement_and_expired_followups_are_refused():
    async def scenario():
        async with DiscordEmulator(ack_deadline=0.3, followup_window=0.6) as emu:
            g = emu.add_guild("Alpha")
            emu.commands[None] = [{"id": "1", "name": "ask", "type": 1, "options": []}]
            # No bot connected: build the interaction record by hand through the public helper.
            payload = emu.base_interaction(2, g, emu.owner, None, 0, [])
            from discord_emu.emulator import Interaction

            rec = Interaction(payload["id"], payload["token"], 2, payload, time.monotonic())
            emu.interactions[rec.id], emu.by_token[rec.token] = rec, rec
            async with aiohttp.ClientSession() as http:
                url = f"{emu.api_base}/interactions/{rec.id}/{rec.token}/callback"
                headers = {"Content-Type": "application/json"}
                async with http.post(url, data=json.dumps({"type": 5}), headers=headers) as r:
                    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
                async with http.post(url, data=json.dumps({"type": 5}), headers=headers) as r:
                    assert (r.status, (await r.json())["code"]) == (400, 40060)
                hook = (
                    f"{emu.api_base}/webhooks/{emu.application_id}/{rec.token}/messages/@original"
                )
                body = {"content": "ok", "allowed_mentions": {"parse": []}}
                async with http.patch(hook, data=json.dumps(body), headers=headers) as r:
                    assert r.status == 200
                async with http.patch(
                    hook,
                    data=json.dumps(body),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                ) as r:
                    assert r.status == 400
                late = emu.base_interaction(2, g, emu.owner, None, 0, [])
                rec2 = Interaction(late["id"], late["token"], 2, late, time.monotonic() - 1)
                emu.interactions[rec2.id] = rec2
                url2 = f"{emu.api_base}/interactions/{rec2.id}/{rec2.token}/callback"
                async with http.post(url2, data=json.dumps({"type": 5}), headers=headers) as r:
                    assert (r.status, (await r.json())["code"]) == (404, 10062)
                await asyncio.sleep(0.7)
                async with http.patch(hook, data=json.dumps(body), headers=headers) as r:
                    assert (r.status, (await r.json())["code"]) == (401, 50027)
                async with http.get(f"{emu.api_base}/users/@me") as r:
                    assert r.status == 401  # no token

    run(scenario())


# ---- the bot under load ------------------------------------------------------------------------


class SlowEmbedder(HashingEmbedder):
    """Stands in for the real model's cost (~5 ms a text) so a blocked event loop would show."""

    def encode(self, texts):
        time.sleep(0.005 * len(texts))
        return super().encode(texts)


def synthetic_articles(n: int) -> list[dict]:
    places = ["harbour", "library", "station", "market", "stadium", "museum", "bridge", "park"]
    return [
        {
            "title": f"Council note {i}: the {places[i % 8]} plan",
            "source": "Synthetic Times",
            "date": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "text": f"Item {i} about the {places[i % 8]}. The committee met on day {i} and agreed "
            f"on budget line {i * 7}. Residents asked about the {places[(i + 3) % 8]}.",
        }
        for i in range(n)
    ]


def test_heartbeats_acknowledged_on_time_during_a_500_article_upload(tmp_path):
    interval = 1.0

    async def scenario():
        async with running_bot(tmp_path, heartbeat_interval=interval, embedder=SlowEmbedder()) as h:
            started = time.monotonic()
            rec = await h.command(
                "upload", {"file": articles_json(synthetic_articles(500))}, admin=True
            )
            assert rec.acked_at - rec.created_at < h.emu.ack_deadline
            final = await h.wait_final(rec, "Added (500)", timeout=90)
            took = time.monotonic() - started
            assert took > 2 * interval, "the upload must be long enough to test anything"
            beats = [b.received_at for b in h.emu.heartbeats() if b.received_at >= started]
            assert len(beats) >= int(took / interval) - 1
            gaps = [
                b - a for a, b in zip([started] + beats, beats + [time.monotonic()], strict=True)
            ]
            # Discord closes a connection whose heartbeat is late; allow the client's own jitter.
            assert max(gaps) < interval * 1.5, f"heartbeat gaps {max(gaps):.2f}s"
            # progress was shown while it ran
            assert any(
                "Storing articles from articles.json" in (e.get("content") or "") for e in rec.edits
            )
            assert "Added (500)" in message_text(final) and "… and" in message_text(final)
            # other users are answered meanwhile... and after
            ask = await h.command("ask", {"question": "What did residents ask about the museum?"})
            assert "Council note" in message_text(ask.original)

    run(scenario())


def test_buttons_keep_working_after_a_restart(tmp_path):
    async def scenario():
        emu = await DiscordEmulator().start()
        try:
            async with running_bot(tmp_path / "a", emulator=emu) as h:
                items = [
                    {
                        "title": f"Bridge works {i}",
                        "text": f"The bridge repair phase {i} ends soon. "
                        "Traffic will use the old bridge meanwhile.",
                    }
                    for i in range(6)
                ]
                rec = await h.command("upload", {"file": articles_json(items)}, admin=True)
                await h.wait_final(rec, "Added")
                answer = (
                    await h.command("ask", {"question": "when does the bridge repair end?"})
                ).original
            archive_dir = tmp_path / "a"
            async with running_bot(archive_dir, emulator=emu) as h2:
                more = await h2.click(answer, buttons(answer)["More results"])
                page = more.followups[0] if more.followups else more.original
                assert page["embeds"][0]["title"].startswith("4. ")
                stale = dict(
                    answer,
                    components=[
                        {
                            "type": 1,
                            "components": [
                                {
                                    "type": 2,
                                    "style": 2,
                                    "label": "Old",
                                    "custom_id": "archivist:v0:thing",
                                }
                            ],
                        }
                    ],
                )
                old = await h2.click(stale, "archivist:v0:thing")
                assert old.ephemeral and "expired" in old.original["content"]
        finally:
            await emu.stop()

    run(scenario())

"""/healthz and /metrics, scraped while the real bot runs against the Discord emulator."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from discord_emu.emulator import DiscordEmulator
from discord_emu.harness import article, message_text, running_bot
from feed_server import Item, feed_server
from prometheus_client.parser import text_string_to_metric_families

from archivist import config
from archivist.config import Settings, load_settings
from archivist.errors import ArchivistError, ConfigError
from bot.metrics import LATE_ACK_S, Metrics

QUESTION = "When will the secret zanzibar library open on Sundays?"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def metrics_on(monkeypatch):
    """The harness builds its own Settings: give them a metrics address (port 0: any free one)."""
    monkeypatch.setattr(
        config, "Settings", functools.partial(config.Settings, metrics_addr="127.0.0.1:0")
    )


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
            return resp.status, resp.headers["Content-Type"], await resp.text()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_healthz_is_ok_once_ready(tmp_path, metrics_on):
    async def scenario():
        async with running_bot(tmp_path) as h:
            status, _, body = await get(h.bot.metrics_server.port, "/healthz")
            assert (status, body.strip()) == (200, "ok")

    run(scenario())


def test_healthz_is_503_when_the_archive_does_not_open(tmp_path, metrics_on):
    async def scenario():
        async with running_bot(tmp_path) as h:
            port = h.bot.metrics_server.port
            store = tmp_path / "store"
            store.rename(tmp_path / "moved")  # the data directory's disk went away
            try:
                status, _, body = await get(port, "/healthz")
            finally:
                (tmp_path / "moved").rename(store)
            assert status == 503 and "archive does not open" in body
            assert (await get(port, "/healthz"))[0] == 200

    run(scenario())


def test_metrics_move_with_an_ask_and_an_upload_and_hold_no_question(tmp_path, metrics_on):
    async def scenario():
        async with running_bot(tmp_path) as h:
            port = h.bot.metrics_server.port
            _, _, before = await get(port, "/metrics")
            await h.seed([article("library"), article("harbour")])
            rec = await h.command("ask", {"question": QUESTION})
            assert "Library hours" in message_text(rec.original)
            refused = await h.command("upload", {}, admin=True)
            assert "Attach a file" in message_text(refused.reply or refused.original)
            status, content_type, after = await get(port, "/metrics")
            return before, status, content_type, after, h.emu.token

    before, status, content_type, after, token = run(scenario())
    assert token not in after
    assert status == 200 and content_type.startswith("text/plain")
    old, new = samples(before), samples(after)
    ask = ("archivist_call_seconds_count", (("function", "ask"),))
    assert old.get(ask, 0) == 0 and new[ask] == 1
    assert new[("archivist_questions_total", (("outcome", "answered"),))] == 1
    assert new[("archivist_uploads_total", (("via", "add_bytes"),))] == 1
    assert new[("archivist_articles_added_total", (("via", "add_bytes"),))] == 2
    assert new[("archivist_command_errors_total", (("kind", "refused"),))] == 1
    assert new[("archivist_collections", ())] == 1
    assert new[("archivist_index_vectors", ())] > 0
    assert new[("archivist_index_memory_bytes", ())] > 0
    assert new[("archivist_feeds", (("state", "total"),))] == 0
    assert ("archivist_gateway_latency_seconds", ()) in new
    for secret in ("zanzibar", "Library hours", "librarian"):
        assert secret not in after


def test_the_index_memory_gauge_follows_the_open_indexes(tmp_path, metrics_on):
    from archivist.archive import Archive
    from archivist.config import Limits
    from archivist.embedding import HashingEmbedder
    from archivist.ranking import SearchConfig

    tiny = Limits(index_memory_mb=0.001)  # under one index: only the one last asked stays open
    archive = Archive(
        tmp_path, embedder=HashingEmbedder(), limits=tiny, search_config=SearchConfig(mode="rrf")
    )

    async def scenario():
        async with running_bot(tmp_path, archive=archive, guilds=("Alpha", "Beta")) as h:
            for guild in h.guilds:
                await h.seed([article("library"), article("harbour")], guild=guild)
                rec = await h.command("ask", {"question": QUESTION}, guild=guild)
                assert "Library hours" in message_text(rec.original)
            _, _, text = await get(h.bot.metrics_server.port, "/metrics")
            return samples(text), archive.indexes.use()

    try:
        scraped, use = run(scenario())
    finally:
        archive.close()
    every_vector = scraped[("archivist_index_vectors", ())] * archive.embedder.dim * 4
    assert use.open == 1 and 0 < use.memory_bytes < every_vector
    assert scraped[("archivist_index_memory_bytes", ())] == use.memory_bytes
    assert scraped[("archivist_index_open", ())] == 1


def test_an_interaction_acknowledged_late_is_counted(tmp_path, metrics_on):
    from discord import Interaction, app_commands

    @app_commands.command(name="dawdle")
    async def dawdle(interaction: Interaction) -> None:
        """Answers just inside Discord's 3 s."""
        await asyncio.sleep(LATE_ACK_S + 0.15)  # after the check, well before 3 s
        await interaction.response.send_message("done")

    async def scenario():
        async with running_bot(tmp_path) as h:
            port = h.bot.metrics_server.port
            await h.seed([article("library")])
            await h.command("ask", {"question": QUESTION})
            _, _, on_time = await get(port, "/metrics")
            h.bot.tree.add_command(dawdle)
            await h.bot.tree.sync()
            rec = await h.command("dawdle")
            assert rec.original["content"] == "done"
            _, _, late = await get(port, "/metrics")
            return on_time, late

    on_time, late = run(scenario())
    assert samples(on_time)[("archivist_interactions_late_total", ())] == 0
    assert samples(late)[("archivist_interactions_late_total", ())] == 1


def test_a_metrics_port_in_use_stops_the_bot_with_one_line(tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        monkeypatch.setattr(
            config, "Settings", functools.partial(config.Settings, metrics_addr=addr)
        )

        async def scenario():
            async with running_bot(tmp_path):
                pass

        with pytest.raises(ArchivistError) as caught:
            run(scenario())
    message = str(caught.value)
    assert message.startswith(f"ARCHIVIST_METRICS_ADDR {addr}: cannot listen there")
    assert "\n" not in message


def test_answers_and_declines_are_counted_apart():
    metrics = Metrics(SimpleNamespace(latency=0.0, archive=None))  # type: ignore[arg-type]
    metrics.answered(SimpleNamespace(answered=True))
    metrics.answered(SimpleNamespace(answered=False))
    metrics.answered(SimpleNamespace(answered=False))
    counts = samples(metrics.render().decode())
    assert counts[("archivist_questions_total", (("outcome", "answered"),))] == 1
    assert counts[("archivist_questions_total", (("outcome", "declined"),))] == 2


def listening_ports() -> set[int]:
    """TCP ports this process listens on (Linux /proc): other processes' sockets left out."""
    own = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            own.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in own:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")
def test_off_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHIVIST_METRICS_ADDR", raising=False)
    assert load_settings(dotenv=False).metrics_addr is None

    async def scenario():
        emu = await DiscordEmulator().start()
        try:
            before = listening_ports()
            async with running_bot(tmp_path, emulator=emu) as h:
                assert h.bot.metrics_server is None
                return before, listening_ports()
        finally:
            await emu.stop()

    before, during = run(scenario())
    assert before and during == before


def test_on_it_listens(tmp_path, metrics_on):
    async def scenario():
        async with running_bot(tmp_path) as h:
            return h.bot.metrics_server.port, listening_ports()

    port, during = run(scenario())
    assert port in during


def test_metrics_addr_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARCHIVIST_METRICS_ADDR", "127.0.0.1:9108")
    assert load_settings(dotenv=False).metrics_addr == "127.0.0.1:9108"


@pytest.mark.parametrize("addr", ["9108", "localhost", ":9108", "127.0.0.1:port", "h:70000"])
def test_a_malformed_metrics_addr_is_one_clear_line(monkeypatch, addr):
    monkeypatch.setenv("ARCHIVIST_METRICS_ADDR", addr)
    with pytest.raises(ConfigError) as caught:
        load_settings(dotenv=False)
    message = str(caught.value)
    assert "ARCHIVIST_METRICS_ADDR" in message and "host:port" in message
    assert "\n" not in message


def test_settings_default_serves_nothing():
    assert Settings().metrics_addr is None


def test_read_failures_are_counted_by_reason_during_an_upload(tmp_path, metrics_on):
    """Two bad files in one upload: each failure under its reason, not under a class name."""

    async def scenario():
        async with running_bot(tmp_path) as h:
            port = h.bot.metrics_server.port
            _, _, before = await get(port, "/metrics")
            files = {
                "file": ("broken.json", b'{"title": "Cut off', "application/json"),
                "file2": ("slides.pptx", b"PK\x03\x04 not read", "application/octet-stream"),
            }
            rec = await h.command("upload", files, admin=True)
            report = message_text(await h.wait_final(rec, "Failed"))
            _, _, after = await get(port, "/metrics")
            return before, report, after

    before, report, after = run(scenario())
    assert "broken.json" in report and "slides.pptx" in report
    old, new = samples(before), samples(after)
    for reason in ("malformed", "unsupported", "too_large", "timeout", "memory", "fetch"):
        assert old[("archivist_read_failures_total", (("reason", reason),))] == 0
    assert new[("archivist_read_failures_total", (("reason", "malformed"),))] == 1
    assert new[("archivist_read_failures_total", (("reason", "unsupported"),))] == 1
    assert sum(v for (name, _), v in new.items() if name == "archivist_read_failures_total") == 2


@pytest.mark.parametrize(
    ("silence_s", "deadline_s", "said"),
    [
        (0.5, 60.0, "no answer within 0.5 s"),  # the server's silence
        (60.0, 0.5, "no complete answer within 0.5 s"),  # the whole fetch's deadline
    ],
)
def test_a_url_that_never_answers_is_counted_as_a_timeout(
    tmp_path, metrics_on, silence_s, deadline_s, said
):
    from archivist.archive import Archive
    from archivist.config import Limits
    from archivist.embedding import HashingEmbedder

    limits = Limits(fetch_timeout_s=silence_s, fetch_deadline_s=deadline_s)
    archive = Archive(tmp_path, embedder=HashingEmbedder(), limits=limits)

    async def scenario():
        with socket.socket() as silent:  # connections are accepted; nothing is ever answered
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/page"
            async with running_bot(tmp_path, archive=archive, allow_private_urls=True) as h:
                rec = await h.command("upload", {"url": url}, admin=True)
                report = message_text(await h.wait_final(rec, "Failed"))
                _, _, after = await get(h.bot.metrics_server.port, "/metrics")
                return report, after

    try:
        report, after = run(scenario())
    finally:
        archive.close()
    assert said in report  # the member reads how long it waited
    new = samples(after)
    assert new[("archivist_read_failures_total", (("reason", "timeout"),))] == 1
    assert new[("archivist_read_failures_total", (("reason", "fetch"),))] == 0


def test_feeds_are_gauged_by_state(tmp_path, metrics_on):
    """Read from the store's feed table at scrape time (tests/test_bot_postgres.py runs it on
    PostgreSQL too)."""
    from archivist import feeds

    async def scenario():
        with feed_server() as server:
            server.serve_pages("ferry", "library")
            kept = server.set_rss("/kept.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])
            gone = server.set_rss("/gone.xml", "Valley Post", [Item("library", "/news/library")])
            async with running_bot(tmp_path, allow_private_urls=True) as h:
                for url in (kept, gone):
                    await asyncio.to_thread(
                        feeds.add_feed, h.archive, url, collection=h.guild.id, allow_private=True
                    )
                del server.routes["/gone.xml"]  # its next poll fails
                await asyncio.to_thread(
                    feeds.poll_all, h.archive, collection=h.guild.id, allow_private=True
                )
                _, _, text = await get(h.bot.metrics_server.port, "/metrics")
                return samples(text)

    scraped = run(scenario())
    states = {
        dict(labels)["state"]: n
        for (name, labels), n in scraped.items()
        if name == "archivist_feeds"
    }
    assert states == {"total": 2, "polled": 2, "failing": 1, "disabled": 0}

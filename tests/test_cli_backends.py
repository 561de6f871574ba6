"""The `archivist` command on SQLite and on PostgreSQL (`ARCHIVIST_DATABASE_URL`): ingest, ask,
list, show, delete, stats, check, reindex and export print the same JSON and text on both
(issue 16's "Done when"); only what legitimately differs is set aside (times, sizes, float
noise)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, fake_model_archive
from pg import TEMPLATE, pg_server, pg_url, scores, without

from archivist.cli import cli

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module
QUESTIONS = ["When did the Ley Bridge reopen?", "storm flood", "Who set the marathon record?"]
TIMES = ("added_at", "last_added_at")
SIZES = ("db_bytes", "index_bytes")


def runner_for(data_dir: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    """The CLI on the archive the settings name (a folder, or `ARCHIVIST_DATABASE_URL`), on the
    fake model with the shipped ranking (hybrid), not rrf as in test_cli: rrf ranks by position,
    and the fake model's many exactly-orthogonal passages (cosine 0) tie, in an order FAISS and
    pgvector need not share."""
    env = {"ARCHIVIST_DATABASE_URL": database_url or ""}

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(
            cli, ["--data-dir", str(data_dir), *args], obj=fake_model_archive, env=env
        )

    return invoke


def _json(result: Any) -> Any:
    """The command's JSON, or how it failed (compared as any other output)."""
    if result.exit_code != 0:
        return {"exit_code": result.exit_code, "output": result.output}
    return json.loads(result.stdout)


def _session(run: Any) -> dict[str, Any]:
    """Every command of the contract, in the order a member would run them."""
    out: dict[str, Any] = {
        "ingest": _json(run("ingest", str(SAMPLES), "--json")),
        "again": _json(run("ingest", str(SAMPLES), "--json")),
        "ask": [_json(run("ask", q, "--json")) for q in QUESTIONS],
        "ask_k": _json(run("ask", "storm", "--k", "8", "--json")),
        "ask_source": _json(run("ask", "comet", "--source", "SCIENCE-desk", "--json")),
        "ask_since": _json(run("ask", "comet telescope", "--since", "2026-10-01", "--json")),
    }
    listed = _json(run("list", "--json", "--limit", "50"))
    out["list"] = listed
    out["list_source"] = _json(run("list", "--json", "--source", "science-desk"))
    out["show"] = _json(run("show", listed[-1]["id"], "--json"))
    out["show_text"] = run("show", listed[-1]["id"]).output
    out["stats"] = _json(run("stats", "--json"))
    out["check"] = _json(run("check", "--json"))
    out["check_text"] = run("check").output
    reindexed = run("reindex")
    out["reindex"] = (reindexed.exit_code, reindexed.output)
    out["check_reindexed"] = _json(run("check", "--json"))
    out["export"] = run("export").stdout
    out["delete"] = run("delete", listed[0]["id"]).output
    out["after_delete"] = _json(run("ask", QUESTIONS[0], "--json"))
    out["stats_after"] = _json(run("stats", "--json"))
    out["check_after"] = _json(run("check", "--json"))
    out["missing"] = run("show", listed[0]["id"]).stderr
    return out


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, pg_server) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Both sessions, once for the module's tests (each is a minute of CLI runs)."""
    import psycopg

    name = "cli_backends"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        root = tmp_path_factory.mktemp("cli")
        sqlite = _session(runner_for(root / "sqlite", None))
        postgres = _session(runner_for(root / "pg", pg_server.url(name)))
        yield sqlite, postgres
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_every_command_prints_the_same_on_both_backends(sessions):
    sqlite, postgres = sessions
    assert sqlite["ask"][0]["hits"] and sqlite["check"]["ok"], "the session finds something"
    assert sqlite["ask_source"]["hits"] and sqlite["list_source"], "the filters keep something"
    # the same passages in the same order; scores within float noise (bm25 summed in another
    # order differs in the sixth decimal)
    assert scores(postgres) == pytest.approx(scores(sqlite), abs=1e-4)
    for key in sqlite:
        expected = without(sqlite[key], ("score", *TIMES, *SIZES))
        assert without(postgres[key], ("score", *TIMES, *SIZES)) == expected, key


def test_stats_sizes_are_measured_on_both_backends(sessions):
    """The sizes differ by engine (files against relations), but neither is left at 0."""
    for session in sessions:
        for stats in (session["stats"], session["stats_after"]):
            assert stats["db_bytes"] > 0 and stats["index_bytes"] > 0, stats
            assert set(stats) == set(sessions[0]["stats"])


def test_backup_of_a_postgresql_archive_says_what_to_use_instead(tmp_path, pg_url):
    run = runner_for(tmp_path / "d", pg_url)
    result = run("backup", str(tmp_path / "bk"))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert "pg_dump" in result.stderr and "archivist migrate --from" in result.stderr
    assert not (tmp_path / "bk").exists()
    assert "pg_dump" in run("backup", "--help").output


def test_check_and_repair_through_the_cli_on_postgresql(tmp_path, pg_url):
    import psycopg

    run = runner_for(tmp_path / "d", pg_url)
    assert run("ingest", str(SAMPLES)).exit_code == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE passages SET fts = ''::tsvector WHERE id = (SELECT min(id) FROM passages)"
        )
    found = run("check")
    assert found.exit_code == 1
    assert "default: 1 passages missing from full-text search" in found.output.splitlines()
    assert found.output.endswith("Problems found: run `archivist check --repair`.\n")
    repaired = _json(run("check", "--repair", "--json"))
    assert repaired["ok"] and repaired["repaired"]
    assert "repaired: default: 1 passages missing from full-text search" in repaired["problems"]
    counts = repaired["collections"]["default"]
    assert counts["fts"] == counts["indexed"] == counts["passages"]
    assert _json(run("check", "--json"))["problems"] == []


def test_reindex_on_postgresql_analyses_old_passages_and_builds_no_index_it_was_told_not_to(
    tmp_path, pg_url, monkeypatch
):
    # before: `reindex` died on PostgreSQL (its vector index has no `rebuild`)
    import psycopg

    monkeypatch.setenv("ARCHIVIST_PG_VECTOR_INDEX", "none")  # this CPU's pgvector: no HNSW
    run = runner_for(tmp_path / "d", pg_url)
    assert run("ingest", str(SAMPLES)).exit_code == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE passages SET stems = NULL WHERE id IN (SELECT id FROM passages LIMIT 2)"
        )
        passages = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    result = run("reindex")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Reindexed {passages} passages.",
        "Analysed 2 passages stored before analyses were kept.",
    ]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM passages WHERE stems IS NULL").fetchone()[0] == 0
        vector_indexes = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%'"
        ).fetchone()[0]
    assert vector_indexes == 0
    assert run("reindex").output.splitlines() == [f"Reindexed {passages} passages."]

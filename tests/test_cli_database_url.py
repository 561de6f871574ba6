"""`--database-url`: the archive in PostgreSQL chosen on the command line, over
ARCHIVIST_DATABASE_URL (issue 16 names both)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import SAMPLES, fake_model_archive
from pg import pg_server, pg_url

from archivist.cli import cli

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), obj=fake_model_archive, env=env or {})


def test_the_option_puts_the_archive_in_postgresql(tmp_path, pg_url):
    data = str(tmp_path / "data")
    stored = invoke("--data-dir", data, "--database-url", pg_url, "ingest", str(SAMPLES), "--json")
    assert stored.exit_code == 0, stored.output
    added = len(json.loads(stored.stdout)["added"])
    assert added > 0
    assert not (tmp_path / "data" / "store" / "archive.db").exists()  # nothing in SQLite
    # the same database named by the environment holds them
    stats = invoke("--data-dir", data, "stats", "--json", env={"ARCHIVIST_DATABASE_URL": pg_url})
    assert json.loads(stats.stdout)["articles"] == added
    # and the option wins over the environment
    other = invoke(
        "--data-dir", data, "--database-url", pg_url, "stats", "--json",
        env={"ARCHIVIST_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )  # fmt: skip
    assert other.exit_code == 0 and json.loads(other.stdout)["articles"] == added


def test_a_bad_option_is_one_line_naming_it(tmp_path):
    result = invoke("--data-dir", str(tmp_path), "--database-url", "mysql://me@db/x", "stats")
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "--database-url" in line and "postgresql://" in line
    assert not (tmp_path / "store").exists()

"""`archivist doctor` with ARCHIVIST_DATABASE_URL: the database, pgvector, schema and store lines,
each problem one line with its fix, against databases of the server the tests start (tests/pg.py).
"""

from __future__ import annotations

import socket

import psycopg
from pg import pg_server, pg_url
from test_doctor import CHECKS as SQLITE_CHECKS
from test_doctor import by_name, discord_api, doctor, fake_model

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.store import pg_migrations
from archivist.store.pg_connection import redacted

FIXTURES = (pg_server, pg_url, discord_api, doctor, fake_model)
# SQLite's checks, with the database's three before its `store` line
CHECKS = [
    *SQLITE_CHECKS[: SQLITE_CHECKS.index("store")],
    "database",
    "pgvector",
    "schema",
    *SQLITE_CHECKS[SQLITE_CHECKS.index("store") :],
]
NEWEST = pg_migrations.MIGRATIONS[-1].__name__


def on(url: str) -> dict[str, str]:
    return {"ARCHIVIST_DATABASE_URL": url}


def store_one_article(tmp_path, url: str) -> None:
    archive = Archive(tmp_path / "writer", embedder=HashingEmbedder(), database_url=url)
    try:
        text = "Rates held\n\nThe central bank kept its interest rate at 4 percent.\n"
        assert archive.add_bytes("rates.txt", text.encode(), collection="default").added
    finally:
        archive.close()


def sql(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def one_line_each(result) -> None:
    for check in by_name(result).values():
        assert "\n" not in check["detail"] and "\n" not in (check["fix"] or "")


def test_an_empty_database_is_a_clean_report_and_the_doctor_writes_nothing(
    doctor, fake_model, pg_server
):
    name = "doctor_bare"  # no pgvector yet: the first start creates it
    sql(pg_server.admin_url, f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        url = pg_server.url(name)
        result = doctor("--json", env=on(url))
        assert result.exit_code == 0, result.output
        checks = by_name(result)
        assert list(checks) == CHECKS
        assert checks["database"]["status"] == "ok"
        assert checks["database"]["detail"].startswith(f"{redacted(url)} answers: PostgreSQL ")
        assert checks["pgvector"]["status"] == "ok"
        assert checks["pgvector"]["detail"].endswith(
            "available: created in the database at the first start"
        )
        assert (checks["schema"]["status"], checks["store"]["status"]) == ("ok", "ok")
        assert "no archive yet" in checks["schema"]["detail"]
        assert sql(url, "SELECT extname FROM pg_extension WHERE extname = 'vector'") == []
        assert sql(url, "SELECT to_regclass('_migrations')") == [(None,)]
    finally:
        sql(pg_server.admin_url, f"DROP DATABASE {name} WITH (FORCE)")


def test_an_archive_is_counted_and_checked(doctor, fake_model, pg_url, tmp_path):
    store_one_article(tmp_path, pg_url)
    result = doctor("--json", env=on(pg_url))
    assert result.exit_code == 0, result.output
    checks = by_name(result)
    assert checks["pgvector"]["status"] == "ok"
    assert checks["pgvector"]["detail"].startswith("vector ")
    assert checks["schema"] == {
        "name": "schema",
        "status": "ok",
        "detail": f"current: {len(pg_migrations.MIGRATIONS)} migrations, the newest {NEWEST}",
        "fix": None,
    }
    assert checks["store"]["status"] == "ok"
    assert checks["store"]["detail"] == (
        "1 articles, 1 passages in 1 collections; `archivist check` passes"
    )
    assert " MB, as postgres" in checks["database"]["detail"]

    sql(pg_url, "DELETE FROM passages")  # an article left without its passages
    result = doctor(env=on(pg_url))
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if x.split()[1] == "store")
    assert line.startswith("FAIL") and "has no passages" in line
    assert "Fix: stop the bot, run `archivist check --repair` with the bot's" in line


def test_migrations_not_applied_warn_and_unknown_ones_fail(doctor, fake_model, pg_url, tmp_path):
    store_one_article(tmp_path, pg_url)
    sql(pg_url, f"DELETE FROM _migrations WHERE name = '{NEWEST}'")
    checks = by_name(doctor("--json", env=on(pg_url)))
    assert checks["schema"]["status"] == "warn"
    assert checks["schema"]["detail"] == f"1 migrations not applied yet ({NEWEST})"
    assert checks["schema"]["fix"].startswith("back the database up (pg_dump)")
    assert checks["store"]["status"] == "warn"  # not opened: opening would migrate it
    assert sql(pg_url, f"SELECT name FROM _migrations WHERE name = '{NEWEST}'") == []

    sql(pg_url, f"INSERT INTO _migrations (name) VALUES ('{NEWEST}'), ('m999_from_later')")
    result = doctor("--json", env=on(pg_url))
    assert result.exit_code == 1
    schema = by_name(result)["schema"]
    assert schema["status"] == "FAIL"
    assert "does not know (m999_from_later): a newer archivist wrote it" in schema["detail"]
    one_line_each(result)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_database_out_of_reach_fails_in_one_line_without_its_password(
    doctor, fake_model, pg_server
):
    url = f"postgresql://archivist:s3cr3t@127.0.0.1:{_closed_port()}/news"
    for args in ((), ("--json",)):
        result = doctor(*args, env=on(url))
        assert result.exit_code == 1
        assert "s3cr3t" not in result.output
    checks = by_name(result)
    assert checks["database"]["status"] == "FAIL"
    assert checks["database"]["detail"].startswith(
        f"cannot connect to postgresql://archivist:***@127.0.0.1:{url.rsplit(':', 1)[1]}: "
    )
    assert checks["database"]["fix"].startswith("check ARCHIVIST_DATABASE_URL")
    for name in ("pgvector", "schema", "store"):
        assert checks[name]["status"] == "warn", checks[name]
    one_line_each(result)

    missing = pg_server.url("no_such_database")
    checks = by_name(doctor("--json", env=on(missing)))
    assert checks["database"]["status"] == "FAIL"
    assert 'database "no_such_database" does not exist' in checks["database"]["detail"]

"""A full disk is one line naming the archive, and nothing of the write is stored: an ingest,
and a migration at open (m010 rewrites every passage, so it needs about their size free).
The disk is made full with SQLite's own page limit on the connection; SQLite then rolls the
transaction back itself, which the store's rollback must not hide. A big write's WAL is given
back afterwards, not kept at its size."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import SAMPLES, fake_model_archive
from discord_emu.harness import article, articles_json, message_text, running_bot
from pg import pg_server, pg_url
from test_passage_vectors import as_before_m010

from archivist.archive import Archive
from archivist.cli import cli
from archivist.embedding import HashingEmbedder
from archivist.errors import DiskFull
from archivist.store import Store, connection

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module


def pages(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("PRAGMA page_count").fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def full_disk(monkeypatch):
    """Every new connection may grow its file by `room` pages at most (set by the test)."""
    room = {"pages": 1_000_000}
    plain = connection.connect

    def limited(path: Path) -> sqlite_utils.Database:
        db = plain(path)
        have = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {have + room['pages']}")
        return db

    monkeypatch.setattr(connection, "connect", limited)
    return room


def stored(folder: Path) -> tuple[list[Any], int]:
    """(the default collection's articles, the passages stored), read with no limit."""
    archive = Archive(folder, embedder=HashingEmbedder())
    try:
        return archive.recent(collection="default", limit=100), archive.stats().passages
    finally:
        archive.close()


def test_an_ingest_on_a_full_disk_is_one_line_and_stores_nothing(tmp_path):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    archive.add_paths([SAMPLES / "01_harwick_bridge_reopens.txt"], collection="default")
    archive.close()
    before = stored(tmp_path)
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    have = archive.store.db.execute("PRAGMA page_count").fetchone()[0]
    archive.store.db.execute(f"PRAGMA max_page_count = {have + 2}")
    with pytest.raises(DiskFull) as raised:
        archive.add_paths([SAMPLES], collection="default")
    archive.close()
    message = str(raised.value)
    assert "\n" not in message
    assert str(tmp_path / "store" / "archive.db") in message and "disk is full" in message
    assert stored(tmp_path) == before
    found = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "check", "--json"], obj=fake_model_archive
    )
    assert found.exit_code == 0, found.output


def test_a_migration_on_a_full_disk_changes_nothing_until_there_is_room(tmp_path, full_disk):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    for collection in ("default", "g2", "g3"):
        archive.add_paths([SAMPLES], collection=collection)
    archive.close()
    before = stored(tmp_path)
    db_path = tmp_path / "store" / "archive.db"
    as_before_m010(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("VACUUM")  # no free pages: the migration's new tables need new ones
    conn.close()
    size = pages(db_path)
    full_disk["pages"] = 3

    refused = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "list"], obj=fake_model_archive)
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        f"Error: {db_path}: the disk is full; nothing of this write was stored"
        " (free some space and try again)"
    ]
    assert pages(db_path) <= size + 3
    columns = [c.name for c in sqlite_utils.Database(db_path)["passages"].columns]
    assert "vector" in columns  # still the old layout, whole

    full_disk["pages"] = 1_000_000
    assert stored(tmp_path) == before
    assert "vector" not in [c.name for c in sqlite_utils.Database(db_path)["passages"].columns]


def test_a_big_write_gives_its_wal_back(tmp_path):
    """Before, the WAL stayed the size of the biggest transaction for as long as a process
    kept the store open (the bot: months)."""
    store = Store(tmp_path / "archive.db")
    store.set_meta("big", "x" * (80 * 2**20))  # one 80 MB transaction
    wal = tmp_path / "archive.db-wal"
    assert wal.stat().st_size > 80 * 2**20
    store.set_meta("big", "small")  # the next write starts the WAL over
    store.set_meta("other", "small")
    assert wal.exists() and wal.stat().st_size <= 64 * 2**20
    assert store.get_meta("big") == "small"
    store.close()


def test_an_upload_on_a_full_disk_tells_the_member_without_the_hosts_path(tmp_path, full_disk):
    async def seeded() -> None:
        async with running_bot(tmp_path) as h:
            await h.seed([article("harbour")])

    asyncio.run(seeded())
    db_path = tmp_path / "store" / "archive.db"
    conn = sqlite3.connect(db_path)
    conn.execute("VACUUM")  # no free pages: new articles need new ones
    conn.close()
    full_disk["pages"] = 0  # the bot's connections, all made from here on

    async def scenario() -> None:
        async with running_bot(tmp_path) as h:
            upload = articles_json([article("wind", n) for n in range(1, 40)])
            rec = await h.command("upload", {"file": upload}, admin=True)
            final = await h.wait_final(rec, "Nothing was added")
            text = message_text(final)
            assert "articles.json" in text and "disk is full" in text
            assert str(tmp_path) not in text.replace("\\", "")
            assert h.archive.count(collection=h.guild.id) == 0

    asyncio.run(scenario())


def test_a_commit_that_finds_the_disk_full_is_rolled_back_and_the_next_write_works(
    tmp_path, monkeypatch
):
    """The last pages of a transaction are written at COMMIT, which can find the disk full
    too. Before, the error left the connection inside its transaction: every later write of
    the process failed with "cannot start a transaction within a transaction"."""
    store = Store(tmp_path / "archive.db")
    store.set_meta("kept", "1")
    db = store.db
    plain = db.execute

    def full_at_commit(sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            monkeypatch.setattr(db, "execute", plain)  # once
            full = sqlite3.OperationalError("database or disk is full")
            full.sqlite_errorcode = sqlite3.SQLITE_FULL
            raise full
        return plain(sql, *args)

    monkeypatch.setattr(db, "execute", full_at_commit)
    with pytest.raises(DiskFull):
        store.set_meta("lost", "1")
    assert store.get_meta("lost") is None and store.get_meta("kept") == "1"
    store.set_meta("later", "1")  # the connection is usable
    assert store.get_meta("later") == "1"
    store.close()


def test_a_full_disk_on_postgresql_is_one_line_and_stores_nothing(tmp_path, pg_url):
    """The server says so with SQLSTATE 53100 (disk_full), here raised by a trigger. Before,
    psycopg's error came out whole: a traceback in the terminal."""
    import psycopg

    archive = Archive(tmp_path, embedder=HashingEmbedder(), database_url=pg_url)
    archive.add_paths([SAMPLES / "01_harwick_bridge_reopens.txt"], collection="default")
    before = archive.recent(collection="default", limit=100), archive.stats().passages
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION no_room() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'could not extend file: No space left on device'"
            " USING ERRCODE = 'disk_full'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER no_room BEFORE INSERT ON articles"
            " FOR EACH ROW EXECUTE FUNCTION no_room()"
        )
    with pytest.raises(DiskFull) as raised:
        archive.add_paths([SAMPLES], collection="default")
    message = str(raised.value)
    assert "\n" not in message and "disk is full" in message
    dbname = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
    assert f"the database {dbname} " in message
    assert (archive.recent(collection="default", limit=100), archive.stats().passages) == before
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER no_room ON articles")
    archive.add_paths([SAMPLES], collection="default")  # the same connection goes on
    assert archive.stats().passages > before[1]
    archive.close()

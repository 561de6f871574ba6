"""PostgreSQL with ARCHIVIST_PG_VECTOR_INDEX=faiss: the database stays the truth and each
process keeps FAISS indexes of its vectors under the data folder (`pg_index.open_postgres`).

The core tests that `test_archive_postgres` runs on PostgreSQL are collected here again (those
of the modules in SUBSET, and its own side-by-side tests), with the mode set for each."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_archive_postgres
from click.testing import CliRunner
from conftest import SAMPLES, fake_model_archive
from pg import is_fixture, pg_server, pg_url

from archivist.archive import Archive
from archivist.cli import cli
from archivist.embedding import HashingEmbedder
from archivist.errors import ArchivistError, ConfigError
from archivist.index import VectorIndex
from archivist.maintenance import backup, check
from archivist.pg_index import PG_INDEX_DIR, VECTOR_INDEX_ENV

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module
# the modules whose tests search, write and delete through the vector index
SUBSET = {"test_archive", "test_copies", "test_dates", "test_ingest", "test_ranking"}


def _from_postgres_tests() -> dict[str, Any]:
    """test_archive_postgres's fixtures, and its tests from SUBSET's modules and its own."""
    wanted = SUBSET | {test_archive_postgres.__name__}
    return {
        name: value
        for name, value in vars(test_archive_postgres).items()
        if is_fixture(value)
        or (name.startswith("test_") and callable(value) and value.__module__ in wanted)
    }


globals().update(_from_postgres_tests())


@pytest.fixture(autouse=True)
def faiss_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VECTOR_INDEX_ENV, "faiss")


def _archive(data_dir: Path, url: str) -> Archive:
    return Archive(data_dir, embedder=HashingEmbedder(), database_url=url)


def _in_step(archive: Archive, collection: str) -> bool:
    """The FAISS index holds exactly the passages the database holds."""
    index = archive.checked_index(collection)
    return list(index.ids()) == list(archive.store.passage_ids(collection))


def test_the_vectors_are_searched_by_a_faiss_index(tmp_path, pg_url):
    archive = _archive(tmp_path / "a", pg_url)
    try:
        archive.add_paths([SAMPLES], collection="g1")
        assert isinstance(archive.checked_index("g1"), VectorIndex)
        assert archive.ask("bridge reopen", collection="g1").hits
        assert archive.checked_index("g1").ntotal == archive.stats(collection="g1").passages
    finally:
        archive.close()


def test_another_archives_writes_reach_the_next_ask(tmp_path, pg_url):
    first, second = _archive(tmp_path / "a", pg_url), _archive(tmp_path / "b", pg_url)
    try:
        assert not first.ask("bridge reopen", collection="g1").hits  # opens its empty index
        second.add_paths([SAMPLES], collection="g1")
        hits = first.ask("bridge reopen", collection="g1").hits
        assert hits and _in_step(first, "g1")
        gone = hits[0].article_id
        second.delete(gone, collection="g1")
        after = first.ask("bridge reopen", collection="g1").hits
        assert gone not in {h.article_id for h in after}
        assert _in_step(first, "g1")
        assert first.checked_index("g1").ntotal == second.checked_index("g1").ntotal
    finally:
        first.close()
        second.close()


def test_index_files_are_kept_under_the_data_dir_and_reused(tmp_path, pg_url, caplog):
    archive = _archive(tmp_path / "a", pg_url)
    archive.add_paths([SAMPLES], collection="g1")
    expected = archive.ask("bridge reopen", collection="g1").to_json()
    archive.close()
    files = sorted((tmp_path / "a" / PG_INDEX_DIR).glob("*/*.faiss"))
    assert len(files) == 1
    caplog.set_level(logging.DEBUG, logger="archivist")
    again = _archive(tmp_path / "a", pg_url)
    try:
        assert again.ask("bridge reopen", collection="g1").to_json() == expected
        opened = [r.getMessage() for r in caplog.records if r.getMessage().startswith("index ")]
        assert opened == ["index 'g1': loaded"]  # the file, checked, not rebuilt
    finally:
        again.close()


@pytest.mark.parametrize("value", ["hnsw2", "FAISS-GPU", "off"])
def test_a_wrong_mode_is_one_line_naming_the_setting_and_its_values(tmp_path, monkeypatch, value):
    monkeypatch.setenv(VECTOR_INDEX_ENV, value)
    # refused before any connection: the socket folder need not exist
    with pytest.raises(ConfigError) as error:
        _archive(tmp_path / "a", "postgresql://postgres@/nowhere?host=/nonexistent")
    message = str(error.value)
    assert "\n" not in message
    assert VECTOR_INDEX_ENV in message and repr(value) in message
    assert all(mode in message for mode in ("hnsw", "none", "faiss"))


# -- maintenance: the database is the truth, the FAISS files are this process's cache ---------
@pytest.fixture
def indexed(tmp_path, pg_url) -> Iterator[Archive]:
    """An archive of the samples, asked once: its FAISS index file made and saved."""
    archive = _archive(tmp_path / "data", pg_url)
    try:
        archive.add_paths([SAMPLES], collection="g1")
        archive.ask("When did the bridge reopen?", collection="g1")
        archive.indexes.save_dirty()
        yield archive
    finally:
        archive.close()


def test_backup_refuses_a_postgresql_archive_with_faiss_files(tmp_path, indexed):
    with pytest.raises(ArchivistError, match="pg_dump") as refused:
        backup(indexed, tmp_path / "bk")
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "bk").exists()


def test_check_reads_the_faiss_files_where_they_are(indexed):
    report = check(indexed)
    assert report.ok, report.problems
    assert report.collections["g1"]["indexed"] == report.collections["g1"]["passages"] > 0
    # an index file whose collection the database no longer holds is found
    stale = indexed.index_unchecked("gone")
    dim = indexed.embedder.dim
    stale.add(np.array([10**9], dtype=np.int64), np.ones((1, dim), np.float32) / dim**0.5)
    stale.save()
    found = check(indexed)
    assert any(p.startswith("gone:") for p in found.problems), found.problems


def test_stats_give_the_databases_size_and_the_faiss_files(indexed):
    stats = indexed.stats()
    store: Any = indexed.store
    assert stats.db_bytes == store.size_bytes()[0] > 0  # the server's, not a SQLite file's
    assert stats.indexed == stats.passages > 0


def test_reindex_rebuilds_the_faiss_files(tmp_path, pg_url):
    data = tmp_path / "data"
    archive = _archive(data, pg_url)
    try:
        archive.add_paths([SAMPLES], collection="g1")
    finally:
        archive.close()
    for made in (data / PG_INDEX_DIR).glob("*/*"):  # the process's cache lost
        made.unlink()
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), "--database-url", pg_url, "reindex"], obj=fake_model_archive
    )
    assert result.exit_code == 0, result.output
    assert "Reindexed" in result.output
    assert sorted((data / PG_INDEX_DIR).glob("*/*.faiss"))  # built from the database's vectors

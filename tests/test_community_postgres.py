"""tests/test_community.py again on PostgreSQL: its tests, imported, with an archive in a fresh
PostgreSQL database for `fake_archive` and for the archives it opens by folder. The community
SQL is written once for both stores (`archivist.community`): this is what keeps it so."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import test_community
from pg import pg_server, pg_url

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module
TESTS = {
    name: test
    for name, test in vars(test_community).items()
    if name.startswith("test_") and inspect.isfunction(test)
}
assert TESTS, "test_community's tests are found by name"
globals().update(TESTS)


@pytest.fixture
def fake_archive(tmp_path, pg_url):
    archive = Archive(tmp_path / "fake", embedder=HashingEmbedder(), database_url=pg_url)
    yield archive
    archive.close()


@pytest.fixture(autouse=True)
def archives_on_postgresql(monkeypatch, pg_url):
    """An archive a test opens by its folder (`Archive(tmp_path, ...)`: a reopen) opens the
    test's PostgreSQL database instead, as every process of one deployment does."""

    def on_postgresql(data_dir: Any, *args: Any, **kwargs: Any) -> Archive:
        kwargs.setdefault("database_url", pg_url)
        return Archive(data_dir, *args, **kwargs)

    monkeypatch.setattr(test_community, "Archive", on_postgresql)

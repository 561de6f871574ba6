"""The archive the CLI and the bot open is the one their settings describe: the embedding
settings (read once, by config) reach the model, and ARCHIVIST_DATABASE_URL the store."""

from __future__ import annotations

from pathlib import Path

from pg import pg_server, pg_url

from archivist.archive import Archive
from archivist.cli import open_archive
from archivist.config import EmbeddingSettings, Settings
from archivist.store.postgres import PostgresStore

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module


def embedding(tmp_path: Path) -> EmbeddingSettings:
    # nothing here loads the model: it is loaded on its first batch
    return EmbeddingSettings(precision="fp32", threads=3, workers=2, cache_dir=tmp_path / "cache")


def test_the_cli_opens_the_model_its_settings_describe(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVIST_EMBED_THREADS", "1")  # the settings were read before this
    settings = Settings(data_dir=tmp_path / "d", embedding=embedding(tmp_path))
    archive = open_archive(settings)
    try:
        assert archive.embedder.settings == settings.embedding
    finally:
        archive.close()


def test_a_database_url_in_the_settings_opens_postgresql(tmp_path, pg_url):
    settings = Settings(data_dir=tmp_path / "d", embedding=embedding(tmp_path), database_url=pg_url)
    archive = Archive.from_settings(settings)
    try:
        assert isinstance(archive.store, PostgresStore)
    finally:
        archive.close()

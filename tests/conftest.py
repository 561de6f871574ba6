"""Shared fixtures: temp stores, a fast fake embedder, and the real model (loaded once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
SEED = SHARED / "seeds" / "000_bb004c143a6f2226.txt"
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path, monkeypatch):
    """No test touches the real ./data store, a developer's DISCORD_TOKEN or their database."""
    monkeypatch.setenv("ARCHIVIST_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("ARCHIVIST_DATABASE_URL", raising=False)


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data sets live beside the project checkout)")
    return path


def fake_model_archive(settings):  # type: ignore[no-untyped-def]
    """The CLI's archive on the fast fake model (`cli`'s factory, passed as the runner's obj):
    in the settings' folder, or in their database (`ARCHIVIST_DATABASE_URL`)."""
    from archivist.archive import Archive
    from archivist.embedding import HashingEmbedder

    return Archive(
        settings.data_dir,
        limits=settings.limits,
        embedder=HashingEmbedder(),
        database_url=settings.database_url,
    )


@pytest.fixture
def fake_archive(tmp_path):
    from archivist.archive import Archive
    from archivist.embedding import HashingEmbedder

    archive = Archive(tmp_path / "fake", embedder=HashingEmbedder())
    yield archive
    archive.close()


@pytest.fixture(scope="session")
def real_embedder():
    from archivist.embedding import default_embedder

    embedder = default_embedder()
    embedder.encode(["warm up"])
    return embedder


@pytest.fixture
def real_archive(tmp_path, real_embedder):
    from archivist.archive import Archive

    archive = Archive(tmp_path / "real", embedder=real_embedder)
    yield archive
    archive.close()

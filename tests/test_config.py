from __future__ import annotations

import os

import pytest

from archivist.config import EmbeddingSettings, Settings, load_settings
from archivist.errors import ConfigError


def settings_with(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings(dotenv=False)


def test_defaults(monkeypatch, tmp_path):
    s = settings_with(monkeypatch)
    assert s.shard_count is None and s.shard_ids is None
    assert s.limits.upload_max_bytes == 10 * 1024 * 1024


@pytest.mark.parametrize(
    "ids, expected", [("2,3", (2, 3)), ("0-3", (0, 1, 2, 3)), ("5", (5,)), ("1, 0-1", (0, 1))]
)
def test_shard_ids(monkeypatch, ids, expected):
    s = settings_with(monkeypatch, ARCHIVIST_SHARD_COUNT="8", ARCHIVIST_SHARD_IDS=ids)
    assert s.shard_count == 8 and s.shard_ids == expected


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ARCHIVIST_SHARD_IDS": "0,1"}, "needs ARCHIVIST_SHARD_COUNT"),
        ({"ARCHIVIST_SHARD_COUNT": "2", "ARCHIVIST_SHARD_IDS": "2"}, "from 0 to 1"),
        ({"ARCHIVIST_SHARD_COUNT": "2", "ARCHIVIST_SHARD_IDS": "a"}, "must look like"),
        ({"ARCHIVIST_SHARD_COUNT": "x"}, "whole number"),
        ({"ARCHIVIST_MAX_FILE_MB": "lots"}, "must be a number"),
    ],
)
def test_bad_settings_say_what_is_wrong(monkeypatch, env, message):
    with pytest.raises(ConfigError, match=message):
        settings_with(monkeypatch, **env)


def test_bot_takes_its_shards_from_settings(monkeypatch, tmp_path):
    from archivist.archive import Archive
    from archivist.embedding import HashingEmbedder
    from bot.app import ArchivistBot

    s = settings_with(monkeypatch, ARCHIVIST_SHARD_COUNT="8", ARCHIVIST_SHARD_IDS="2-3")
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    bot = ArchivistBot(archive, s)
    assert bot.shard_count == 8 and bot.shard_ids == [2, 3]
    archive.close()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ARCHIVIST_PRECISION": "int4"}, "ARCHIVIST_PRECISION='int4' is neither int8 nor fp32"),
        ({"ARCHIVIST_EMBED_WORKERS": "two"}, "ARCHIVIST_EMBED_WORKERS='two' is not a whole"),
        ({"ARCHIVIST_EMBED_THREADS": "0"}, "ARCHIVIST_EMBED_THREADS='0' is not a whole"),
        ({"ARCHIVIST_EMBEDDER": "tensorflow"}, "ARCHIVIST_EMBEDDER='tensorflow' is neither"),
    ],
)
def test_bad_embedding_settings_are_named(monkeypatch, env, message):
    with pytest.raises(ConfigError, match=message):
        settings_with(monkeypatch, **env)


def test_embedding_defaults(monkeypatch, tmp_path):
    for name in ("ARCHIVIST_PRECISION", "ARCHIVIST_EMBEDDER", "ARCHIVIST_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ARCHIVIST_EMBED_THREADS", raising=False)
    monkeypatch.delenv("ARCHIVIST_EMBED_WORKERS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    s = settings_with(monkeypatch).embedding
    assert (s.backend, s.precision, s.threads) == ("onnx", "int8", 1)
    assert s.workers == (os.cpu_count() or 1)
    assert s.cache_dir == tmp_path / "xdg" / "archivist"


def test_embedding_settings_from_the_environment(monkeypatch, tmp_path):
    s = settings_with(
        monkeypatch,
        ARCHIVIST_PRECISION=" FP32 ",
        ARCHIVIST_EMBED_WORKERS="3",
        ARCHIVIST_EMBED_THREADS="2",
        ARCHIVIST_EMBEDDER="PyTorch",
        ARCHIVIST_CACHE_DIR=str(tmp_path / "cache"),
    ).embedding
    assert (s.precision, s.workers, s.threads, s.backend) == ("fp32", 3, 2, "torch")
    assert s.cache_dir == tmp_path / "cache"


def test_the_default_embedder_runs_as_its_settings_say(monkeypatch, tmp_path):
    """Settings are read once, by config: the embedder takes them and reads no variable itself
    (a bad one in the environment is not read again). Nothing here loads the model."""
    from archivist.embedding import OnnxEmbedder, SentenceTransformerEmbedder, default_embedder

    monkeypatch.setenv("ARCHIVIST_PRECISION", "int4")
    fp32 = EmbeddingSettings(precision="fp32", cache_dir=tmp_path, workers=1)
    onnx = default_embedder(Settings(embedding=fp32))
    assert isinstance(onnx, OnnxEmbedder) and onnx.settings == fp32 and onnx.root == tmp_path
    assert default_embedder(Settings(embedding=fp32)) is onnx  # one model per process
    torch = default_embedder(Settings(embedding=EmbeddingSettings(backend="torch")))
    assert isinstance(torch, SentenceTransformerEmbedder)


def test_a_bad_embedding_setting_is_one_line_from_the_cli(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from archivist.cli import cli

    monkeypatch.setenv("ARCHIVIST_PRECISION", "int4")
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), "ask", "Who won?"])
    # every bad setting stops a command before it starts, as a usage error
    assert result.exit_code == 2
    message = "Error: ARCHIVIST_PRECISION='int4' is neither int8 nor fp32"
    assert result.stderr.strip() == message
    assert not (tmp_path / "d").exists()  # nothing stored

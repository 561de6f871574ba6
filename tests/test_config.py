from __future__ import annotations

import pytest

from archivist.config import load_settings
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
        ({"ARCHIVIST_PRECISION": "int4"}, "ARCHIVIST_PRECISION='int4'"),
        ({"ARCHIVIST_EMBED_WORKERS": "two"}, "ARCHIVIST_EMBED_WORKERS='two'"),
        ({"ARCHIVIST_EMBED_THREADS": "0"}, "ARCHIVIST_EMBED_THREADS='0'"),
    ],
)
def test_bad_embedding_settings_are_named(monkeypatch, env, message):
    from archivist.embedding import OnnxEmbedder

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        OnnxEmbedder()


def test_embedding_settings(monkeypatch):
    from archivist.embedding import OnnxEmbedder, embed_threads, embed_workers

    monkeypatch.setenv("ARCHIVIST_PRECISION", " FP32 ")
    monkeypatch.setenv("ARCHIVIST_EMBED_WORKERS", "3")
    monkeypatch.delenv("ARCHIVIST_EMBED_THREADS", raising=False)
    assert OnnxEmbedder()._precision == "fp32"
    assert embed_workers() == 3 and embed_threads() == 1


def test_a_bad_embedding_setting_is_one_line_from_the_cli(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "ARCHIVIST_PRECISION": "int4"}
    out = subprocess.run(
        [sys.executable, "-c", "from archivist.cli import main; main()"]
        + ["--data-dir", str(tmp_path / "d"), "ask", "Who won?"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    message = "Error: ARCHIVIST_PRECISION='int4' is neither int8 nor fp32"
    assert out.stderr.strip() == message
    assert not (tmp_path / "d").exists()  # nothing stored

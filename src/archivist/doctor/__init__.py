"""`archivist doctor`: check what the bot needs to run, and say how to fix what is wrong.

Each check is one line: "ok", "warn" (runs, but not as it should) or "FAIL" (will not run), with
what to do. On PostgreSQL (ARCHIVIST_DATABASE_URL) the store's line becomes four: database,
pgvector, schema and store. Nothing here writes to the archive or prints the token. With a
token it asks Discord (DISCORD_API_BASE, else discord.com) at most two GETs: the commands, and
the application's flags when some channel is watched.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from archivist.config import Settings
from archivist.doctor.data import MIN_FREE_BYTES, check_data_dir, check_disk, check_store
from archivist.doctor.database import (
    HEALTH_TIMEOUT_S,
    check_database,
    check_pgvector,
    check_schema,
    store_answers,
)
from archivist.doctor.discord import (
    DISCORD_API,
    DISCORD_TIMEOUT_S,
    INTENT_FIX,
    MESSAGE_CONTENT_FLAGS,
    check_commands,
    check_intent,
    check_token,
)
from archivist.doctor.machine import (
    KEY_PACKAGES,
    MIN_PYTHON,
    SAMPLE,
    SAMPLE_NAME,
    check_metrics,
    check_packages,
    check_python,
    check_readers,
)
from archivist.doctor.model import SENTENCE, check_int8, check_model
from archivist.doctor.report import FAIL, OK, WARN, Check, print_report

__all__ = [
    "DISCORD_API",
    "DISCORD_TIMEOUT_S",
    "FAIL",
    "HEALTH_TIMEOUT_S",
    "INTENT_FIX",
    "KEY_PACKAGES",
    "MESSAGE_CONTENT_FLAGS",
    "MIN_FREE_BYTES",
    "MIN_PYTHON",
    "OK",
    "SAMPLE",
    "SAMPLE_NAME",
    "SENTENCE",
    "WARN",
    "Check",
    "check_commands",
    "check_data_dir",
    "check_database",
    "check_disk",
    "check_int8",
    "check_intent",
    "check_metrics",
    "check_model",
    "check_packages",
    "check_pgvector",
    "check_python",
    "check_readers",
    "check_schema",
    "check_store",
    "check_token",
    "main",
    "run_checks",
    "store_answers",
]


def run_checks(settings: Settings, embedder_factory: Callable | None = None) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    from archivist import embedding

    model, embedder = check_model(embedder_factory or embedding.default_embedder)
    data = check_data_dir(settings.data_dir)
    token = check_token(settings.discord_token)
    store = (
        check_database(settings, embedder)  # the data folder keeps the bot's own files
        if settings.database_url
        else [check_store(settings, embedder, data_usable=data.status != FAIL)]
    )
    return [
        check_python(),
        check_packages(),
        model,
        check_int8(embedder),
        data,
        check_disk(settings.data_dir),
        *store,
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
    print_report(checks, as_json)
    return 0 if ok else 1

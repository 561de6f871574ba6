"""Log lines an operator can search: one line an event, as text or as JSON lines.

`ARCHIVIST_LOG_FORMAT=json` gives one JSON object a line with `time`, `level`, `logger`, `event`
(the message) and, when the code that logs knows them, `guild_id`, `command`, `duration`
(seconds), `outcome` and `error_id`; a traceback rides in its line as `traceback`. The text
format puts the same fields after the message as `name=value`, so `grep outcome=error` works
in the journal too.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO

# The fields a log call may pass in `extra=`: ids, names and numbers only, never a member's text.
FIELDS = ("guild_id", "command", "duration", "outcome", "error_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that say too much at INFO: httpx logs each URL fetched (a member's input), the model
# libraries their loading steps.
QUIET = ("httpx", "httpcore", "faiss", "sentence_transformers", "transformers")


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    values = {name: getattr(record, name, None) for name in FIELDS}
    return {name: value for name, value in values.items() if value is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object a line, traceback included (a multi-line traceback would be many events)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            **fields_of(record),
        }
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The usual line, with the event's fields after the message."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        extra = " ".join(f"{name}={value}" for name, value in fields_of(record).items())
        line = super().formatMessage(record)
        return f"{line} {extra}" if extra else line


def formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter()
    raise ValueError(f"log format must be text or json, got {log_format!r}")


def configure(level: str = "INFO", log_format: str = "text", stream: IO[str] | None = None) -> None:
    """Send every log record to `stream` (stderr: the journal under systemd) in `log_format`,
    replacing handlers set up before (the CLI's)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))

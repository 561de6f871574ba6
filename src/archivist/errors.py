"""Small named exceptions whose messages a user can act on.

The CLI turns them into a message and an exit code, the bot into a short ephemeral reply.
"""

from __future__ import annotations


class ArchivistError(Exception):
    """Base class: str(error) is a one-line message fit to show a user."""


# Why a read failed, in a few words an operator can count (the bot's /metrics label `reason`):
# `reason` itself is the sentence for the member, too varied to count.
READ_FAILURE_KINDS = ("malformed", "unsupported", "too_large", "timeout", "memory", "fetch", "feed")


class ReadError(ArchivistError):
    """An input could not be read as an article. `kind` (one of READ_FAILURE_KINDS) says why
    in a word: each class has its own, and a raise can name another (`kind="timeout"`)."""

    kind = "malformed"

    def __init__(self, origin: str, reason: str, *, kind: str | None = None) -> None:
        self.origin = origin
        self.reason = reason
        if kind is not None:
            if kind not in READ_FAILURE_KINDS:
                raise ValueError(f"unknown read failure kind {kind!r}")
            self.kind = kind
        super().__init__(f"{origin}: {reason}")


class UnsupportedFormat(ReadError):
    """The input's format is not one Archivist reads."""

    kind = "unsupported"


class InputTooLarge(ReadError):
    """The input is over a configured size or count limit."""

    kind = "too_large"


class FetchError(ReadError):
    """A URL could not be fetched: refused (scheme, private address), unreachable, an HTTP
    error, too large or too slow. `origin` is the URL."""

    kind = "fetch"


class FeedError(ReadError):
    """A feed could not be added or read: not RSS or Atom, unreachable, already followed, or
    one too many. `origin` is the feed's URL."""

    kind = "feed"


SHOWN_MAX = 80  # a user's input quoted back: enough to recognise it, never a wall of text


def shown(text: str, limit: int = SHOWN_MAX) -> str:
    """A user's input as it reads back in a one-line message: whitespace runs as one space,
    cut with "…" past `limit`."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FeedNotFound(ArchivistError):
    """No feed matches a reference. The message names no command: each front end adds where
    to find the feeds (`archivist feed list`, /feed list)."""

    def __init__(self, ref: str, *, ambiguous: bool = False) -> None:
        self.ref = ref
        if ambiguous:
            message = f"Several feeds are named “{shown(ref)}”; give the one you mean by its id."
        else:
            message = f"No feed “{shown(ref)}” is followed here; give its id, URL or name."
        super().__init__(message)


class ArticleNotFound(ArchivistError):
    """No article has an id. The message names no command: each front end adds where to find
    the ids (`archivist list`, /recent)."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(f"No article with id “{shown(article_id)}” here.")


class InvalidQuestion(ArchivistError):
    """The question cannot be searched (empty, or nothing searchable left)."""


class ConfigError(ArchivistError):
    """A setting has a value Archivist cannot use."""


class DiskFull(ArchivistError):
    """A write (an ingest, a migration at open) ran out of disk; none of it was stored.
    `where` names the store: SQLite's file, or PostgreSQL's database."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where}: the disk is full; nothing of this write was stored"
            " (free some space and try again)"
        )


class IndexMismatch(ArchivistError):
    """The FAISS index on disk does not match the store (it is rebuilt from SQLite)."""


def user_text(error: ArchivistError) -> str:
    """The error as a user reads it: a sentence that starts with a capital. A ReadError keeps
    its origin first as given (a file name or URL is not capitalised)."""
    text = str(error)
    if isinstance(error, ReadError) or not text[:1].islower():
        return text
    return text[0].upper() + text[1:]


def library_reason(exc: BaseException, limit: int = 120) -> str:
    """A library's exception as the reason in a one-line refusal: its message with every run of
    whitespace one space (lxml's, for one, end a line inside it), cut to `limit` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."

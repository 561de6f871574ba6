"""Small named exceptions whose messages a user can act on.

The CLI turns them into a message and an exit code, the bot into a short ephemeral reply.
"""

from __future__ import annotations


class ArchivistError(Exception):
    """Base class: str(error) is a one-line message fit to show a user."""


class ReadError(ArchivistError):
    """An input could not be read as an article."""

    def __init__(self, origin: str, reason: str) -> None:
        self.origin = origin
        self.reason = reason
        super().__init__(f"{origin}: {reason}")


class UnsupportedFormat(ReadError):
    """The input's format is not one Archivist reads."""


class InputTooLarge(ReadError):
    """The input is over a configured size or count limit."""


class FetchError(ReadError):
    """A URL could not be fetched: refused (scheme, private address), unreachable, an HTTP
    error, too large or too slow. `origin` is the URL."""


class FeedError(ReadError):
    """A feed could not be added or read: not RSS or Atom, unreachable, already followed, or
    one too many. `origin` is the feed's URL."""


class FeedNotFound(ArchivistError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"no feed {ref!r} is followed here (give its id, URL or name)")


class ArticleNotFound(ArchivistError):
    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(f"no article with id {article_id!r} in this archive")


class InvalidQuestion(ArchivistError):
    """The question cannot be searched (empty, or nothing searchable left)."""


class ConfigError(ArchivistError):
    """A setting has a value Archivist cannot use."""


class IndexMismatch(ArchivistError):
    """The FAISS index on disk does not match the store (it is rebuilt from SQLite)."""

"""The `archivist` group: settings, the archive (made by an archive factory, so tests can give
it a fake embedder), and how core errors reach the terminal."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from archivist.config import Settings, load_settings
from archivist.config import database_url as checked_database_url
from archivist.errors import ArchivistError, ArticleNotFound, FeedNotFound, user_text

if TYPE_CHECKING:
    from archivist.archive import Archive

DEFAULT_COLLECTION = "default"

ArchiveFactory = Callable[[Settings], "Archive"]


def open_archive(settings: Settings) -> Archive:
    """The archive every command uses unless `main` is given another factory (tests pass
    one with a fake model): the one `settings` describe."""
    from archivist.archive import Archive

    return Archive.from_settings(settings)


class Context:
    """What every command gets: the settings, and the archive, opened on first use (`--help`
    and usage errors never load the model)."""

    def __init__(
        self,
        settings: Settings,
        settings_error: str | None = None,
        archive_factory: ArchiveFactory = open_archive,
    ) -> None:
        self.settings = settings
        self.settings_error = settings_error  # only the doctor runs with a bad setting
        self._archive_factory = archive_factory
        self._archive: Archive | None = None

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            self._archive = self._archive_factory(self.settings)
        return self._archive

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


# The core's messages name no command; in the terminal, where to look next.
HINTS: dict[type[ArchivistError], str] = {
    ArticleNotFound: "`archivist list` shows the ids.",
    FeedNotFound: "`archivist feed list` shows the feeds.",
}


def error_text(exc: ArchivistError) -> str:
    hint = next((h for kind, h in HINTS.items() if isinstance(exc, kind)), "")
    return f"{user_text(exc)} {hint}".strip()


def guarded(func: Callable) -> Callable:
    """Core errors become a one-line message and exit 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchivistError as exc:
            fail(error_text(exc))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the archive lives (default ./data, or $ARCHIVIST_DATA).",
)
@click.option(
    "--database-url",
    default=None,
    metavar="postgresql://…",
    help="The archive in this PostgreSQL database instead (default $ARCHIVIST_DATABASE_URL).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.version_option(package_name="archivist")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None, verbose: bool) -> None:
    """Archivist: ask questions of stored news articles, offline."""
    # `obj`, when given (main's archive_factory, or a test runner's obj=), makes the archive
    factory: ArchiveFactory = ctx.obj if callable(ctx.obj) else open_archive
    settings_error = None
    try:
        settings = load_settings(data_dir)
        if database_url is not None:  # the option over the environment
            url = checked_database_url(database_url, "--database-url")
            settings = dataclasses.replace(settings, database_url=url)
    except ArchivistError as exc:
        if ctx.invoked_subcommand != "doctor":
            fail(user_text(exc), 2)
        # the doctor reports a bad setting as one of its checks, and checks the rest
        settings_error = user_text(exc)
        settings = Settings(
            data_dir=Path(data_dir or os.environ.get("ARCHIVIST_DATA") or "data"),
            discord_token=os.environ.get("DISCORD_TOKEN") or None,
        )
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("faiss", "sentence_transformers", "httpx", "transformers"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    state = Context(settings, settings_error, factory)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main(
    argv: Sequence[str] | None = None, *, archive_factory: ArchiveFactory | None = None
) -> None:
    """Run the command line `argv` (default: the process's) and exit with its code.
    `archive_factory(settings)` makes the archive (default `open_archive`)."""
    cli.main(
        args=list(argv) if argv is not None else None, prog_name="archivist", obj=archive_factory
    )

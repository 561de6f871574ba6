"""How the commands print what the core returns, as text (JSON goes through `echo_json`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from archivist.models import IngestReport

ProgressBar = tuple[Callable[[int, int], None] | None, Callable[[], None]]


def echo_add_report(report: IngestReport, label: str = "") -> None:
    """An ingest report as text: a line an article, then the counts."""
    for added in report.added:
        click.echo(f"added      {added.id}  {added.title}")
    for duplicate in report.duplicates:
        click.echo(f"duplicate  {duplicate.origin}  (already stored as {duplicate.existing_id})")
    for near in report.near_duplicates:
        click.echo(f"near-duplicate  {near.origin}  (the text of {near.existing_id}; stored)")
    for failed in report.failed:
        click.echo(f"failed     {failed.path}: {failed.error}", err=True)
    for left_out in report.skipped:
        click.echo(f"skipped    {left_out.path}: {left_out.reason}")
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    click.echo(
        f"{label}{len(report.added)} added, {len(report.duplicates)} duplicates, "
        f"{len(report.failed)} failed{skipped}"
    )


def echo_answer_as_text(result: dict) -> None:
    """An answer, given in its JSON form (`Answer.to_json()`, or a batch line's error), as the
    terminal reads it: in colour on a terminal."""
    from archivist.textrender import format_answer

    click.echo(format_answer(result, color=sys.stdout.isatty()))


def feed_line(feed: Any) -> str:
    polled = (feed.last_polled_at or "never")[:16].replace("T", " ")
    line = f"{feed.id:>3}  {feed.name}  {feed.url}  (polled {polled}, {feed.items_seen} items seen)"
    return line + (f"\n     last error: {feed.last_error}" if feed.last_error else "")


def echo_feed_report(feed: Any, report: IngestReport) -> None:
    echo_add_report(report, label=f"{feed.name}: ")


def progress_bar(enabled: bool) -> ProgressBar:
    """(update(done, total), finish) of a bar on stderr; (None, no-op) when not `enabled`."""
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="article", file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close

"""`archivist migrate`: copy an archive between a data folder and PostgreSQL (either way)."""

from __future__ import annotations

import sys

import click

from archivist.cli.app import Context, cli, echo_json, guarded


@cli.command()
@click.option(
    "--from",
    "source",
    required=True,
    metavar="SRC",
    help="The archive to copy: a data folder or a postgresql:// URL.",
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="DST",
    help="Where to copy it: a data folder or a postgresql:// URL (new, or a stopped copy).",
)
@click.option(
    "--batch",
    default=200,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Articles a transaction.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@guarded
def migrate(obj: Context, source: str, target: str, batch: int, as_json: bool) -> None:
    """Copy an archive (articles, vectors, feeds, settings, votes) into another store, then
    check it. Stopped, it finishes when run again: what the target holds is skipped."""
    from archivist.migrate import Step
    from archivist.migrate import migrate as run_migrate

    def progress(step: Step) -> None:
        click.echo(step.line(), err=True)

    report = run_migrate(source, target, batch=batch, limits=obj.settings.limits, progress=progress)
    if as_json:
        echo_json(report.to_json())
    else:
        for name, counts in report.collections.items():
            click.echo(f"{name}: {counts['articles']} articles, {counts['passages']} passages")
        tables = ", ".join(f"{n} {table}" for table, n in report.tables.items())
        click.echo(f"{report.copied} articles copied, {report.skipped} already there; {tables}")
        for problem in report.check.problems:
            click.echo(problem)
        click.echo(
            f"OK: {report.target} holds what {report.source} does, and check agrees."
            if report.ok
            else "Problems found: the copy does not match its source."
        )
    if not report.ok:
        sys.exit(1)

"""Commands that look after the store: stats, reindex, check, export, backup."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archivist.cli.app import DEFAULT_COLLECTION, Context, cli, echo_json, fail, guarded


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def stats(obj: Context, as_json: bool) -> None:
    """Counts and sizes."""
    s = obj.archive.stats().to_json()
    if as_json:
        echo_json(s)
        return
    for key, value in s.items():
        click.echo(f"{key:15} {value}")


@cli.command()
@click.pass_obj
@guarded
def reindex(obj: Context) -> None:
    """Rebuild every vector index from the stored vectors (on PostgreSQL: make its HNSW index
    if it is missing, or rebuild its FAISS files in `faiss` mode), and store the ranking's
    analysis of passages stored before it was kept."""
    from archivist.index_cache import IndexCache
    from archivist.store.postgres import PostgresStore

    archive = obj.archive
    store: object = archive.store
    if isinstance(store, PostgresStore):  # its HNSW index, if it searches with one
        store.reindex()
    if isinstance(archive.indexes, IndexCache):  # FAISS files: SQLite's, or PostgreSQL's faiss
        for collection in archive.store.collections():
            archive.checked_index(collection).rebuild(archive.store)
    analysed = archive.analyse_stored()
    click.echo(f"Reindexed {archive.stats().indexed} passages.")
    if analysed:
        click.echo(f"Analysed {analysed} passages stored before analyses were kept.")


@cli.command()
@click.option("--repair", is_flag=True, help="Restore what can be from the stored articles.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def check(obj: Context, repair: bool, as_json: bool) -> None:
    """Verify that the stored articles, full-text search and the vector index agree (on
    PostgreSQL the index is the vectors' column: every passage has one of the model's size)."""
    from archivist.maintenance import check as run_check

    report = run_check(obj.archive, repair=repair)
    if repair and report.repaired:
        after = run_check(obj.archive)
        report.problems = [f"repaired: {p}" for p in report.problems] + after.problems
        report.collections = after.collections
        ok = after.ok
    else:
        ok = report.ok
    if as_json:
        out = report.to_json()
        out["ok"] = ok
        echo_json(out)
    else:
        for problem in report.problems:
            click.echo(problem)
        for name, counts in report.collections.items():
            click.echo(f"{name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        click.echo(
            "OK: the stored articles, full-text search and the vector index agree."
            if ok
            else "Problems found: run `archivist check --repair`."
        )
    if not ok:
        sys.exit(1)


@cli.command()
@click.argument("output", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--collection", default=DEFAULT_COLLECTION, show_default=True)
@click.pass_obj
@guarded
def export(obj: Context, output: Any, collection: str) -> None:
    """Write every article as JSON Lines in the import format (to OUTPUT or stdout)."""
    from archivist.maintenance import export_jsonl

    count = export_jsonl(obj.archive, collection, output)
    if output.name != "<stdout>":
        click.echo(f"Exported {count} articles.", err=True)


@cli.command()
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
@guarded
def backup(obj: Context, destination: Path) -> None:
    """A consistent copy of the archive (safe while the bot runs), usable as a --data-dir.

    SQLite only. A PostgreSQL archive ($ARCHIVIST_DATABASE_URL) is backed up by the database
    (pg_dump), or copied into a data folder with `archivist migrate --from URL --to DIR`."""
    from archivist.maintenance import backup as run_backup

    if obj.settings.database_url:  # before opening the archive: nothing to load to refuse
        fail(
            "backup copies a SQLite archive; back up PostgreSQL with pg_dump, or copy it into"
            " a data folder with `archivist migrate --from $ARCHIVIST_DATABASE_URL --to DIR`"
        )
    run_backup(obj.archive, destination)
    click.echo(f"Backed up to {destination}: use it with --data-dir {destination}.")

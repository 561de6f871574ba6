"""Commands on articles: ingest, list, show, ask, chat, delete."""

from __future__ import annotations

import sys
from typing import Any

import click

from archivist.cli.app import DEFAULT_COLLECTION, Context, cli, echo_json, error_text, guarded
from archivist.cli.output import echo_add_report, echo_answer_as_text, progress_bar
from archivist.errors import ArchivistError, user_text


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--source", help="Source name for these articles (overrides the file's own).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
@guarded
def ingest(obj: Context, paths: tuple[str, ...], source: str | None, as_json: bool) -> None:
    """Add articles from files, folders (recursively) or URLs."""
    archive = obj.archive
    urls = [p for p in paths if p.lower().startswith(("http://", "https://"))]
    files = [p for p in paths if p not in urls]
    progress, finish = progress_bar(enabled=not as_json and sys.stderr.isatty())
    try:
        report = (
            archive.add_paths(
                files, collection=DEFAULT_COLLECTION, source=source, progress=progress
            )
            if files
            else None
        )
        for url in urls:
            url_report = archive.add_url(
                url,
                collection=DEFAULT_COLLECTION,
                source=source,
                allow_private=obj.settings.allow_private_urls,
            )
            if report is None:
                report = url_report
            else:
                report.merge(url_report)
    finally:
        finish()
    assert report is not None
    if as_json:
        echo_json(report.to_json())
    else:
        echo_add_report(report)
    if report.failed:
        sys.exit(1)


@cli.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--source", help="Only this source.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def list_(obj: Context, limit: int, source: str | None, as_json: bool) -> None:
    """The newest articles first."""
    articles = obj.archive.recent(collection=DEFAULT_COLLECTION, limit=limit, source=source)
    if as_json:
        echo_json([a.summary() for a in articles])
        return
    if not articles:
        click.echo("The archive is empty: add articles with `archivist ingest PATH`.")
    for a in articles:
        meta = ", ".join(x for x in (a.source, a.date) if x)
        click.echo(f"{a.id}  {a.title}" + (f"  ({meta})" if meta else ""))


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def show(obj: Context, article_id: str, as_json: bool) -> None:
    """One article with its passages."""
    a = obj.archive.get(article_id, collection=DEFAULT_COLLECTION)
    if as_json:
        echo_json(
            {
                "id": a.id,
                "title": a.title,
                "source": a.source,
                "date": a.date,
                "category": a.category,
                "url": a.url,
                "passages": [
                    {"position": p.position, "heading": p.heading, "text": p.text}
                    for p in a.passages
                ],
            }
        )
        return
    click.echo(click.style(a.title, bold=True))
    meta = " · ".join(x for x in (a.source, a.date, a.category, a.url) if x)
    if meta:
        click.echo(meta)
    heading = None
    for p in a.passages:
        if p.heading and p.heading != heading:
            click.echo(f"\n## {p.heading}")
            heading = p.heading
        click.echo(f"\n{p.text}")


@cli.command()
@click.argument("question", required=False)
@click.option(
    "--k", "k", default=5, show_default=True, type=click.IntRange(1, 50), help="How many passages."
)
@click.option("--source", help="Only articles from this source.")
@click.option("--since", help="Only articles dated on or after this day (YYYY-MM-DD).")
@click.option(
    "--questions",
    "questions_file",
    type=click.File("r", encoding="utf-8"),
    help="Ask every line of this file ('-' for stdin); one JSON result a line.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def ask(
    obj: Context,
    question: str | None,
    k: int,
    source: str | None,
    since: str | None,
    questions_file: Any,
    as_json: bool,
) -> None:
    """Answer a question from the stored articles."""
    if (question is None) == (questions_file is None):
        raise click.UsageError("Give a QUESTION or --questions FILE (not both).")
    archive = obj.archive
    if questions_file is not None:
        for line in questions_file:
            line = line.rstrip("\n")
            try:
                result = archive.ask(
                    line, k, collection=DEFAULT_COLLECTION, source=source, since=since
                ).to_json()
            except ArchivistError as exc:  # one bad line must not stop the batch
                result = {"question": line, "answered": False, "hits": [], "error": user_text(exc)}
            if as_json:
                echo_json(result)
            else:
                echo_answer_as_text(result)
        return
    assert question is not None
    answer = archive.ask(question, k, collection=DEFAULT_COLLECTION, source=source, since=since)
    if as_json:
        echo_json(answer.to_json())
    else:
        echo_answer_as_text(answer.to_json())


# what a user types to leave a chat; the empty string is an empty line
QUIT_WORDS = frozenset({"", "quit", "exit", "q"})


@cli.command()
@click.pass_obj
@guarded
def chat(obj: Context) -> None:
    """Ask questions in the terminal (quit, an empty line or Ctrl-D to leave)."""
    archive = obj.archive
    stats = archive.stats(collection=DEFAULT_COLLECTION)
    click.echo(
        f"Archivist: {stats.articles} articles, {stats.passages} passages. "
        "Ask a question; quit, an empty line or Ctrl-D leaves."
    )
    while True:
        try:
            question = input("? ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if question.strip().casefold() in QUIT_WORDS:
            return
        try:
            answer = archive.ask(question, 3, collection=DEFAULT_COLLECTION)
            echo_answer_as_text(answer.to_json())
        except ArchivistError as exc:
            click.echo(f"Error: {error_text(exc)}", err=True)


@cli.command()
@click.argument("article_id")
@click.pass_obj
@guarded
def delete(obj: Context, article_id: str) -> None:
    """Delete an article (from SQLite, full-text search and the vector index)."""
    article = obj.archive.delete(article_id, collection=DEFAULT_COLLECTION)
    click.echo(f"Deleted {article.id}  {article.title}")

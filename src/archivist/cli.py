"""The `archivist` command: parse, call `Archive`, print text or JSON.

Exit codes: 0 success; 1 an input or operation failed (others stored); 2 usage errors.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from archivist.config import Settings, load_settings
from archivist.errors import ArchivistError, ArticleNotFound, FeedNotFound, user_text

DEFAULT_COLLECTION = "default"
log = logging.getLogger("archivist")


class Context:
    def __init__(self, settings: Settings, settings_error: str | None = None) -> None:
        self.settings = settings
        self.settings_error = settings_error  # only the doctor runs with a bad setting
        self._archive = None

    @property
    def archive(self):
        if self._archive is None:
            from archivist.archive import Archive

            self._archive = Archive(self.settings.data_dir, limits=self.settings.limits)
        return self._archive

    def close(self) -> None:
        if self._archive is not None:
            self._archive.close()


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def _fail(message: str, code: int = 1) -> None:
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
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ArchivistError as exc:
            _fail(error_text(exc))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the archive lives (default ./data, or $ARCHIVIST_DATA).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.version_option(package_name="archivist")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """Archivist: ask questions of stored news articles, offline."""
    settings_error = None
    try:
        settings = load_settings(data_dir)
    except ArchivistError as exc:
        if ctx.invoked_subcommand != "doctor":
            _fail(user_text(exc), 2)
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
    state = Context(settings, settings_error)
    ctx.obj = state
    ctx.call_on_close(state.close)


# -- ingest ----------------------------------------------------------------------------------
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
    progress, finish = _progress_bar(enabled=not as_json and sys.stderr.isatty())
    try:
        report = (
            archive.add_paths(
                files, collection=DEFAULT_COLLECTION, source=source, progress=progress
            )
            if files
            else None
        )
        for url in urls:
            url_report = _ingest_url(archive, url, source, obj.settings.allow_private_urls)
            if report is None:
                report = url_report
            else:
                report.merge(url_report)
    finally:
        finish()
    assert report is not None
    if as_json:
        _echo_json(report.to_json())
    else:
        _print_report(report)
    if report.failed:
        sys.exit(1)


def _print_report(report, label: str = "") -> None:
    """An AddReport as text: a line an article, then the counts."""
    for item in report.added:
        click.echo(f"added      {item['id']}  {item['title']}")
    for item in report.duplicates:
        click.echo(f"duplicate  {item['origin']}  (already stored as {item['existing_id']})")
    for item in report.failed:
        click.echo(f"failed     {item['path']}: {item['error']}", err=True)
    for item in report.skipped:
        click.echo(f"skipped    {item['path']}: {item['reason']}")
    skipped = f", {len(report.skipped)} skipped" if report.skipped else ""
    click.echo(
        f"{label}{len(report.added)} added, {len(report.duplicates)} duplicates, "
        f"{len(report.failed)} failed{skipped}"
    )


def _ingest_url(archive, url: str, source: str | None, allow_private: bool):
    from archivist.fetch import add_url

    return add_url(
        archive, url, collection=DEFAULT_COLLECTION, source=source, allow_private=allow_private
    )


def _progress_bar(enabled: bool):
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="article", file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


# -- browse ----------------------------------------------------------------------------------
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
        _echo_json([a.summary() for a in articles])
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
        _echo_json(
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


# -- ask -------------------------------------------------------------------------------------
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
    questions_file,
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
                _echo_json(result)
            else:
                _print_answer_json(result)
        return
    answer = archive.ask(question, k, collection=DEFAULT_COLLECTION, source=source, since=since)
    if as_json:
        _echo_json(answer.to_json())
    else:
        _print_answer_json(answer.to_json())


def _print_answer_json(result: dict) -> None:
    from archivist.textrender import format_answer

    click.echo(format_answer(result, color=sys.stdout.isatty()))


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
        f"Archivist: {stats['articles']} articles, {stats['passages']} passages. "
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
            _print_answer_json(archive.ask(question, 3, collection=DEFAULT_COLLECTION).to_json())
        except ArchivistError as exc:
            click.echo(f"Error: {error_text(exc)}", err=True)


# -- maintenance -----------------------------------------------------------------------------
@cli.command()
@click.argument("article_id")
@click.pass_obj
@guarded
def delete(obj: Context, article_id: str) -> None:
    """Delete an article (from SQLite, full-text search and the vector index)."""
    article = obj.archive.delete(article_id, collection=DEFAULT_COLLECTION)
    click.echo(f"Deleted {article.id}  {article.title}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def stats(obj: Context, as_json: bool) -> None:
    """Counts and sizes."""
    s = obj.archive.stats()
    if as_json:
        _echo_json(s)
        return
    for key, value in s.items():
        click.echo(f"{key:15} {value}")


@cli.command()
@click.pass_obj
@guarded
def reindex(obj: Context) -> None:
    """Rebuild every vector index from the vectors stored in SQLite (and store the ranking's
    analysis of passages stored before it was kept)."""
    archive = obj.archive
    for collection in archive.store.collections():
        archive.checked_index(collection).rebuild(archive.store)
    analysed = archive.analyse_stored()
    click.echo(f"Reindexed {archive.stats()['indexed']} passages.")
    if analysed:
        click.echo(f"Analysed {analysed} passages stored before analyses were kept.")


@cli.command()
@click.option("--repair", is_flag=True, help="Restore the invariants from SQLite.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def check(obj: Context, repair: bool, as_json: bool) -> None:
    """Verify that SQLite, full-text search and the vector index agree."""
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
        _echo_json(out)
    else:
        for problem in report.problems:
            click.echo(problem)
        for name, counts in report.collections.items():
            click.echo(f"{name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        click.echo(
            "OK: SQLite, full-text search and the vector index agree."
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
def export(obj: Context, output, collection: str) -> None:
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
    """A consistent copy of the archive (safe while the bot runs), usable as a --data-dir."""
    from archivist.maintenance import backup as run_backup

    run_backup(obj.archive, destination)
    click.echo(f"Backed up to {destination}: use it with --data-dir {destination}.")


# -- feeds -----------------------------------------------------------------------------------
@cli.group()
def feed() -> None:
    """Follow RSS and Atom feeds: new items are fetched and stored with the feed's name."""


def _feed_line(f) -> str:
    polled = (f.last_polled_at or "never")[:16].replace("T", " ")
    line = f"{f.id:>3}  {f.name}  {f.url}  (polled {polled}, {f.items_seen} items seen)"
    return line + (f"\n     last error: {f.last_error}" if f.last_error else "")


def _print_feed_report(f, report) -> None:
    _print_report(report, label=f"{f.name}: ")


@feed.command("add")
@click.argument("url")
@click.option("--name", help="The feed's name, used as its articles' source (default: its title).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def feed_add(obj: Context, url: str, name: str | None, as_json: bool) -> None:
    """Follow a feed: check it is RSS or Atom, then store its items."""
    from archivist.feeds import add_feed

    f, report = add_feed(
        obj.archive,
        url,
        collection=DEFAULT_COLLECTION,
        name=name,
        allow_private=obj.settings.allow_private_urls,
    )
    if as_json:
        _echo_json({"feed": f.to_json(), **report.to_json()})
    else:
        click.echo(f"Following feed {f.id}: {f.name}")
        _print_feed_report(f, report)
    if report.failed:
        sys.exit(1)


@feed.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def feed_list(obj: Context, as_json: bool) -> None:
    """The feeds followed."""
    from archivist.feeds import list_feeds

    found = list_feeds(obj.archive, collection=DEFAULT_COLLECTION)
    if as_json:
        _echo_json([f.to_json() for f in found])
        return
    if not found:
        click.echo("No feeds: follow one with `archivist feed add URL`.")
    for f in found:
        click.echo(_feed_line(f))


@feed.command("remove")
@click.argument("feed_ref", metavar="URL_OR_ID")
@click.pass_obj
@guarded
def feed_remove(obj: Context, feed_ref: str) -> None:
    """Stop following a feed (by id, URL or name); its stored articles stay."""
    from archivist.feeds import remove_feed

    f = remove_feed(obj.archive, feed_ref, collection=DEFAULT_COLLECTION)
    click.echo(f"Removed feed {f.id}: {f.name} (its articles stay in the archive).")


@feed.command("poll")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@guarded
def feed_poll(obj: Context, as_json: bool) -> None:
    """Fetch every feed now and store the new items."""
    from archivist.feeds import poll_all

    results = poll_all(
        obj.archive, collection=DEFAULT_COLLECTION, allow_private=obj.settings.allow_private_urls
    )
    if as_json:
        _echo_json([{"feed": f.to_json(), **report.to_json()} for f, report in results])
    else:
        if not results:
            click.echo("No feeds: follow one with `archivist feed add URL`.")
        for f, report in results:
            _print_feed_report(f, report)
    if any(report.failed for _, report in results):
        sys.exit(1)


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def eval(ctx: click.Context) -> None:  # noqa: A001 - the command's name
    """Measure answer quality on the public data sets in ../shared/data (`eval --help`)."""
    import subprocess

    # the harness is a benchmark, not part of the package: it runs from a source checkout
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "quality.py"
    if not script.is_file():
        _fail(
            f"archivist eval runs benchmarks/quality.py of a source checkout, and {script} "
            "is not there: run it from a clone of the repository",
            2,
        )
    sys.exit(subprocess.call([sys.executable, str(script), *ctx.args]))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_obj
def doctor(obj: Context, as_json: bool) -> None:
    """Check the install, the model, the data folder, the store and the settings (with fixes)."""
    from archivist.doctor import main as run_doctor

    sys.exit(run_doctor(obj.settings, as_json, settings_error=obj.settings_error))


# -- running ---------------------------------------------------------------------------------
@cli.command()
@click.pass_obj
@guarded
def bot(obj: Context) -> None:
    """Run the Discord bot (needs DISCORD_TOKEN)."""
    settings = obj.settings
    if not settings.discord_token:
        _fail("DISCORD_TOKEN is not set (environment or .env); see README.md", 2)
    try:
        from bot.app import run as run_bot
    except ImportError as exc:
        _fail(f"The Discord bot is not available ({exc}); reinstall with `make install`.")
    run_bot(settings, obj.archive)


@cli.command()
@click.pass_context
@guarded
def start(ctx: click.Context) -> None:
    """`make run`: add the sample articles once, then run the bot (with a token) or chat."""
    obj: Context = ctx.obj
    settings = obj.settings
    marker = settings.store_dir / ".samples-loaded"
    if not marker.exists() and settings.samples_dir.is_dir():
        click.echo(f"Adding the sample articles in {settings.samples_dir} ...")
        report = obj.archive.add_paths([settings.samples_dir], collection=DEFAULT_COLLECTION)
        click.echo(
            f"{len(report.added)} added, {len(report.duplicates)} already there, "
            f"{len(report.failed)} failed"
        )
        for item in report.failed:
            click.echo(f"failed     {item['path']}: {item['error']}", err=True)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("samples added\n")
    if settings.discord_token:
        ctx.invoke(bot)
    else:
        click.echo("DISCORD_TOKEN is not set: answering in the terminal instead.")
        ctx.invoke(chat)


def main() -> None:
    cli(prog_name="archivist")


if __name__ == "__main__":
    main()

"""Commands that run something: the bot, `start` (`make run`), the doctor and the quality
harness."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archivist.cli.app import DEFAULT_COLLECTION, Context, cli, fail, guarded
from archivist.cli.articles import chat


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def eval(ctx: click.Context) -> None:  # noqa: A001 - the command's name
    """Measure answer quality on the public data sets in ../shared/data (`eval --help`)."""
    import subprocess

    # the harness is a benchmark, not part of the package: it runs from a source checkout
    script = Path(__file__).resolve().parents[3] / "benchmarks" / "quality.py"
    if not script.is_file():
        fail(
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


@cli.command()
@click.pass_obj
@guarded
def bot(obj: Context) -> None:
    """Run the Discord bot (needs DISCORD_TOKEN)."""
    settings = obj.settings
    if not settings.discord_token:
        fail("DISCORD_TOKEN is not set (environment or .env); see README.md", 2)
    try:
        from bot.app import run as run_bot
    except ImportError as exc:
        fail(f"The Discord bot is not available ({exc}); reinstall with `make install`.")
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
            click.echo(f"failed     {item.path}: {item.error}", err=True)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("samples added\n")
    if settings.discord_token:
        ctx.invoke(bot)
    else:
        click.echo("DISCORD_TOKEN is not set: answering in the terminal instead.")
        ctx.invoke(chat)

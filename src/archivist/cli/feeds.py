"""`archivist feed`: follow RSS and Atom feeds."""

from __future__ import annotations

import sys

import click

from archivist.cli.app import DEFAULT_COLLECTION, Context, cli, echo_json, guarded
from archivist.cli.output import echo_feed_report, feed_line


@cli.group()
def feed() -> None:
    """Follow RSS and Atom feeds: new items are fetched and stored with the feed's name."""


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
        echo_json({"feed": f.to_json(), **report.to_json()})
    else:
        click.echo(f"Following feed {f.id}: {f.name}")
        echo_feed_report(f, report)
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
        echo_json([f.to_json() for f in found])
        return
    if not found:
        click.echo("No feeds: follow one with `archivist feed add URL`.")
    for f in found:
        click.echo(feed_line(f))


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
        echo_json([{"feed": f.to_json(), **report.to_json()} for f, report in results])
    else:
        if not results:
            click.echo("No feeds: follow one with `archivist feed add URL`.")
        for f, report in results:
            echo_feed_report(f, report)
    if any(report.failed for _, report in results):
        sys.exit(1)

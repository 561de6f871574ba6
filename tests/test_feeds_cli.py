"""Feeds from the command line, and the table's answer when two feeds share a name."""

from __future__ import annotations

import json

import pytest
from conftest import fake_model_archive
from feed_helpers import server
from feed_server import Item

from archivist import feeds
from archivist.errors import FeedNotFound

FIXTURES = (server,)  # pytest finds it by its name in this module


# ---- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli_run(tmp_path, monkeypatch):

    from click.testing import CliRunner

    from archivist.cli import cli

    def invoke(*args: str, private: bool = True):
        if private:
            monkeypatch.setenv("ARCHIVIST_ALLOW_PRIVATE_URLS", "1")
        else:
            monkeypatch.delenv("ARCHIVIST_ALLOW_PRIVATE_URLS", raising=False)
        argv = ["--data-dir", str(tmp_path / "d"), *args]
        result = CliRunner().invoke(cli, argv, obj=fake_model_archive)
        out = result.stdout
        try:
            parsed = json.loads(out) if "--json" in args else None
        except json.JSONDecodeError:
            parsed = None
        return result.exit_code, out, result.stderr, parsed

    return invoke


def test_cli_feed_add_list_poll_remove(cli_run, server):
    server.serve_pages("ferry", "library", "wind")
    url = server.set_rss("/rss.xml", "Harbour Gazette", [Item("ferry", "/news/ferry")])

    code, _, err, _ = cli_run("feed", "add", url, private=False)
    assert code == 1 and "loopback address; refused" in err and "Traceback" not in err

    code, out, err, data = cli_run("feed", "add", url, "--name", "Gazette", "--json")
    assert code == 0, err
    assert set(data) == {"feed", "added", "duplicates", "failed", "skipped", "near_duplicates"}
    assert data["feed"]["name"] == "Gazette" and data["feed"]["url"] == url
    assert len(data["added"]) == 1 and data["failed"] == []

    code, _, err, _ = cli_run("feed", "add", url)
    assert code == 1 and "already followed here" in err

    code, _, err, _ = cli_run("feed", "add", server.base + "/news/ferry")
    assert code == 1 and "not an RSS or Atom feed" in err

    code, out, _, data = cli_run("feed", "list", "--json")
    assert code == 0 and [f["name"] for f in data] == ["Gazette"]
    assert set(data[0]) == {
        "id",
        "name",
        "url",
        "added_at",
        "last_polled_at",
        "last_error",
        "items_seen",
        "failures",
        "disabled",
    }
    assert (data[0]["failures"], data[0]["disabled"]) == (0, False)
    code, out, _, _ = cli_run("feed", "list")
    assert "Gazette" in out and url in out

    server.set_rss(
        "/rss.xml",
        "Harbour Gazette",
        [
            Item("library", "/news/library"),
            Item("ferry", "/news/ferry"),
            Item("wind", "/news/broken"),
        ],
    )
    code, out, err, data = cli_run("feed", "poll", "--json")
    assert code == 1  # one item failed; the other was stored
    ((result),) = data
    assert result["feed"]["name"] == "Gazette" and len(result["added"]) == 1
    assert result["failed"][0]["path"] == server.base + "/news/broken"

    code, out, _, data = cli_run("list", "--json")
    assert {a["source"] for a in data} == {"Gazette"} and len(data) == 2

    code, out, _, _ = cli_run("feed", "remove", str(result["feed"]["id"]))
    assert code == 0 and "Removed feed" in out
    code, _, err, _ = cli_run("feed", "remove", url)
    assert code == 1 and "No feed" in err and "`archivist feed list`" in err
    code, out, _, _ = cli_run("feed", "list")
    assert "No feeds" in out
    code, _, _, _ = cli_run("feed", "add")
    assert code == 2  # usage error


def test_removing_by_a_name_two_feeds_share_asks_for_the_id(fake_archive, server):
    server.serve_pages("ferry", "library")
    one = server.set_rss("/one.xml", "One", [Item("ferry", "/news/ferry")])
    two = server.set_rss("/two.xml", "Two", [Item("library", "/news/library")])
    for url in (one, two):
        feeds.add_feed(fake_archive, url, collection="g1", name="Gazette", allow_private=True)
    with pytest.raises(FeedNotFound) as caught:
        feeds.remove_feed(fake_archive, "gazette", collection="g1")
    assert (
        str(caught.value) == "Several feeds are named “gazette”; give the one you mean by its id."
    )
    assert len(feeds.list_feeds(fake_archive, collection="g1")) == 2

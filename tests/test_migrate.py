"""`archivist migrate`: a data folder into PostgreSQL and back gives the same archive (export,
answers, feeds, settings, votes); a stopped copy finishes when run again; refusals are one line
and leave the target as it was."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, fake_model_archive
from pg import pg_server, pg_url, scores, without

from archivist.archive import Archive
from archivist.cli import cli
from archivist.embedding import HashingEmbedder
from archivist.migrate import MigrateError, Step, migrate
from archivist.models import Article, Paragraph
from archivist.store import FeedTable

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module
QUESTIONS = ["When did the bridge reopen?", "storm flood homes", "Who set the marathon record?"]
G2_QUESTIONS = ["ferry crossing timetable", "harbour dredging cost"]
FEED_URL = "https://news.example/harbour.xml"


def run(*args: str, where: str | Path | None = None) -> Any:
    """The CLI on the fake embedder; `where`: the archive's folder or postgresql:// URL."""
    url = str(where) if str(where).startswith("postgresql://") else ""
    data = ["--data-dir", str(where)] if where is not None and not url else []
    return CliRunner().invoke(
        cli, [*data, *args], obj=fake_model_archive, env={"ARCHIVIST_DATABASE_URL": url}
    )


def open_archive(where: str | Path, embedder: Any = None) -> Archive:
    url = str(where) if str(where).startswith("postgresql://") else None
    # a database's archive keeps nothing in its folder: one that is never made
    folder = Path(where) if url is None else Path(tempfile.gettempdir()) / "unused-by-postgresql"
    return Archive(folder, embedder=embedder or HashingEmbedder(), database_url=url)


def g2_article(n: int) -> Article:
    return Article(
        title=f"Harbour notice {n}",
        paragraphs=(
            Paragraph(f"The ferry crossing timetable changes on day {n} of the month."),
            Paragraph(f"Dredging the harbour will cost {n} million crowns.", heading="Costs"),
        ),
        source="Harbour Gazette",
        date=f"2024-03-{n % 28 + 1:02d}",
        url=f"https://harbour.example/{n}",
        category="local",
        agency="HG",
    )


def fill(archive: Archive) -> None:
    """Every kind of row a store holds, in two collections, with gaps where things went."""
    archive.add_paths([SAMPLES], collection="default", added_by="cli-user")
    archive.delete(archive.recent(collection="default", limit=1)[0].id, collection="default")
    archive.add_articles(
        [(f"notice-{n}", g2_article(n)) for n in range(5)], collection="g2", added_by="member-7"
    )
    feeds = FeedTable(archive.store)
    gone = feeds.insert("g2", "Old feed", "https://old.example/rss", "member-7")
    feed = feeds.insert("g2", "Harbour news", FEED_URL, "member-7", added_in="channel-1")
    feeds.delete(gone)  # the kept feed's id is 2: a copy must keep it
    assert feed.id == 2
    feeds.record(
        feed.id,
        [("item-1", "https://harbour.example/1", "stored", None), ("item-2", None, "failed", "x")],
        None,
    )
    feeds.record_failure(feed.id, "HTTP 503", wait_s=lambda n: 600.0, max_failures=10)
    archive.update_server_settings(
        "g2", admin_role_id=42, default_source="Harbour Gazette", threads=True
    )
    answer = archive.log_question("g2", "When does the ferry run?", answered=True)
    archive.log_question("g2", "Who dredges the harbour?", answered=False)
    archive.record_vote("g2", answer, "member-9", -1)
    archive.record_vote("g2", answer, "member-8", 1)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    archive = open_archive(folder)
    try:
        fill(archive)
    finally:
        archive.close()
    return folder


def counts_of(where: str | Path) -> dict[str, dict[str, int]]:
    archive = open_archive(where)
    try:
        stats = {c: archive.stats(collection=c) for c in ("default", "g2")}
    finally:
        archive.close()
    return {c: {"articles": s.articles, "passages": s.passages} for c, s in stats.items()}


def cli_json(*args: str, where: str | Path) -> Any:
    result = run(*args, where=where)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def snapshot(where: str | Path) -> dict[str, Any]:
    """What members and the CLI see of an archive: exports, answers, lists, feeds, settings
    and insights (votes and questions)."""
    out: dict[str, Any] = {
        c: run("export", "--collection", c, where=where).stdout for c in ("default", "g2")
    }
    out["ask"] = [cli_json("ask", "--json", q, where=where)[0] for q in QUESTIONS]
    archive = open_archive(where)
    try:
        out["ask_g2"] = [archive.ask(q, collection="g2").to_json() for q in G2_QUESTIONS]
        out["list"] = {
            c: [dataclasses.asdict(a) for a in archive.recent(collection=c, limit=50)]
            for c in ("default", "g2")
        }
        out["passages"] = {c: stored_passages(archive, c) for c in ("default", "g2")}
        feeds = FeedTable(archive.store)
        out["feeds"] = [(dataclasses.asdict(f), feeds.seen(f.id)) for f in feeds.feeds()]
        out["settings"] = dataclasses.asdict(archive.server_settings("g2"))
        out["insights"] = dataclasses.asdict(archive.insights("g2"))
    finally:
        archive.close()
    return out


def stored_passages(archive: Archive, collection: str) -> list[Any]:
    """Each passage's place, stored analysis and vector (as bytes), in the order stored."""
    store, ids = archive.store, [int(i) for i in archive.store.passage_ids(collection)]
    rows = store.passages_by_ids(ids, collection)
    vectors = store.vectors_by_ids(ids, archive.embedder.dim, collection)
    return [
        (rows[i].article_id, rows[i].position, rows[i].stems, vectors[i].tobytes()) for i in ids
    ]


def without_scores(value: Any) -> Any:
    return without(value, ("score",))


def assert_same(got: dict[str, Any], expected: dict[str, Any], tolerance: float) -> None:
    assert expected["ask"][0]["hits"] and expected["ask_g2"][0]["hits"], "the questions find"
    assert expected["feeds"] and expected["insights"]["questions"], "there is something to copy"
    for key in expected:
        assert without_scores(got[key]) == without_scores(expected[key]), key
    assert scores(got) == pytest.approx(scores(expected), abs=tolerance)


def migrate_json(source: str | Path, target: str | Path, *extra: str) -> dict[str, Any]:
    result = run("migrate", "--from", str(source), "--to", str(target), "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- the round trip ------------------------------------------------------------------------------
def test_a_folder_into_postgresql_and_back_is_the_same_archive(tmp_path, source, pg_url):
    expected, counts = snapshot(source), counts_of(source)
    articles = sum(c["articles"] for c in counts.values())
    there = migrate_json(source, pg_url, "--batch", "2")
    back = migrate_json(pg_url, tmp_path / "back", "--batch", "3")

    assert counts["g2"] == {"articles": 5, "passages": 10}
    for report in (there, back):
        assert report["collections"] == counts
        assert (report["copied"], report["skipped"]) == (articles, 0)
        assert report["tables"] | {"meta": 0} == {
            "feeds": 1,
            "feed_items": 2,
            "server_settings": 1,
            "answer_votes": 2,
            "question_log": 2,
            "meta": 0,
        }
        assert report["check"]["ok"], report["check"]
    assert there["from"] == str(source) and back["to"] == str(tmp_path / "back")
    # the same vectors, full text and analyses: the same answers to the sixth decimal
    assert_same(snapshot(tmp_path / "back"), expected, 1e-6)
    # PostgreSQL's bm25 sums in another order (`test_archive_postgres`): float noise
    assert_same(snapshot(pg_url), expected, 1e-4)
    check = run("check", "--json", where=tmp_path / "back")
    assert check.exit_code == 0 and json.loads(check.stdout)["ok"]
    # the feed kept its id 2 in PostgreSQL, whose id sequence moved past it: new feeds fit
    archive = open_archive(pg_url)
    try:
        feeds = FeedTable(archive.store)
        added = [feeds.insert("g2", f"Feed {n}", f"https://new.example/{n}", None) for n in (1, 2)]
    finally:
        archive.close()
    assert len({f.id for f in added} | {2}) == 3


def test_progress_goes_to_stderr_and_the_summary_to_stdout(tmp_path, source):
    result = run("migrate", "--from", str(source), "--to", str(tmp_path / "copy"), "--batch", "4")
    assert result.exit_code == 0, result.output
    default = counts_of(source)["default"]["articles"]
    assert f"articles of default: 4/{default} (4 copied, 0 already there)" in result.stderr
    assert "articles of g2: 4/5 (4 copied, 0 already there)" in result.stderr
    assert "articles of g2: 5/5 (5 copied, 0 already there)" in result.stderr
    assert "feed_items: 2/2 (2 copied, 0 already there)" in result.stderr
    assert "indexes: 2/2\n" in result.stderr  # built from the copied vectors
    assert "g2: 5 articles, 10 passages" in result.stdout
    assert f"{default + 5} articles copied, 0 already there" in result.stdout
    assert result.stdout.rstrip().endswith("and check agrees.")


# -- resuming ------------------------------------------------------------------------------------
class Stopped(Exception):
    """The copy killed after its first batch."""


def stop_after_first_batch(step: Step) -> None:
    raise Stopped(step.line())


@pytest.mark.parametrize("kind", ["folder", "postgresql"])
def test_a_stopped_copy_finishes_when_run_again(tmp_path, source, kind, request):
    target = tmp_path / "copy" if kind == "folder" else request.getfixturevalue("pg_url")
    expected, counts = snapshot(source), counts_of(source)
    articles = sum(c["articles"] for c in counts.values())
    with pytest.raises(Stopped, match="articles of default: 2/"):
        migrate(str(source), str(target), batch=2, progress=stop_after_first_batch)
    partial = open_archive(target)
    try:
        assert partial.count(collection="default") == 2
        assert partial.count(collection="g2") == 0
    finally:
        partial.close()

    again = migrate(str(source), str(target), batch=2)
    assert again.ok, again.check.problems
    assert (again.copied, again.skipped) == (articles - 2, 2)
    assert again.collections == counts
    assert_same(snapshot(target), expected, 1e-6 if kind == "folder" else 1e-4)

    third = migrate(str(source), str(target), batch=5)
    assert third.ok and (third.copied, third.skipped) == (0, articles)
    assert third.tables["feeds"] == 1
    assert_same(snapshot(target), expected, 1e-6 if kind == "folder" else 1e-4)


def test_a_copy_killed_after_its_first_batch_finishes_when_run_again(tmp_path, source, pg_url):
    """A real kill (SIGKILL, no clean-up): the target holds whole batches only."""
    expected, counts = snapshot(source), counts_of(source)
    command = [sys.executable, "-m", "archivist.cli", "migrate", "--batch", "1"]
    process = subprocess.Popen(
        [*command, "--from", str(source), "--to", pg_url],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        process.kill()
    finally:
        process.wait(timeout=60)
    assert first.startswith("articles of default: 1/"), first
    assert process.returncode == -signal.SIGKILL
    partial = counts_of(pg_url)
    assert 1 <= partial["default"]["articles"] < counts["default"]["articles"], "killed mid-copy"

    again = migrate(str(source), pg_url, batch=1)
    assert again.ok, again.check.problems
    assert again.skipped == partial["default"]["articles"] + partial["g2"]["articles"]
    assert again.collections == counts
    assert_same(snapshot(pg_url), expected, 1e-4)


def test_an_article_id_the_target_uses_for_another_text_fails_the_copy(tmp_path, source):
    source_archive = open_archive(source)
    try:
        clash = source_archive.recent(collection="g2", limit=1)[0].id
    finally:
        source_archive.close()
    target = tmp_path / "copy"
    archive = open_archive(target)
    try:
        other = dataclasses.replace(g2_article(99), id=clash)
        assert archive.add_articles([("other", other)], collection="g2").added
    finally:
        archive.close()

    result = run("migrate", "--from", str(source), "--to", str(target), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert not report["check"]["ok"]
    assert f"g2: article {clash} is another article in the target" in report["check"]["problems"]
    assert report["collections"]["g2"]["articles"] == 5  # four copied, and the other one


def test_a_target_holding_more_than_the_source_fails_the_comparison(tmp_path, source):
    target = tmp_path / "copy"
    archive = open_archive(target)
    try:
        assert archive.add_articles([("extra", g2_article(42))], collection="g2").added
    finally:
        archive.close()

    result = run("migrate", "--from", str(source), "--to", str(target))
    assert result.exit_code == 1
    assert "g2: the source holds 5 articles and 10 passages, the target 6 and 12" in result.stdout
    assert result.stdout.rstrip().endswith("Problems found: the copy does not match its source.")


# -- refusals --------------------------------------------------------------------------------------
def refused(*args: str) -> str:
    result = run("migrate", *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("Error: ") and "\n" not in line, result.stderr
    assert "Traceback" not in result.output
    return line


def test_the_same_archive_twice_is_refused(tmp_path, source):
    line = refused("--from", str(source), "--to", str(source / ".." / "source"))
    assert "--from and --to both name" in line
    url = "postgresql://archivist:s3cret@db.example:5432/news"
    line = refused("--from", url, "--to", "postgresql://archivist@db.example:5432/news")
    assert "both name postgresql://archivist:***@db.example:5432/news" in line
    assert "s3cret" not in line


def test_a_source_that_is_no_archive_is_refused_and_nothing_is_made(tmp_path, pg_url):
    target = tmp_path / "copy"
    line = refused("--from", str(tmp_path / "missing"), "--to", str(target))
    assert f"{tmp_path / 'missing'} does not exist" in line
    (tmp_path / "empty").mkdir()
    line = refused("--from", str(tmp_path / "empty"), "--to", str(target))
    assert "is not an archive" in line
    garbage = tmp_path / "garbage" / "store" / "archive.db"
    garbage.parent.mkdir(parents=True)
    garbage.write_bytes(b"not a database at all, just bytes" * 100)
    line = refused("--from", str(tmp_path / "garbage"), "--to", str(target))
    assert "is not an archive" in line
    line = refused("--from", pg_url, "--to", str(target))
    assert "is not an archive" in line
    assert not target.exists()

    import psycopg

    with psycopg.connect(pg_url) as conn:  # the empty database got no tables either
        assert conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None


@pytest.mark.parametrize("kind", ["folder", "postgresql"])
def test_a_target_of_another_model_is_refused_and_left_as_it_was(tmp_path, source, kind, request):
    target = tmp_path / "other" if kind == "folder" else request.getfixturevalue("pg_url")
    archive = open_archive(target, HashingEmbedder(dim=32))
    try:
        archive.add_articles([("one", g2_article(1))], collection="g2")
    finally:
        archive.close()

    line = refused("--from", str(source), "--to", str(target))
    assert "holds vectors of hashing-test (32 dimensions)" in line
    assert "not of the source's hashing-test (64)" in line
    archive = open_archive(target, HashingEmbedder(dim=32))
    try:
        assert archive.count(collection="g2") == 1
        assert archive.count(collection="default") == 0
        assert FeedTable(archive.store).feeds() == []
    finally:
        archive.close()


def test_an_unreachable_database_is_named_without_its_password(tmp_path, source):
    url = "postgresql://archivist:s3cret@127.0.0.1:1/news"
    for args in (("--from", str(source), "--to", url), ("--from", url, "--to", str(tmp_path))):
        line = refused(*args)
        assert "annot connect to postgresql://archivist:***@127.0.0.1:1/news" in line
        assert "s3cret" not in line
    assert not (tmp_path / "store").exists()


def test_the_library_refuses_a_batch_of_nothing(tmp_path, source):
    with pytest.raises(MigrateError, match="at least one article"):
        migrate(str(source), str(tmp_path / "copy"), batch=0)
    assert not (tmp_path / "copy").exists()

"""Every hostile input of issue #17 (made by tests/hostile_corpus.py) ends in a clear one-line
outcome within its budget: files through `Archive.add_bytes` and the CLI, URLs through
`add_url` and the CLI, feeds through `add_feed` and a poll. What is refused leaves the archive
exactly as it was."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from click.testing import CliRunner
from conftest import fake_model_archive
from hostile_corpus import (
    EITHER,
    FEEDS,
    FILES,
    PARTIAL,
    READ,
    REFUSED,
    URLS,
    Expect,
    feed_case,
    file_case,
    hostile_server,
    news_text,
    seeded,
)

from archivist.cli import cli
from archivist.config import Limits
from archivist.errors import FeedError
from archivist.feeds import add_feed, list_feeds, poll_all
from archivist.maintenance import check

# tighter than the defaults, so that an input stopped by a budget costs seconds, not half a minute
TEST_LIMITS = replace(Limits(), read_timeout_s=10.0, fetch_deadline_s=2.0, fetch_timeout_s=1.5)
TEST_ENV = {"ARCHIVIST_READ_TIMEOUT_S": "10", "ARCHIVIST_FETCH_DEADLINE_S": "2"}
KEPT = ("articles", "passages", "sources", "last_added_at", "indexed")
# a Python exception's name in a message ("ValueError: ...") is an internal leaking out
EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b")
REPORT_LINE = re.compile(r"^(?:added|duplicate|failed|skipped) |^\d+ added, ")


@pytest.fixture
def archive(fake_archive):
    fake_archive.limits = TEST_LIMITS
    report = fake_archive.add_bytes(
        "seed.txt", news_text(seeded("seed"), 4).encode(), collection="g"
    )
    assert report.added
    return fake_archive


@pytest.fixture
def server():
    with hostile_server(drip_interval=0.3, lifetime_s=300) as running:
        yield running


def state(archive) -> tuple:
    stats = archive.stats(collection="g")
    return tuple(getattr(stats, key) for key in KEPT), check(archive).collections


def assert_outcome(name: str, expect: Expect, report) -> None:
    """The report fits the expectation, and every failure is one clear line naming the input."""
    errors = [f"{f.path}: {f.error}" for f in report.failed]
    for failure in report.failed:
        assert failure.path.startswith(name), errors
        assert failure.error.strip() and "\n" not in failure.error, errors
        assert "Traceback" not in failure.error, errors
        assert not EXCEPTION_NAME.search(failure.error), errors
    added = len(report.added)
    if expect.outcome == READ:
        assert added and not report.failed, errors
    elif expect.outcome == REFUSED:
        assert not added and report.failed, report.added
    elif expect.outcome == PARTIAL:
        assert added and report.failed, (report.added, errors)
    else:
        assert expect.outcome == EITHER
        assert added or report.failed
    if expect.mentions:
        assert any(expect.mentions in f.error.lower() for f in report.failed), errors


def assert_bounded(archive, report) -> None:
    limits = archive.limits
    assert len(report.added) <= limits.max_articles_per_file
    for item in report.added:
        stored = archive.get(item.id, collection="g")
        assert stored.passage_count <= limits.max_passages_per_article


def params(table: dict):
    for name, (_, expect) in table.items():
        marks = [pytest.mark.timeout(expect.timeout_s)]
        if expect.heavy:
            marks.append(pytest.mark.slow)
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", params(FILES))
def test_file_gets_a_clear_outcome_and_a_refusal_changes_nothing(archive, name):
    case = file_case(name)
    before = state(archive)
    report = archive.add_bytes(case.name, case.data, collection="g")
    assert_outcome(case.name, case.expect, report)
    assert_bounded(archive, report)
    if not report.added:
        assert state(archive) == before
    assert check(archive).ok


@pytest.mark.timeout(120)
def test_files_through_the_cli_print_one_line_each_and_no_traceback(tmp_path, monkeypatch):
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    folder = tmp_path / "hostile"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_bytes(file_case(name).data)
    args = ["--data-dir", str(tmp_path / "d"), "ingest", str(folder)]
    result = CliRunner().invoke(cli, args, obj=fake_model_archive)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for line in result.output.splitlines():  # a message of two lines would leave a stray one
        assert REPORT_LINE.match(line), line
    failed = [line for line in result.output.splitlines() if line.startswith("failed")]
    for name, (_, expect) in FILES.items():
        mine = [line for line in failed if f"{folder / name}" in line]
        if expect.outcome in (REFUSED, PARTIAL):
            assert mine, f"{name} was refused without a line saying so"
        if expect.outcome == READ:
            assert not mine, mine


@pytest.mark.parametrize("case", URLS, ids=[case.name for case in URLS])
@pytest.mark.timeout(30)
def test_url_gets_a_clear_outcome_within_the_deadline(archive, server, case):
    url = case.url(server.base)
    before = state(archive)
    report = archive.add_url(url, collection="g", allow_private=True)
    assert_outcome(url, case.expect, report)
    if not report.added:
        assert state(archive) == before


@pytest.mark.timeout(90)
def test_urls_through_the_cli_print_one_line_each_and_no_traceback(tmp_path, monkeypatch, server):
    for key, value in {**TEST_ENV, "ARCHIVIST_ALLOW_PRIVATE_URLS": "1"}.items():
        monkeypatch.setenv(key, value)
    urls = [case.url(server.base) for case in URLS]
    args = ["--data-dir", str(tmp_path / "d"), "ingest", *urls]
    result = CliRunner().invoke(cli, args, obj=fake_model_archive)
    assert "Traceback" not in result.output
    failed = [line for line in result.output.splitlines() if line.startswith("failed")]
    for case, url in zip(URLS, urls, strict=True):
        if case.expect.outcome == REFUSED:
            assert [line for line in failed if url in line], f"{url}: no line says it failed"
    assert result.exit_code == 1


@pytest.mark.parametrize("name", params(FEEDS))
def test_feed_is_followed_with_its_good_items_or_refused_and_not_followed(archive, server, name):
    url = f"{server.base}/feeds/{name}"
    expect = feed_case(name, server.base).expect
    before = state(archive)
    try:
        feed, report = add_feed(archive, url, collection="g", allow_private=True)
    except FeedError as exc:
        assert expect.outcome in (REFUSED, EITHER), str(exc)
        assert str(exc).startswith(url) and "\n" not in str(exc)
        assert not list_feeds(archive, collection="g")
        assert state(archive) == before
        return
    assert [f.url for f in list_feeds(archive, collection="g")] == [feed.url]
    for failure in report.failed:
        assert failure.error.strip() and "\n" not in failure.error
        assert not EXCEPTION_NAME.search(failure.error), failure
    # one item is at most one article, however many its link holds (item 9)
    items = len(feed_case(name, server.base).data.split(b"<item>")) - 1
    assert len(report.added) <= min(items, archive.limits.feed_items_per_poll)
    if expect.outcome == PARTIAL:
        assert report.added and report.failed, report.to_json()
    assert check(archive).ok


@pytest.mark.timeout(120)
@pytest.mark.slow
def test_a_bad_feed_does_not_stop_the_others(archive, server):
    good_url = f"{server.base}/feeds/zip-item.rss"
    followed = []
    for name in ["idna.rss", "entity.rss"]:
        try:
            add_feed(
                archive,
                f"{server.base}/feeds/{name}",
                collection="g",
                allow_private=True,
                poll_now=False,
            )
            followed.append(name)
        except FeedError:
            pass
    add_feed(archive, good_url, collection="g", allow_private=True, poll_now=False)
    outcomes = poll_all(archive, collection="g", allow_private=True)
    assert len(outcomes) == len(followed) + 1
    (good_report,) = [report for feed, report in outcomes if feed.url == good_url]
    assert good_report.added

"""`Archive` on PostgreSQL: the same answers, lists and stats as on SQLite, and the core's own
tests run again with their `fake_archive` on PostgreSQL.

The core tests written against `fake_archive` are imported here (`REUSED`): pytest collects
them in this module, where `fake_archive` is an archive in a fresh PostgreSQL database."""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Any

import pytest
import test_archive
import test_copies
import test_dates
import test_feeds
import test_feeds_cli
import test_feeds_parsing
import test_feeds_scheduler
import test_hostile_inputs
import test_ingest
import test_ranking
import test_store
import test_store_lookup
from conftest import SAMPLES
from pg import is_fixture, pg_server, pg_url, scores, without

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module
REUSED = (
    test_archive,
    test_copies,
    test_dates,
    test_feeds,
    test_feeds_cli,
    test_feeds_parsing,
    test_feeds_scheduler,
    test_hostile_inputs,
    test_ingest,
    test_ranking,
    test_store,
    test_store_lookup,
)
# tests that read SQLite, FTS5 or FAISS themselves, or open the archive again by its folder
SQLITE_ONLY = {
    "test_delete_removes_from_sqlite_fts_and_faiss",  # counts FTS5 rows and the FAISS file
    "test_index_rebuilt_from_sqlite",  # damages the FAISS file
    "test_index_missing_rows_are_repaired_at_open",  # the FAISS file
    "test_other_embedder_refused",  # opens the folder again
    "test_deleting_the_newest_article_frees_no_passage_id",  # opens the folder again
    "test_stats_json_is_the_contract",  # db_bytes and index_bytes: files in the folder
}


def _reused() -> dict[str, Any]:
    """The modules' tests taking `fake_archive`, with the fixtures they define for themselves."""
    found = {}
    for module in REUSED:
        tests = {
            name: test
            for name, test in vars(module).items()
            if name.startswith("test_")
            and callable(test)
            and name not in SQLITE_ONLY
            and "fake_archive" in inspect.signature(test).parameters
        }
        if tests:
            fixtures = {n: v for n, v in vars(module).items() if is_fixture(v)}
            clash = {n for n in fixtures if n in found and found[n] is not fixtures[n]}
            assert not clash, f"{module.__name__} redefines fixtures {clash}"
            found |= fixtures | tests
    found.pop("fake_archive", None)
    return found


globals().update(_reused())


@pytest.fixture
def fake_archive(tmp_path, pg_url):
    archive = Archive(tmp_path / "fake", embedder=HashingEmbedder(), database_url=pg_url)
    yield archive
    archive.close()


# -- SQLite and PostgreSQL side by side ----------------------------------------------------------
QUESTIONS = [
    "When did the bridge reopen?",
    "How much did the library renovation cost?",
    "Who set the marathon record?",
    "What did the glacier study find about melting?",
    "Why was the herring quota cut?",
    "How many homes were flooded by the storm?",
    "port terminal cranes",
    "storm",
]
TIMES = ("added_at",)
SIZES = ("index_bytes", "db_bytes")


def _article(article: Any) -> dict[str, Any]:
    return without(
        {f: getattr(article, f) for f in article.__dataclass_fields__ if f != "passages"}
        | {"passages": [p.text for p in article.passages]},
        TIMES,
    )


def _session(archive: Archive) -> dict[str, Any]:
    """What the CLI's ingest, ask, list, show, delete and stats would print, in order."""
    out: dict[str, Any] = {
        "ingest": archive.add_paths([SAMPLES], collection="g1").to_json(),
        "again": archive.add_paths([SAMPLES], collection="g1").to_json(),
    }
    out["ask"] = [archive.ask(q, collection="g1").to_json() for q in QUESTIONS]
    out["ask_deep"] = archive.ask("storm flood", 8, collection="g1", offset=2).to_json()
    recent = archive.recent(collection="g1", limit=50)
    out["list"] = [_article(a) for a in recent]
    out["show"] = _article(archive.get(recent[-1].id, collection="g1"))
    out["delete"] = _article(archive.delete(recent[0].id, collection="g1"))
    out["after_delete"] = [archive.ask(q, collection="g1").to_json() for q in QUESTIONS[:3]]
    out["stats"] = without(archive.stats(collection="g1").to_json(), SIZES + ("last_added_at",))
    out["stats_all"] = without(archive.stats().to_json(), SIZES + ("last_added_at",))
    return out


def test_ingest_ask_list_show_delete_stats_are_the_same_on_postgresql(tmp_path: Path, pg_url):
    sqlite = Archive(tmp_path / "sqlite", embedder=HashingEmbedder())
    pg = Archive(tmp_path / "pg", embedder=HashingEmbedder(), database_url=pg_url)
    try:
        expected, got = _session(sqlite), _session(pg)
    finally:
        sqlite.close()
        pg.close()
    assert expected["ask"][0]["hits"], "the sample questions find something"
    # the same passages in the same order; scores within float noise (bm25 summed in
    # another order: 10.011814 against 10.011813)
    assert scores(got) == pytest.approx(scores(expected), abs=1e-4)
    for key in expected:
        assert without(got[key], ("score",)) == without(expected[key], ("score",)), key


def test_a_second_archive_on_the_same_database_sees_the_first_ones_writes(tmp_path, pg_url):
    first = Archive(tmp_path / "a", embedder=HashingEmbedder(), database_url=pg_url)
    second = Archive(tmp_path / "b", embedder=HashingEmbedder(), database_url=pg_url)
    try:
        assert not second.ask("bridge reopen", collection="g1").hits
        first.add_paths([SAMPLES], collection="g1")
        # (counts for idf are kept a while: the order may differ, the passages found do not)
        found = [
            {(h.article_id, h.position) for h in a.ask("bridge reopen", collection="g1").hits}
            for a in (first, second)
        ]
        assert found[0] and found[1] == found[0]
    finally:
        first.close()
        second.close()


def test_two_archives_storing_the_same_article_at_once_store_it_once(tmp_path, pg_url):
    archives = [
        Archive(tmp_path / name, embedder=HashingEmbedder(), database_url=pg_url)
        for name in ("a", "b")
    ]
    article = test_archive.FERRY
    barrier = threading.Barrier(len(archives))
    reports: list[Any] = []

    def store(archive: Archive) -> None:
        barrier.wait(timeout=30)
        reports.append(archive.add_articles([("x", article)], collection="g1"))

    workers = [threading.Thread(target=store, args=(a,)) for a in archives]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        assert sorted(len(r.added) for r in reports) == [0, 1]
        assert sorted(len(r.duplicates) for r in reports) == [0, 1], [r.to_json() for r in reports]
        assert archives[0].count(collection="g1") == 1
        assert archives[1].stats(collection="g1").passages == len(article.paragraphs)
    finally:
        for archive in archives:
            archive.close()

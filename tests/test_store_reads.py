"""Store reads that the ranking and ingest once ran as SQL of their own: the newest article
date of a collection (both backends) and the stored passages opening as given texts (SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg import pg_server, pg_url

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.models import Article, Paragraph
from archivist.store.passages import OPENING_CHARS

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module

WIRE = "Flooding closed the coastal road between the two harbour towns on Tuesday morning."


def art(title: str, text: str, date: str | None = None) -> Article:
    return Article(title=title, paragraphs=(Paragraph(text),), source="Wire", date=date)


@pytest.fixture(params=["sqlite", "postgres"])
def archive(request, tmp_path: Path):
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    archive = Archive(tmp_path / "data", embedder=HashingEmbedder(), database_url=url)
    yield archive
    archive.close()


@pytest.fixture
def sqlite_archive(tmp_path: Path):
    archive = Archive(tmp_path / "data", embedder=HashingEmbedder())
    yield archive
    archive.close()


def add(archive: Archive, collection: str, *articles: Article) -> list[str]:
    report = archive.add_articles([(a.title, a) for a in articles], collection=collection)
    return [a.id for a in report.added]


def test_newest_date_is_the_collections_newest_iso_date(archive):
    add(
        archive,
        "g1",
        art("Old", "The mill closed its doors for good.", "2019-03-04"),
        art("New", "The bridge reopened to traffic.", "2021-11-30T08:00:00Z"),
        art("Vague", "The fair returned to the square.", "Spring 2030"),
        art("Undated", "The library extended its hours."),
    )
    add(archive, "g2", art("Other", "The port handled record cargo.", "2024-01-01"))
    assert archive.store.newest_date("g1") == "2021-11-30T08:00:00Z"
    assert archive.store.newest_date("g2") == "2024-01-01"
    assert archive.store.newest_date("empty") is None


def test_openings_name_the_articles_stored_before_within_the_collection(sqlite_archive):
    store = sqlite_archive.store
    (first,) = add(sqlite_archive, "g1", art("Roads shut", WIRE))
    add(sqlite_archive, "g2", art("Roads shut elsewhere", WIRE))
    opening = WIRE[:OPENING_CHARS]
    top = int(store.passage_ids("g2").max()) + 1
    assert store.articles_opening("g1", [opening], before=top) == [first]
    assert store.articles_opening("g1", [opening], before=1) == []
    assert store.articles_opening("g1", ["no passage opens like this"], before=top) == []
    assert store.articles_opening("g1", [], before=top) == []


def test_article_ids_in_stored_order_and_passage_counts_are_the_collections(archive):
    first = add(archive, "g1", art("Mill", "The mill closed its doors for good."))
    second = add(archive, "g1", art("Bridge", "The bridge reopened to traffic."))
    add(archive, "g2", art("Port", "The port handled record cargo."))
    store = archive.store
    assert store.article_ids("g1") == first + second
    assert store.article_ids("empty") == []
    assert store.count_passages("g1") == store.stats("g1")["passages"] == 2
    assert store.count_passages("g2") == 1 and store.count_passages("empty") == 0

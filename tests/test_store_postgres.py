"""The store's interface on both backends: SQLite (the default) and PostgreSQL with pgvector.

Each test runs against both (`archive` is parametrised), the PostgreSQL one against a fresh
database of a server the tests start themselves (tests/pg.py); the last ones put the two side
by side: the same corpus gives the same full-text candidates, bm25 scores and counts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLES
from pg import pg_server, pg_url

from archivist.archive import Archive
from archivist.config import load_settings
from archivist.embedding import HashingEmbedder
from archivist.errors import ArchivistError, ConfigError
from archivist.models import Article, Paragraph, Passage
from archivist.ranking.lexical import fts_query, lookup_keys, question_terms
from archivist.store import NewArticle, content_hash

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module


def art(title: str, text: str, source: str | None = None, date: str | None = None) -> Article:
    return Article(title=title, paragraphs=(Paragraph(text),), source=source, date=date)


FERRY = art("Ferry resumes", "The harbour ferry resumed after a three week strike.", "Coast News")
BUDGET = art("Budget passed", "The council approved a budget of 412 million euros.", "coast news")
MUSEUM = art(
    "Museum reopens", "The glass museum reopened its east wing.", "Valley Post", "2024-05-02"
)


def open_archive(tmp_path: Path, url: str | None, name: str = "data") -> Archive:
    return Archive(tmp_path / name, embedder=HashingEmbedder(), database_url=url)


@pytest.fixture(params=["sqlite", "postgres"])
def archive(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    archive = open_archive(tmp_path, url)
    yield archive
    archive.close()


def add(archive: Archive, collection: str, *articles: Article) -> list[str]:
    report = archive.add_articles(
        [(a.title, a) for a in articles], collection=collection, added_by="tester"
    )
    return [a.id for a in report.added]


def test_articles_are_stored_listed_read_and_deleted(archive):
    ferry, budget = add(archive, "g1", FERRY, BUDGET)
    store = archive.store
    assert [a.id for a in store.recent("g1", 10)] == [budget, ferry]
    assert store.count_articles("g1") == 2
    assert store.count_articles("g1", source="COAST NEWS") == 2  # ASCII case folded
    got = store.get("g1", ferry)
    assert got is not None and got.title == "Ferry resumes" and got.added_by == "tester"
    assert [p.text for p in got.passages] == [FERRY.paragraphs[0].text]
    assert store.stats("g1")["articles"] == 2 and store.stats("g1")["passages"] == 2
    before = store.generation("g1")
    ids, (was, now) = store.delete_article("g1", ferry)
    assert (was, now) == (before, before + 1) and len(ids) == 1
    assert store.get("g1", ferry) is None and store.delete_article("g1", ferry) is None
    assert store.passages_by_ids(ids, "g1") == {}


def test_the_same_text_twice_is_a_duplicate_and_a_deleted_id_is_not_handed_out_again(archive):
    (ferry,) = add(archive, "g1", FERRY)
    report = archive.add_articles([("again", FERRY)], collection="g1")
    assert report.to_json()["added"] == []
    assert [d.existing_id for d in report.duplicates] == [ferry]
    first = set(archive.store.passage_ids("g1").tolist())
    archive.store.delete_article("g1", ferry)
    add(archive, "g1", FERRY)
    assert not first & set(archive.store.passage_ids("g1").tolist())


def new_article(archive: Archive, article: Article, article_id: str) -> NewArticle:
    texts = [p.text for p in article.paragraphs]
    return NewArticle(
        article,
        article_id,
        content_hash(article),
        [Passage(i, t) for i, t in enumerate(texts)],
        archive.embedder.encode(texts),
        article_id,
    )


def test_a_batch_is_decided_in_order_as_if_stored_one_by_one(archive):
    """The same text twice in a batch: the second is a duplicate of the first; an id given
    twice: the second is taken; what the collection held before counts as well."""
    (held,) = add(archive, "g1", MUSEUM)
    batch = [
        new_article(archive, FERRY, "ferry"),
        new_article(archive, FERRY, "ferry-again"),
        new_article(archive, BUDGET, "ferry"),
        new_article(archive, MUSEUM, "museum-again"),
        new_article(archive, BUDGET, held),
        new_article(archive, BUDGET, "budget"),
    ]
    inserted = archive.store.insert_articles("g1", batch, "tester")
    assert [(i.article_id, len(ids)) for i, ids in inserted.stored] == [("ferry", 1), ("budget", 1)]
    assert [(i.article_id, was) for i, was in inserted.duplicates] == [
        ("ferry-again", "ferry"),
        ("museum-again", held),
    ]
    assert [i.article_id for i in inserted.taken] == ["ferry", held]
    (ferry_ids,), (budget_ids,) = (ids for _, ids in inserted.stored)
    assert ferry_ids < budget_ids  # ids handed out in the batch's order
    assert [a.id for a in archive.store.recent("g1", 5)] == ["budget", "ferry", held]
    got = archive.store.get("g1", "ferry")
    assert got is not None and got.title == FERRY.title


def round_trips(archive: Archive, write) -> int:  # type: ignore[no-untyped-def]
    """The client-server round trips `write()` makes on this thread's connection: each ends
    with the server's ReadyForQuery (counted in libpq's trace of the protocol)."""
    from psycopg import pq

    pgconn = archive.store.db.conn.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            write()
        finally:
            pgconn.untrace()
        trace.seek(0)
        return sum(line.split("\t")[:3:2] == ["B", "ReadyForQuery"] for line in trace)


def test_a_batch_costs_as_many_round_trips_as_one_article(tmp_path, pg_url):
    # before: about five round trips an article (issue 16: 57 articles/s into PostgreSQL)
    archive = open_archive(tmp_path, pg_url)
    try:
        one = [new_article(archive, FERRY, "one")]
        many = [
            new_article(archive, art(f"Story {n}", f"The {n} ferry ran late again."), f"n{n}")
            for n in range(40)
        ]
        alone = round_trips(archive, lambda: archive.store.insert_articles("g1", one, None))
        batch = round_trips(archive, lambda: archive.store.insert_articles("g1", many, None))
        assert batch == alone > 0
        assert archive.store.count_articles("g1") == 41
        assert archive.store.count_passages("g1") == 41
    finally:
        archive.close()


def test_every_read_keeps_to_its_collection(archive):
    add(archive, "g1", FERRY)
    add(archive, "g2", MUSEUM)
    store = archive.store
    theirs = store.passage_ids("g2").tolist()
    assert store.passages_by_ids(theirs, "g1") == {}
    assert store.vectors_by_ids(theirs, archive.embedder.dim, "g1") == {}
    assert store.passage_filter(theirs, "g1", None, None) == set()
    assert store.fts_top('"museum"', "g1", 10) == []
    assert [h.id for h in store.suggest_articles("g1", "mus", 5)] == []
    assert sorted(store.collections()) == ["g1", "g2"]
    hits = archive.ask("glass museum", collection="g1").to_json()["hits"]
    assert hits and all(h["title"] == FERRY.title for h in hits)


def test_vectors_come_back_as_stored(archive):
    add(archive, "g1", FERRY, BUDGET)
    dim = archive.embedder.dim
    ids = archive.store.passage_ids("g1")
    got = archive.store.vectors_by_ids(ids.tolist(), dim, "g1")
    batches = list(archive.store.iter_vectors("g1", dim))
    assert len(batches) == 1 and batches[0][0].tolist() == ids.tolist()
    assert np.array_equal(np.stack([got[i] for i in ids.tolist()]), batches[0][1])
    assert np.allclose(np.linalg.norm(batches[0][1], axis=1), 1.0, atol=1e-5)
    again = list(archive.store.iter_vectors("g1", dim, ids=ids[::-1]))
    assert again[0][0].tolist() == ids.tolist()


def test_the_vector_search_finds_the_passage_itself_first(archive):
    add(archive, "g1", FERRY, BUDGET, MUSEUM)
    index = archive.checked_index("g1")
    stored = archive.store.vectors_by_ids(archive.store.passage_ids("g1"), 64, "g1")
    for pid, vector in stored.items():
        ids, scores = index.search(vector, 10)
        assert len(ids) == 3 and ids[0] == pid and scores[0] == pytest.approx(1.0, abs=1e-5)
        assert list(scores) == sorted(scores, reverse=True)
        assert np.allclose(scores, [float(stored[int(i)] @ vector) for i in ids], atol=1e-6)


def test_filters_autocomplete_and_sources(archive):
    ferry, budget, museum = add(archive, "g1", FERRY, BUDGET, MUSEUM)
    store = archive.store
    ids = store.passage_ids("g1").tolist()
    by_source = store.passage_filter(ids, "g1", "coast NEWS", None)
    assert len(by_source) == 2
    assert len(store.passage_filter(ids, "g1", None, "2024-01-01")) == 1
    assert [h.id for h in store.suggest_articles("g1", "REOP", 5)] == [museum]
    assert [h.id for h in store.suggest_articles("g1", ferry[:6], 5)][0] == ferry
    assert [h.id for h in store.suggest_articles("g1", "100%", 5)] == []
    assert [(s.name, s.articles) for s in store.sources("g1", "", 5)] == [
        ("Coast News", 2),
        ("Valley Post", 1),
    ]
    assert [s.name for s in store.sources("g1", "pos", 5)] == ["Valley Post"]


def test_meta_and_stored_analyses(archive):
    archive.store.set_meta("k", "v1")
    archive.store.set_meta("k", "v2")
    assert archive.store.get_meta("k") == "v2" and archive.store.get_meta("missing") is None
    add(archive, "g1", FERRY)
    assert archive.store.unanalysed(10, "a1") == []
    assert archive.store.unanalysed(10, "zz") != []


def test_a_wrong_database_url_is_one_line_naming_it_without_its_password(tmp_path, pg_url):
    wrong = pg_url.replace("/test_", "/absent_").replace("postgres:@", "postgres:s3cret@")
    with pytest.raises(ConfigError) as caught:
        open_archive(tmp_path, wrong)
    message = str(caught.value)
    assert "\n" not in message and "absent_" in message and "s3cret" not in message


def test_the_database_url_setting(monkeypatch):
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL", "postgresql://u@db.example/archive")
    assert load_settings(dotenv=False).database_url == "postgresql://u@db.example/archive"
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL", "")
    assert load_settings(dotenv=False).database_url is None
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL", "mysql://u:pw@db/archive")
    with pytest.raises(ConfigError, match="ARCHIVIST_DATABASE_URL") as caught:
        load_settings(dotenv=False)
    assert "pw" not in str(caught.value)


# -- the two side by side ------------------------------------------------------------------------
QUESTIONS = [
    "When did the bridge reopen?",
    "How much did the library renovation cost?",
    "Who set the marathon record?",
    "What did the glacier study find about melting?",
    "Why was the herring quota cut?",
    "How many homes were flooded by the storm?",
    "port terminal cranes",
]


@pytest.fixture
def both(tmp_path, pg_url):
    archives = [open_archive(tmp_path, None, "sqlite"), open_archive(tmp_path, pg_url, "pg")]
    for archive in archives:
        archive.add_paths([SAMPLES], collection="g1")
        archive.add_articles([("x", MUSEUM)], collection="other")
    yield archives
    for archive in archives:
        archive.close()


def by_passage(archive: Archive, scored: list[tuple[int, float]]) -> list[tuple[str, int, float]]:
    rows = archive.store.passages_by_ids([i for i, _ in scored], "g1")
    return [(rows[i].article_id, rows[i].position, round(s, 4)) for i, s in scored]


def test_full_text_gives_the_same_candidates_scores_and_counts(both):
    sqlite, pg = both
    assert pg.store.passage_total() == sqlite.store.passage_total()
    for question in QUESTIONS:
        keys = lookup_keys(question_terms(question))
        assert pg.store.doc_freqs(keys) == sqlite.store.doc_freqs(keys), question
        match = fts_query(question)
        assert match is not None
        found = [by_passage(a, a.store.fts_top(match, "g1", 20)) for a in both]
        assert found[0] and found[1] == found[0], question


def test_two_words_of_one_stem_count_twice_as_in_fts5(both):
    # FTS5's bm25 sums over the query's phrases: "flooded" and "floods" are one stem, counted
    # once for each (a SQuAD question's "passing ... passes" ranked otherwise on PostgreSQL)
    for match in ['"flooded" OR "floods"', '"storm" OR "storms" OR "homes"']:
        found = [by_passage(a, a.store.fts_top(match, "g1", 20)) for a in both]
        assert found[0] and found[1] == found[0], match


def test_the_counts_follow_deletes(both, tmp_path, pg_url):
    for archive in both:
        for article in archive.recent(collection="g1", limit=3):
            archive.delete(article.id, collection="g1")
        archive.close()
    # opened again: no count kept in memory from before the deletes
    sqlite, pg = open_archive(tmp_path, None, "sqlite"), open_archive(tmp_path, pg_url, "pg")
    try:
        assert pg.store.passage_total() == sqlite.store.passage_total()
        keys = lookup_keys(question_terms(" ".join(QUESTIONS)))
        assert pg.store.doc_freqs(keys) == sqlite.store.doc_freqs(keys)
        for question in QUESTIONS:
            match = fts_query(question) or ""
            found = [by_passage(a, a.store.fts_top(match, "g1", 20)) for a in (sqlite, pg)]
            assert found[1] == found[0], question
    finally:
        sqlite.close()
        pg.close()


def test_a_dropped_connection_fails_one_call_in_one_line_and_the_next_reconnects(tmp_path, pg_url):
    import psycopg

    archive = open_archive(tmp_path, pg_url)
    try:
        add(archive, "g1", FERRY)
        pid = archive.store.db.execute_pg("SELECT pg_backend_pid()").fetchone()[0]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(ArchivistError) as caught:
            archive.store.count_articles("g1")
        assert "\n" not in str(caught.value) and "connection was lost" in str(caught.value)
        assert archive.store.count_articles("g1") == 1
    finally:
        archive.close()


def test_a_word_too_long_for_a_tsvector_is_stored_and_the_rest_found(archive):
    # before: PostgreSQL refused the whole batch ("word is too long")
    monster = art("Ferry notice", "Ferry timetable " + "z" * 3000 + " published today.")
    (stored,) = add(archive, "g1", monster)
    found = archive.store.fts_top('"timetable"', "g1", 5)
    assert [archive.store.passages_by_ids([i], "g1")[i].article_id for i, _ in found] == [stored]
    assert archive.store.fts_top('"' + "z" * 3000 + '"', "g1", 5) in ([], found)


def test_a_nul_in_a_library_callers_article_is_stored_without_it(archive):
    # before: PostgreSQL refused the batch (its text takes no NUL); the readers drop them
    (stored,) = add(archive, "g1", art("Nul\x00title", "Ferry \x00text.", "So\x00urce"))
    got = archive.store.get("g1", stored)
    assert got is not None and got.title.replace("\x00", "") == "Nultitle"
    assert got.passages[0].text.replace("\x00", "") == "Ferry text."


def test_a_question_with_a_nul_is_logged(archive):
    # before: PostgreSQL refused the row (psycopg.DataError) where SQLite kept it
    archive.log_question("g1", "ferry\x00 strike?", answered=False)
    (asked,) = archive.insights("g1").questions
    assert asked.question.replace("\x00", "") == "ferry strike?"

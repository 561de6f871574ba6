"""The store under races and reuse: fresh stores opened by several processes at once, passage
ids never handed out twice, and passages read by id only from the asking collection."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import numpy as np
import pytest

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.models import Article, Paragraph
from archivist.ranking import SearchConfig
from archivist.store import MIGRATIONS, Store


def art(title: str, text: str) -> Article:
    return Article(title=title, paragraphs=(Paragraph(text),))


FERRY = art("Ferry resumes", "The harbour ferry to Norderoog resumed after a three week strike.")
BUDGET = art("Budget passed", "The council approved a budget of 412 million euros for schools.")
MUSEUM = art("Museum reopens", "The glass museum reopened its east wing after the roof repairs.")
VINEYARD = art("Vineyard sold", "The old vineyard above the river was sold to a cooperative.")


# -- fresh stores opened at once ------------------------------------------------------------
def _open_fresh_stores(paths: list[str], barrier, threads: int, results) -> None:
    """Open each fresh store with `threads` threads, at the same moment as the other
    processes (the barrier), and report every error."""
    errors: list[str] = []

    def open_one(path: str) -> None:
        try:
            Store(Path(path)).close()
        except Exception as exc:
            errors.append(repr(exc))

    for path in paths:
        barrier.wait(timeout=60)
        workers = [threading.Thread(target=open_one, args=(path,)) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    results.put(errors)


@pytest.mark.timeout(300)
def test_a_fresh_store_opened_by_several_processes_at_once(tmp_path):
    # before: 3 to 10 openings in 80 rounds failed with "database is locked" (the WAL switch)
    rounds, processes = 80, 4
    paths = [str(tmp_path / f"s{i}" / "store" / "archive.db") for i in range(rounds)]
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_open_fresh_stores, args=(paths, barrier, 2, results))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    errors = [e for _ in procs for e in results.get(timeout=280)]
    for p in procs:
        p.join()
    assert errors == []
    for path in paths:  # each ends whole: WAL, every migration applied once
        store = Store(Path(path))
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        applied = [r[0] for r in store.db.execute("SELECT name FROM _migrations")]
        assert sorted(applied) == sorted(m.__name__ for m in MIGRATIONS)
        store.close()


# -- passage ids ----------------------------------------------------------------------------
def passage_ids(archive: Archive, collection: str) -> set[int]:
    return {int(i) for i in archive.store.passage_ids(collection)}


def test_deleting_the_newest_article_frees_no_passage_id(fake_archive):
    report = fake_archive.add_articles([("a", FERRY), ("b", BUDGET)], collection="g")
    before = passage_ids(fake_archive, "g")
    fake_archive.delete(report.added[1].id, collection="g")  # the newest: the highest ids
    kept = passage_ids(fake_archive, "g")
    fake_archive.add_articles([("c", MUSEUM)], collection="g")
    new = passage_ids(fake_archive, "g") - kept
    assert new.isdisjoint(before) and min(new) > max(before)
    # nor after a restart, or in another collection
    data_dir = fake_archive.data_dir
    fake_archive.close()
    archive = Archive(data_dir, embedder=HashingEmbedder())
    newest = max(passage_ids(archive, "g"))
    museum = archive.recent(collection="g", limit=1)[0].id
    archive.delete(museum, collection="g")
    archive.add_articles([("d", VINEYARD)], collection="h")
    assert min(passage_ids(archive, "h")) > newest
    archive.close()


def test_a_store_made_before_the_passage_sequence_hands_out_no_id_twice(tmp_path):
    folder = tmp_path / "old"
    archive = Archive(folder, embedder=HashingEmbedder())
    archive.add_articles([("a", FERRY), ("b", BUDGET)], collection="g")
    before = passage_ids(archive, "g")
    # the archive as migration 5 finds it: no sequence, the migration not yet recorded
    with archive.store.transaction() as db:
        db.execute("DROP TABLE IF EXISTS passage_sequence")
        db.execute("DELETE FROM _migrations WHERE name = 'm005_passage_sequence'")
    archive.close()
    archive = Archive(folder, embedder=HashingEmbedder())
    newest = archive.recent(collection="g", limit=1)[0].id
    archive.delete(newest, collection="g")
    kept = passage_ids(archive, "g")
    archive.add_articles([("c", MUSEUM)], collection="g")
    new = passage_ids(archive, "g") - kept
    assert new.isdisjoint(before) and min(new) > max(before)
    archive.close()


# -- collections ----------------------------------------------------------------------------
def test_reading_by_id_keeps_to_the_asking_collection(fake_archive):
    fake_archive.add_articles([("a", FERRY)], collection="A")
    fake_archive.add_articles([("b", BUDGET)], collection="B")
    a_ids, b_ids = sorted(passage_ids(fake_archive, "A")), sorted(passage_ids(fake_archive, "B"))
    store, dim = fake_archive.store, fake_archive.embedder.dim
    assert store.passages_by_ids(b_ids, "A") == {} and store.vectors_by_ids(b_ids, dim, "A") == {}
    mixed = a_ids + b_ids
    assert set(store.passages_by_ids(mixed, "A")) == set(a_ids)
    assert set(store.vectors_by_ids(mixed, dim, "B")) == set(b_ids)


def test_an_index_holding_another_collections_ids_shows_none_of_its_passages(fake_archive):
    fake_archive.add_articles([("a", FERRY)], collection="A")
    fake_archive.add_articles([("b", BUDGET)], collection="B")
    b_ids = sorted(passage_ids(fake_archive, "B"))
    b_vectors = fake_archive.store.vectors_by_ids(b_ids, fake_archive.embedder.dim, "B")
    # A's index damaged or stale: it names B's passages
    fake_archive.checked_index("A").add(
        np.array(b_ids, dtype=np.int64), np.stack([b_vectors[i] for i in b_ids])
    )
    for mode in ("hybrid", "dense", "rrf"):
        fake_archive.search_config = SearchConfig(mode=mode)
        answer = fake_archive.ask("council budget million euros schools", collection="A")
        assert all(hit.title != BUDGET.title for hit in answer.hits), mode


# -- feed tables ----------------------------------------------------------------------------
def table_names(store: Store) -> set[str]:
    rows = store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


def test_a_fresh_store_has_the_feed_tables_at_open(tmp_path):
    store = Store(tmp_path / "archive.db")
    assert {"feeds", "feed_items"} <= table_names(store)
    columns = {c.name for c in store.db["feeds"].columns}
    assert {"failures", "next_poll_at", "disabled_at", "added_in"} <= columns
    store.close()


def test_a_store_made_before_feeds_gets_the_feed_tables_at_open(tmp_path):
    path = tmp_path / "archive.db"
    store = Store(path)
    # the store as it was before feeds: no feed tables, their migrations not yet recorded
    with store.transaction() as db:
        db.execute("DROP TABLE IF EXISTS feed_items")
        db.execute("DROP TABLE IF EXISTS feeds")
        db.execute("DELETE FROM _migrations WHERE name LIKE 'm_feeds_%'")
    store.close()
    store = Store(path)
    assert {"feeds", "feed_items"} <= table_names(store)
    applied = {r[0] for r in store.db.execute("SELECT name FROM _migrations")}
    assert applied == {m.__name__ for m in MIGRATIONS}
    store.close()

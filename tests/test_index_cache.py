"""The open indexes within a memory budget (`IndexCache`): least recently used out first, the
budget kept, unsaved changes saved on the way out, an index in use never closed under its
question, and a start that checks only what would be slow to check later (fake embedder)."""

from __future__ import annotations

import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from archivist import index_cache
from archivist.archive import Archive
from archivist.config import Limits, load_settings
from archivist.embedding import HashingEmbedder
from archivist.errors import ConfigError
from archivist.index import VectorIndex, memory_estimate
from archivist.index_cache import IndexCache
from archivist.models import Article, Paragraph

DIM = 64
PASSAGES = 3  # each collection: three one-paragraph articles, one passage each
ONE_INDEX_MB = memory_estimate(PASSAGES, DIM) / 2**20


def topic(n: int) -> str:
    return f"zorblat{n}"


def articles(n: int) -> list[tuple[str, Article]]:
    """Three articles; the first about a word no other collection has."""
    texts = [
        f"The {topic(n)} festival drew crowds to the square in town number {n} this week.",
        f"Road works on the northern bypass of town {n} will last until the end of May.",
        f"The library of town {n} extends its opening hours on Saturdays from next month.",
    ]
    return [
        (f"{n}-{i}", Article(title=f"Town {n} news {i}", paragraphs=(Paragraph(text),)))
        for i, text in enumerate(texts)
    ]


def filled_archive(path, collections: int, budget_indexes: float) -> Archive:
    """An archive of `collections` collections whose budget holds `budget_indexes` indexes."""
    limits = Limits(index_memory_mb=ONE_INDEX_MB * budget_indexes)
    archive = Archive(path, embedder=HashingEmbedder(DIM), limits=limits)
    for n in range(collections):
        archive.add_articles(articles(n), collection=f"c{n}")
    return archive


def asks_right(archive: Archive, n: int) -> bool:
    hits = archive.ask(f"{topic(n)} festival", collection=f"c{n}").hits
    return bool(hits) and hits[0].title == f"Town {n} news 0"


@pytest.fixture
def archive(tmp_path):
    archive = filled_archive(tmp_path / "a", collections=6, budget_indexes=2.5)
    yield archive
    archive.close()


def test_least_recently_used_goes_first(archive):
    for name in ("c0", "c1", "c0", "c2"):
        archive.checked_index(name)
    assert archive.indexes.open_collections() == ["c0", "c2"]
    archive.checked_index("c1")
    assert archive.indexes.open_collections() == ["c2", "c1"]


def test_memory_stays_within_the_budget_whatever_the_number_of_collections(archive):
    for n in range(6):
        assert asks_right(archive, n)
        use = archive.indexes.use()
        assert use.memory_bytes <= use.budget_bytes
        assert use.open <= 2
    # every collection is still answered right after its index was evicted and reopened
    assert all(asks_right(archive, n) for n in range(6))


def test_one_index_larger_than_the_budget_stays_open_while_used(tmp_path):
    archive = filled_archive(tmp_path / "a", collections=2, budget_indexes=0.5)
    try:
        assert asks_right(archive, 0) and asks_right(archive, 1)
        assert archive.indexes.open_collections() == ["c1"]
    finally:
        archive.close()


def test_a_dirty_index_is_saved_on_eviction_and_reopened_intact(archive, caplog):
    index = archive.checked_index("c0")
    article = archive.recent(collection="c0", limit=1)[0]
    deleted = archive.store.delete_article("c0", article.id)
    assert deleted is not None
    ids, generations = deleted
    # what Archive.delete does, without the save that follows: the index holds an unsaved change
    index.remove(ids)
    archive.indexes.note_write("c0", generations)
    assert index.dirty
    del index
    archive.checked_index("c1")
    archive.checked_index("c2")
    assert "c0" not in archive.indexes.open_collections()
    gc.collect()
    on_disk = archive.index_unchecked("c0")
    assert on_disk.ntotal == PASSAGES - 1 and not on_disk.dirty
    with caplog.at_level(logging.WARNING, logger="archivist.index"):
        reopened = archive.checked_index("c0")
    assert "out of step" not in caplog.text
    assert np.array_equal(reopened.ids(), archive.store.passage_ids("c0"))


def test_an_evicted_index_still_held_is_the_one_handed_back(archive):
    held = archive.checked_index("c0")
    archive.checked_index("c1")
    archive.checked_index("c2")
    assert "c0" not in archive.indexes.open_collections()
    assert archive.indexes.use().held_elsewhere == 1
    assert archive.checked_index("c0") is held
    assert archive.indexes.open_collections()[-1] == "c0"


class BlockingEmbedder(HashingEmbedder):
    """Holds a question naming `word` inside encode until released (the index in hand)."""

    def __init__(self, word: str) -> None:
        super().__init__(DIM)
        self.word = word
        self.inside = threading.Event()
        self.release = threading.Event()

    def encode(self, texts):
        if any(self.word in t for t in texts) and len(texts) == 1:
            self.inside.set()
            assert self.release.wait(10)
        return super().encode(texts)


def test_a_question_and_the_eviction_of_its_index_at_once(tmp_path):
    filled_archive(tmp_path / "a", collections=4, budget_indexes=1.5).close()
    embedder = BlockingEmbedder(topic(0))
    limits = Limits(index_memory_mb=ONE_INDEX_MB * 1.5)
    archive = Archive(tmp_path / "a", embedder=embedder, limits=limits)
    try:
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(asks_right, archive, 0)
            assert embedder.inside.wait(10)  # the question holds c0's index, not yet searched
            assert asks_right(archive, 1) and asks_right(archive, 2)
            assert "c0" not in archive.indexes.open_collections()
            embedder.release.set()
            assert slow.result(10)
        assert asks_right(archive, 0)
    finally:
        archive.close()


def test_many_questions_over_many_collections_at_once(tmp_path):
    archive = filled_archive(tmp_path / "a", collections=8, budget_indexes=2.5)
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: asks_right(archive, i % 8), range(64)))
        assert all(results)
        use = archive.indexes.use()
        assert use.memory_bytes <= use.budget_bytes
    finally:
        archive.close()


def test_start_leaves_small_indexes_to_their_first_use_which_checks_them(tmp_path):
    first = filled_archive(tmp_path / "a", collections=3, budget_indexes=10)
    stale = first.checked_index("c1")
    stale.remove(first.store.passage_ids("c1")[:1])  # the file loses the topic passage
    stale.save()
    first.close()
    archive = Archive(tmp_path / "a", embedder=HashingEmbedder(DIM))
    try:
        archive.open_all_indexes()
        assert archive.indexes.open_collections() == []
        assert asks_right(archive, 1)  # checked (and repaired) before its first search
    finally:
        archive.close()


def test_start_checks_the_largest_indexes_that_fit_the_budget(tmp_path, monkeypatch):
    first = filled_archive(tmp_path / "a", collections=3, budget_indexes=10)
    first.add_articles(articles(10), collection="c2")  # c2 the largest: six passages
    first.close()
    monkeypatch.setattr(index_cache, "EAGER_MIN_FILE_BYTES", 1)
    store_index = tmp_path / "a" / "store" / "index"
    size = VectorIndex(store_index, "c2", DIM, "hashing-test").path.stat().st_size
    limits = Limits(index_memory_mb=size * 1.5 / 2**20)  # c2 fits, then no other
    archive = Archive(tmp_path / "a", embedder=HashingEmbedder(DIM), limits=limits)
    try:
        archive.open_all_indexes()
        assert archive.indexes.open_collections() == ["c2"]
    finally:
        archive.close()


def test_the_cache_alone_over_a_store(tmp_path):
    archive = filled_archive(tmp_path / "a", collections=3, budget_indexes=10)
    try:
        cache = IndexCache(
            archive.store, archive.store_dir / "index", archive.embedder, ONE_INDEX_MB * 1.5
        )
        for name in ("c0", "c1", "c2"):
            assert cache.checked(name).ntotal == PASSAGES
        assert cache.open_collections() == ["c2"]
    finally:
        archive.close()


def test_the_budget_setting(monkeypatch):
    monkeypatch.setenv("ARCHIVIST_INDEX_MEMORY_MB", "256")
    assert load_settings(dotenv=False).limits.index_memory_mb == 256
    monkeypatch.setenv("ARCHIVIST_INDEX_MEMORY_MB", "lots")
    with pytest.raises(ConfigError, match="ARCHIVIST_INDEX_MEMORY_MB must be a whole number"):
        load_settings(dotenv=False)
    monkeypatch.setenv("ARCHIVIST_INDEX_MEMORY_MB", "0")
    with pytest.raises(ConfigError, match="ARCHIVIST_INDEX_MEMORY_MB must be above 0"):
        load_settings(dotenv=False)


def test_stats_of_every_collection_opens_no_index(archive):
    archive.checked_index("c5")
    archive.checked_index("c0")
    stats = archive.stats()
    assert archive.indexes.open_collections() == ["c5", "c0"]
    assert stats.indexed == stats.passages == 6 * PASSAGES
    assert stats.index_bytes == sum(archive.index_unchecked(f"c{n}").file_bytes() for n in range(6))


class SlowStore:
    """The store, with the first read of a collection's passage fingerprint held until
    released (an index being opened, its check under way)."""

    def __init__(self, store) -> None:
        self.store = store
        self.inside = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self.store, name)

    @property
    def db(self):
        if not self.inside.is_set():
            self.inside.set()
            assert self.release.wait(10)
        return self.store.db


def test_two_questions_opening_the_same_index_at_once_share_one(archive):
    slow = SlowStore(archive.store)
    cache = IndexCache(slow, archive.store_dir / "index", archive.embedder)  # type: ignore[arg-type]
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.checked, "c3")
        assert slow.inside.wait(10)
        second = pool.submit(cache.checked, "c3")
        threading.Event().wait(0.2)  # lets the second reach the open (no assert on time)
        slow.release.set()
        assert first.result(10) is second.result(10)
    assert cache.open_collections() == ["c3"]

"""The vector index: exact below a threshold, IVF above it, deletes, crash repair, mmap load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archivist import index as index_module
from archivist import index_ivf
from archivist.index import FLAT, VectorIndex
from archivist.models import Article, Paragraph, Passage
from archivist.store import NewArticle, Store

DIM = 32


def clustered_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around a few dozen centres: structured like text embeddings, unlike
    isotropic noise (on which IVF recall says nothing)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    x = centres[rng.integers(0, 40, n)] + 0.35 * rng.normal(size=(n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def fill(store: Store, collection: str, vectors: np.ndarray, start: int = 0) -> list[int]:
    """Store one article per 10 vectors; returns the passage ids in order."""
    ids: list[int] = []
    items = []
    for a in range(0, len(vectors), 10):
        chunk = vectors[a : a + 10]
        title = f"article {start + a}"
        items.append(
            NewArticle(
                Article(title=title, paragraphs=(Paragraph("x"),)),
                f"a{start + a}",
                f"hash{start + a}",
                [Passage(i, f"text {start + a + i}") for i in range(len(chunk))],
                chunk,
                "test",
            )
        )
    result = store.insert_articles(collection, items, None)
    stored = result[0] if isinstance(result, tuple) else result
    for _, pids in stored:
        ids.extend(pids)
    return ids


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "archive.db")
    yield s
    s.close()


def make_index(tmp_path, threshold=300) -> VectorIndex:
    return VectorIndex(tmp_path / "index", "g1", DIM, "test-model", ivf_threshold=threshold)


def test_small_collection_is_exact(tmp_path, store):
    vectors = clustered_vectors(200)
    ids = fill(store, "g1", vectors)
    index = make_index(tmp_path)
    index.open(store)
    assert index.kind == FLAT
    found, scores = index.search(vectors[17], 1)
    assert found[0] == ids[17] and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_switches_to_ivf_above_threshold_and_finds_exact_match(tmp_path, store):
    vectors = clustered_vectors(1000)
    ids = fill(store, "g1", vectors[:200])
    index = make_index(tmp_path)
    index.open(store)
    assert index.kind == FLAT
    new = fill(store, "g1", vectors[200:], start=200)
    index.add(np.array(new), vectors[200:])
    index.checkpoint()  # what Archive.add_articles does at the end of an ingest
    assert index.is_ivf and index.ntotal == 1000 and index.nprobe > 0
    all_ids = ids + new
    assert np.array_equal(index.ids(), np.sort(all_ids))
    assert not index.exact_scores  # 8-bit codes: the scores are close, not exact
    for row in (0, 345, 999):
        found, scores = index.search(vectors[row], 5)
        assert found[0] == all_ids[row] and scores[0] == pytest.approx(1.0, abs=0.01)
    meta = json.loads(index.sidecar.read_text())
    assert meta["type"].startswith("IVF") and meta["count"] == 1000


def test_ivf_recall_of_exact_search(tmp_path, store):
    vectors = clustered_vectors(3000, seed=1)
    fill(store, "g1", vectors)
    index = make_index(tmp_path)
    index.open(store)
    assert index.is_ivf
    queries = clustered_vectors(100, seed=2)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    ids = store.passage_ids("g1")
    recall = np.mean(
        [
            len(set(index.search(q, 10)[0]) & set(ids[e])) / 10
            for q, e in zip(queries, exact, strict=True)
        ]
    )
    assert recall >= 0.95


def test_deletes_work_on_ivf(tmp_path, store):
    vectors = clustered_vectors(600)
    ids = fill(store, "g1", vectors)
    index = make_index(tmp_path)
    index.open(store)
    assert index.is_ivf
    assert index.remove([ids[5], ids[6]]) == 2
    found, _ = index.search(vectors[5], 5)
    assert ids[5] not in found and index.ntotal == 598
    index.save()
    assert index.remove([ids[5]]) == 0


def test_reopen_is_memory_mapped_and_writable(tmp_path, store):
    vectors = clustered_vectors(600)
    ids = fill(store, "g1", vectors)
    first = make_index(tmp_path)
    first.open(store)
    assert first.is_ivf
    again = make_index(tmp_path)
    assert again.open(store) == "loaded"
    assert again.mapped and again.nprobe == first.nprobe
    assert again.search(vectors[42], 1)[0][0] == ids[42]
    # the first write copies the mapped lists into memory; nothing is lost
    assert again.remove([ids[42]]) == 1
    assert not again.mapped and again.ntotal == 599
    assert again.search(vectors[43], 1)[0][0] == ids[43]
    extra = clustered_vectors(10, seed=9)
    new = fill(store, "g1", extra, start=600)
    again.add(np.array(new), extra)
    assert again.search(extra[3], 1)[0][0] == new[3]


def test_reconcile_after_crash_on_ivf(tmp_path, store):
    vectors = clustered_vectors(700)
    ids = fill(store, "g1", vectors[:600])
    index = make_index(tmp_path)
    index.open(store)
    assert index.is_ivf
    # a crash after SQLite commits but before the index is saved: the file trails the store
    new = fill(store, "g1", vectors[600:], start=600)
    store.delete_article("g1", "a0")
    reopened = make_index(tmp_path)
    assert reopened.open(store) == "repaired"
    assert np.array_equal(reopened.ids(), store.passage_ids("g1"))
    assert reopened.search(vectors[650], 1)[0][0] == new[50]
    assert ids[0] not in reopened.search(vectors[0], 5)[0]


def test_large_index_saves_when_due_not_after_every_batch(tmp_path, store, monkeypatch):
    monkeypatch.setattr(index_module, "SAVE_ALWAYS_BYTES", 0)
    vectors = clustered_vectors(400)
    ids = fill(store, "g1", vectors[:390])
    index = make_index(tmp_path, threshold=10_000)
    index.open(store)
    saved = index.path.stat().st_mtime_ns
    new = fill(store, "g1", vectors[390:391], start=390)
    index.add(np.array(new), vectors[390:391])
    index.checkpoint()  # 1 change in 391: under 2%, not saved yet
    assert index.dirty and index.path.stat().st_mtime_ns == saved
    index.checkpoint(force=True)  # what close() does
    assert not index.dirty
    assert json.loads(index.sidecar.read_text())["count"] == len(ids) + 1


def test_shrinks_back_to_exact(tmp_path, store):
    vectors = clustered_vectors(400)
    fill(store, "g1", vectors)
    index = make_index(tmp_path)
    index.open(store)
    assert index.is_ivf
    for a in range(0, 300, 10):
        pids = store.delete_article("g1", f"a{a}")
        pids = pids[0] if isinstance(pids, tuple) else pids
        index.remove(pids)
    index.checkpoint()
    assert index.kind == FLAT and index.ntotal == 100


def test_open_of_an_index_in_step_skips_listing_ids(tmp_path, store, monkeypatch):
    vectors = clustered_vectors(600)
    fill(store, "g1", vectors)
    make_index(tmp_path).open(store)

    def no_listing(*args, **kwargs):
        raise AssertionError("the fingerprint should have matched")

    monkeypatch.setattr(store, "passage_ids", no_listing)
    assert make_index(tmp_path).open(store) == "loaded"
    monkeypatch.undo()
    store.delete_article("g1", "a10")  # now it differs: listed and repaired
    assert make_index(tmp_path).open(store) == "repaired"


def test_saving_a_mapped_index_writes_the_lists_not_the_mapping(tmp_path, store):
    vectors = clustered_vectors(600)
    ids = fill(store, "g1", vectors)
    make_index(tmp_path).open(store)
    mapped = make_index(tmp_path)
    mapped.open(store)
    assert mapped.mapped
    mapped.save()  # e.g. after calibrate(); must not write an on-disk list reference
    again = make_index(tmp_path)
    assert again.open(store) == "loaded"
    assert again.search(vectors[7], 1)[0][0] == ids[7]
    assert again.calibrate(store) > 0
    assert make_index(tmp_path).open(store) == "loaded"


def test_nprobe_never_below_the_floor_even_for_an_older_saved_index(tmp_path, store, monkeypatch):
    monkeypatch.setattr(index_ivf, "MIN_PROBE_SHARE", 0.5)
    vectors = clustered_vectors(600)
    fill(store, "g1", vectors)
    first = make_index(tmp_path)
    first.open(store)
    nlist = first.nlist
    assert first.is_ivf and first.nprobe >= nlist // 2
    # an index saved with a lower nprobe (before the floor) is raised to it when opened
    meta = json.loads(first.sidecar.read_text())
    meta["nprobe"] = 1
    first.sidecar.write_text(json.dumps(meta))
    again = make_index(tmp_path)
    assert again.open(store) == "loaded"
    assert again.nprobe == nlist // 2

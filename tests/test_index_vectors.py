"""An exact index hands back the stored vectors from memory, so a question's candidates that
the dense side did not score are scored without reading the store (whose pages a cold cache
reads from disk): the same float32, the same answers; an IVF index hands back none, and the
store is read as before."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import SAMPLES
from test_index import clustered_vectors, fill, make_index

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.index import FLAT, VectorIndex
from archivist.ranking import SearchConfig
from archivist.store import Store

QUESTIONS = (
    "When did the bridge reopen?",
    "How many runners finished the marathon?",
    "What did the glacier study find?",
    "Why was the herring quota cut?",
    "library renovation cost",
)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "archive.db")
    yield s
    s.close()


def test_an_exact_index_holds_the_stored_vectors(tmp_path, store):
    vectors = clustered_vectors(200)
    ids = fill(store, "g1", vectors)
    index = make_index(tmp_path)
    index.open(store)
    assert index.kind == FLAT
    wanted = [ids[3], ids[150], ids[77]]
    held = index.vectors(wanted)
    stored = store.vectors_by_ids(wanted, vectors.shape[1], "g1")
    assert set(held) == set(wanted)
    for pid in wanted:
        assert held[pid].dtype == np.float32
        assert held[pid].tobytes() == stored[pid].tobytes()
    # an id it does not hold is left out, the others still given
    assert set(index.vectors([ids[5], 10**9])) == {ids[5]}
    assert index.vectors([]) == {}


def test_an_ivf_index_gives_none(tmp_path, store):
    vectors = clustered_vectors(1000)
    index = make_index(tmp_path)
    index.open(store)
    new = fill(store, "g1", vectors)
    index.add(np.array(new), vectors)
    index.checkpoint()
    assert index.is_ivf
    assert index.vectors(new[:5]) == {}


def counting(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many vectors each of the store's `vectors_by_ids` calls asked for."""
    calls: list[int] = []
    plain = store.vectors_by_ids

    def spy(ids: Any, dim: int, collection: str | None) -> dict[int, np.ndarray]:
        calls.append(len(ids))
        return plain(ids, dim, collection)

    monkeypatch.setattr(store, "vectors_by_ids", spy)
    return calls


def answers(archive: Archive) -> list[Any]:
    out = []
    for question in QUESTIONS:
        answer = archive.ask(question, collection="g1", k=5)
        out.append(
            [(h.article_id, h.position, round(h.score, 6), h.highlight) for h in answer.hits]
        )
        out.append(answer.answered)
    return out


@pytest.mark.parametrize("mode", ["hybrid", "rrf"])
def test_asks_on_an_exact_index_read_no_vector_and_answer_the_same(tmp_path, monkeypatch, mode):
    archive = Archive(tmp_path, embedder=HashingEmbedder(), search_config=SearchConfig(mode=mode))
    archive.add_paths([SAMPLES], collection="g1")
    calls = counting(archive.store, monkeypatch)
    found = answers(archive)
    assert calls == []  # before: every ask read its lexical-only candidates' vectors
    # the same answers when the index gives none and the store is read, as before
    monkeypatch.setattr(VectorIndex, "vectors", lambda self, ids: {})
    assert answers(archive) == found
    assert sum(calls) > 0
    archive.close()

"""The full text searched within one collection inside FTS5 (m008's collection token): the
same matches and order as before for a one-collection archive, and collections never mix."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import sqlite_utils

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.models import Article, Paragraph
from archivist.store import Store
from archivist.store.integrity import fill_missing_fts
from archivist.store.passages import collection_token

WORDS = (
    "harbour ferry strike council budget school museum glass roof vineyard river market "
    "railway station bridge flood storm mayor election teacher hospital nurse festival "
    "library winter harvest farmer bakery tram airport cargo"
).split()
OLD_WEIGHTS = "2.0, 1.0, 1.0"  # title, heading, text: what the search weighed before m008


def corpus(seed: int, n: int) -> list[tuple[str, Article]]:
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30))) + "."

    return [
        (f"a{seed}-{i}", Article(title=sentence(), paragraphs=(Paragraph(sentence()),)))
        for i in range(n)
    ]


def store_path(folder: Path) -> Path:
    return next(folder.rglob("archive.db"))


def as_before_m008(db_path: Path) -> None:
    """Turn the full text back into the three-column table a store had before m008."""
    db = sqlite_utils.Database(db_path)
    db.execute("DROP TABLE passages_fts_vocab")
    db.execute(
        "CREATE VIRTUAL TABLE old_fts USING fts5 ("
        " title, heading, text, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute(
        "INSERT INTO old_fts (rowid, title, heading, text)"
        " SELECT rowid, title, heading, text FROM passages_fts"
    )
    db.execute("DROP TABLE passages_fts")
    db.execute("ALTER TABLE old_fts RENAME TO passages_fts")
    db.execute("CREATE VIRTUAL TABLE passages_fts_vocab USING fts5vocab(passages_fts, 'row')")
    db.execute("DELETE FROM _migrations WHERE name = 'm008_fts_collection_token'")
    db.conn.commit()
    db.conn.close()


def old_search(db_path: Path, match: str, limit: int) -> list[tuple[int, float]]:
    """The search as it ranked before m008, on a one-collection archive."""
    db = sqlite_utils.Database(db_path)
    rows = db.execute(
        f"SELECT rowid, -bm25(passages_fts, {OLD_WEIGHTS}) FROM passages_fts"
        f" WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, {OLD_WEIGHTS}) LIMIT ?",
        [match, limit],
    ).fetchall()
    db.conn.close()
    return [(r[0], float(r[1])) for r in rows]


QUERIES = [
    '"ferry"',
    '"museum" OR "glass"',
    '"harbour" AND "strike"',
    '"tram" OR "cargo" OR "nurse"',
]


def old_doc_freqs(db_path: Path) -> dict[str, int]:
    db = sqlite_utils.Database(db_path)
    found = {r[0]: int(r[1]) for r in db.execute("SELECT term, doc FROM passages_fts_vocab")}
    db.conn.close()
    return found


def test_a_store_from_before_the_token_finds_the_same_passages_with_the_same_scores(tmp_path):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    archive.add_articles(corpus(1, 120), collection="g1")
    archive.close()
    db_path = store_path(tmp_path)
    as_before_m008(db_path)
    before = {q: dict(old_search(db_path, q, 1000)) for q in QUERIES}
    freqs_before = old_doc_freqs(db_path)
    store = Store(db_path)  # migrates
    assert store.doc_freqs(list(freqs_before)) == freqs_before
    for q in QUERIES:
        after = dict(store.fts_top(q, "g1", 1000))
        assert set(after) == set(before[q]), q
        # bm25's document length counts every column: the token adds one to each row and to
        # the average, which moves a score by under a percent (and can swap near-ties)
        for pid, score in after.items():
            assert score == pytest.approx(before[q][pid], rel=0.02), (q, pid)


def passage_ids(archive: Archive, collection: str) -> set[int]:
    return {int(i) for i in archive.store.passage_ids(collection)}


def test_collections_never_mix_and_deletes_keep_the_full_text_in_step(tmp_path):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    same = corpus(2, 30)  # the same texts in both: only the collection tells them apart
    archive.add_articles(same, collection="g1")
    archive.add_articles(same, collection="g2")
    mine, theirs = passage_ids(archive, "g1"), passage_ids(archive, "g2")
    for q in QUERIES:
        found = {pid for pid, _ in archive.store.fts_top(q, "g1", 1000)}
        assert found and found <= mine, q
        assert {pid for pid, _ in archive.store.fts_top(q, "g2", 1000)} <= theirs, q
    archive.delete(archive.recent(collection="g1", limit=1)[0].id, collection="g1")
    left = passage_ids(archive, "g1")
    every = {pid for q in QUERIES for pid, _ in archive.store.fts_top(q, "g1", 1000)}
    assert every <= left and mine - left
    assert archive.store.fts_top('"ferry"', "nobody", 10) == []


def test_a_collection_token_is_no_word(tmp_path):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    archive.add_articles(corpus(3, 10), collection="g1")
    token = collection_token("g1")
    assert archive.store.fts_top(f'"{token}"', "g1", 10) == []
    assert archive.store.doc_freqs([token, "ferri"]) == archive.store.doc_freqs(["ferri"])
    assert collection_token("g1") != collection_token("g2")


def test_a_passage_indexed_again_is_found_in_its_collection(tmp_path):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    archive.add_articles(corpus(4, 20), collection="g1")
    found = archive.store.fts_top('"ferry" OR "museum"', "g1", 1000)
    lost = found[0][0]
    with archive.store.transaction() as db:
        db.execute("DELETE FROM passages_fts WHERE rowid = ?", [lost])
    assert lost not in dict(archive.store.fts_top('"ferry" OR "museum"', "g1", 1000))
    with archive.store.transaction() as db:
        assert fill_missing_fts(db) == 1
    assert archive.store.fts_top('"ferry" OR "museum"', "g1", 1000) == found

"""On SQLite a passage's vector lives in `passage_vectors` (m010), not in its `passages` row:
the rows every question reads are small enough to share pages, an archive made before moves
them over with nothing lost and the same answers, a deleted article takes its vectors with
it, and `check` finds a passage left without one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlite_utils
from click.testing import CliRunner
from conftest import SAMPLES, fake_model_archive

from archivist.archive import Archive
from archivist.cli import cli
from archivist.embedding import HashingEmbedder
from archivist.store import Store

DIM = HashingEmbedder().dim
QUESTIONS = ("When did the bridge reopen?", "How many runners finished the marathon?")


def filled(folder: Path) -> Archive:
    """The samples in two collections (the CLI asks "default"), one article deleted from g2."""
    archive = Archive(folder, embedder=HashingEmbedder())
    for collection in ("default", "g2"):
        archive.add_paths([SAMPLES], collection=collection)
    archive.delete(archive.recent(collection="g2", limit=1)[0].id, collection="g2")
    return archive


def invoke(folder: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--data-dir", str(folder), *args], obj=fake_model_archive)


def everything(store: Store) -> tuple[dict[int, Any], dict[int, bytes]]:
    """Every passage row and every vector (as bytes), by id."""
    ids = [int(i) for c in store.collections() for i in store.passage_ids(c)]
    rows = store.passages_by_ids(ids, None)
    vectors = store.vectors_by_ids(ids, DIM, None)
    return rows, {pid: v.tobytes() for pid, v in vectors.items()}


def as_before_m010(db_path: Path) -> None:
    """The store as it was before m010: each vector in its passage's row."""
    db = sqlite_utils.Database(db_path)
    db.conn.execute("PRAGMA foreign_keys = OFF")
    db.executescript(
        """
        CREATE TABLE passages_old (
            id INTEGER PRIMARY KEY,
            article INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
            collection TEXT NOT NULL,
            position INTEGER NOT NULL,
            heading TEXT,
            text TEXT NOT NULL,
            vector BLOB NOT NULL,
            stems TEXT
        );
        INSERT INTO passages_old
            SELECT p.id, p.article, p.collection, p.position, p.heading, p.text, v.vector, p.stems
            FROM passages p JOIN passage_vectors v ON v.id = p.id;
        DROP TABLE passage_vectors;
        DROP TABLE passages;
        ALTER TABLE passages_old RENAME TO passages;
        CREATE INDEX passages_article ON passages (article, position);
        CREATE INDEX passages_collection ON passages (collection, id);
        CREATE INDEX passages_opening ON passages (collection, substr(text, 1, 64));
        DELETE FROM _migrations WHERE name = 'm010_passage_vectors';
        """
    )
    db.conn.close()


def test_an_archive_from_before_moves_its_vectors_with_nothing_lost(tmp_path):
    filled(tmp_path).close()
    db_path = tmp_path / "store" / "archive.db"
    store = Store(db_path)
    rows, vectors = everything(store)
    store.close()
    answers = [invoke(tmp_path, "ask", q, "--json").stdout for q in QUESTIONS]
    as_before_m010(db_path)
    columns = [c.name for c in sqlite_utils.Database(db_path)["passages"].columns]
    assert "vector" in columns  # the old layout, as a store made before has it

    store = Store(db_path)  # migrates
    assert everything(store) == (rows, vectors)
    store.close()
    columns = [c.name for c in sqlite_utils.Database(db_path)["passages"].columns]
    assert "vector" not in columns
    assert [invoke(tmp_path, "ask", q, "--json").stdout for q in QUESTIONS] == answers
    found = invoke(tmp_path, "check", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["problems"] == []
    # a write after the move stores its vectors where they are read
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    archive.add_paths([SAMPLES], collection="g3")
    store = archive.store
    new_ids = store.passage_ids("g3")
    assert len(new_ids) and len(store.vectors_by_ids(new_ids.tolist(), DIM, "g3")) == len(new_ids)
    archive.close()


def test_passage_rows_share_pages(tmp_path):
    """Before m010 a row carried its 1,536-byte vector and a 4 KB page held one row, so each
    candidate a question read was a page of its own (a disk read when not cached)."""
    archive = Archive(tmp_path, embedder=HashingEmbedder(384))  # MiniLM's dimension
    archive.add_paths([SAMPLES], collection="g1")
    archive.close()
    db = sqlite_utils.Database(tmp_path / "store" / "archive.db")
    rows = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    leaves = db.execute(
        "SELECT count(*) FROM dbstat WHERE name = 'passages' AND pagetype = 'leaf'"
    ).fetchone()[0]
    assert rows >= 20
    assert rows / leaves >= 4


def test_a_deleted_article_takes_its_vectors(tmp_path):
    archive = filled(tmp_path)
    store = archive.store
    doomed = archive.recent(collection="default", limit=1)[0].id
    ids = [int(i) for i in store.passage_ids("default")]
    archive.delete(doomed, collection="default")
    kept = [int(i) for i in store.passage_ids("default")]
    gone = sorted(set(ids) - set(kept))
    assert gone
    assert store.vectors_by_ids(gone, DIM, None) == {}
    assert set(store.vectors_by_ids(kept, DIM, "default")) == set(kept)
    # nothing of them is left under any collection, in the table itself
    db = sqlite_utils.Database(tmp_path / "store" / "archive.db")
    marks = ",".join("?" * len(gone))
    left = db.execute(f"SELECT count(*) FROM passage_vectors WHERE id IN ({marks})", gone)
    assert left.fetchone()[0] == 0
    archive.close()


def test_check_finds_a_passage_without_its_vector(tmp_path):
    filled(tmp_path).close()
    db = sqlite_utils.Database(tmp_path / "store" / "archive.db")
    db.execute("DELETE FROM passage_vectors WHERE id = (SELECT min(id) FROM passages)")
    db.execute(
        "UPDATE passage_vectors SET vector = zeroblob(12) WHERE id = (SELECT max(id) FROM passages)"
    )
    db.conn.commit()
    db.conn.close()
    found = invoke(tmp_path, "check", "--json")
    assert found.exit_code == 1
    assert f"2 passages have no vector of {DIM} dimensions" in json.loads(found.stdout)["problems"]
    store = Store(tmp_path / "store" / "archive.db")
    first = int(min(store.passage_ids("default").tolist() + store.passage_ids("g2").tolist()))
    assert store.vectors_by_ids([first], DIM, None) == {}

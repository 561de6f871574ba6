"""check / repair, export, stats and backup on PostgreSQL: the same report and export as on
SQLite for the same articles, damage found and repaired in one transaction.

test_maintenance's tests on a healthy archive run here again on PostgreSQL (its damage and
backup tests are SQLite's own: they write FTS5 rows and FAISS files)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import SAMPLES, SEED, need
from pg import pg_server, pg_url
from test_maintenance import (
    filled,
    test_check_passes_on_a_healthy_archive,
    test_export_then_import_is_exact,
)

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.errors import ArchivistError
from archivist.maintenance import backup, check, export_jsonl
from archivist.store import pg_text

FIXTURES = (pg_server, pg_url)  # pytest finds them by their names in this module
REUSED = (filled, test_check_passes_on_a_healthy_archive, test_export_then_import_is_exact)


@pytest.fixture
def fake_archive(tmp_path, pg_url):
    archive = Archive(tmp_path / "fake", embedder=HashingEmbedder(), database_url=pg_url)
    yield archive
    archive.close()


def _fill(archive: Archive) -> None:
    archive.add_paths([SAMPLES, need(SEED)], collection="g1")
    archive.add_paths([need(SEED)], collection="g2")


@pytest.fixture
def both(tmp_path, fake_archive):
    """The same articles in a SQLite archive and in a PostgreSQL one."""
    sqlite = Archive(tmp_path / "sqlite", embedder=HashingEmbedder())
    _fill(sqlite)
    _fill(fake_archive)
    yield sqlite, fake_archive
    sqlite.close()


def test_check_reports_the_same_on_both_backends(both):
    sqlite, postgres = both
    expected = check(sqlite).to_json()
    assert expected["ok"] and expected["collections"]["g2"]["passages"] == 6
    assert check(postgres).to_json() == expected


def test_export_is_the_same_bytes_from_both_backends(both):
    for collection in ("g1", "g2"):
        outputs = [io.StringIO(), io.StringIO()]
        counts = [export_jsonl(a, collection, out) for a, out in zip(both, outputs, strict=True)]
        assert counts[0] == counts[1] > 0
        assert outputs[1].getvalue() == outputs[0].getvalue()


def _damage(archive: Archive) -> tuple[int, str]:
    """One passage's full text emptied, an article left without passages, bm25's counts off:
    (the passage, the article's id)."""
    with archive.store.transaction() as db:
        first = db.execute_pg(
            "SELECT id FROM passages WHERE collection = 'g1' ORDER BY id LIMIT 1"
        ).fetchone()[0]
        db.execute_pg("UPDATE passages SET fts = ''::tsvector WHERE id = %s", [first])
        article = db.execute_pg(
            "SELECT a.id FROM articles a JOIN passages p ON p.article = a.pk"
            " WHERE a.collection = 'g2' LIMIT 1"
        ).fetchone()[0]
        db.execute_pg("DELETE FROM passages WHERE collection = 'g2'")
        db.execute_pg("UPDATE term_docs SET docs = docs + 3 WHERE term = 'lavrov'")
        db.execute_pg("UPDATE fts_stats SET rows = rows + 1")
    return int(first), article


def test_check_finds_and_repairs_damage_on_postgresql(both):
    sqlite, postgres = both
    first, article = _damage(postgres)
    report = check(postgres)
    assert not report.ok
    orphan, counts, missing = report.problems
    assert orphan == f"g2: article {article} has no passages"
    # the deleted passages' and the emptied one's terms, one made up, and the totals
    assert re.fullmatch(r"\d+ full-text term counts disagree with the passages", counts)
    assert missing == "g1: 1 passages missing from full-text search"
    assert report.collections["g1"]["fts"] == report.collections["g1"]["passages"] - 1

    assert check(postgres, repair=True).repaired
    after = check(postgres)
    assert after.ok, after.problems
    assert "g2" not in after.collections  # its article had nothing left to find it by
    # the passage is found by its words again, scored as the undamaged SQLite archive scores it
    text = postgres.store.passages_by_ids([first], "g1")[first].text
    match = " OR ".join(f'"{w}"' for w in re.findall(r"[A-Za-z]{5,}", text)[:3])
    found = dict(postgres.store.fts_search(match, "g1", 100))
    sqlite.delete(article, collection="g2")
    expected = dict(sqlite.store.fts_search(match, "g1", 100))
    assert first in found and found == pytest.approx(expected, abs=1e-6)


def test_repair_is_one_transaction(both, monkeypatch):
    _, postgres = both
    _, article = _damage(postgres)
    before = check(postgres).to_json()

    def fail(*args: object) -> None:
        raise RuntimeError("the repair stops half-way")

    monkeypatch.setattr(pg_text, "tsvector", fail)
    with pytest.raises(RuntimeError):
        check(postgres, repair=True)
    monkeypatch.undo()
    assert check(postgres).to_json() == before  # the orphan was not deleted alone
    assert postgres.store.orphan_articles() == [("g2", article)]


def test_stats_measure_the_database_and_the_vectors(fake_archive):
    fake_archive.add_paths([SAMPLES], collection="g1")
    fake_archive.add_paths([need(SEED)], collection="g2")
    stats, one = fake_archive.stats(), fake_archive.stats(collection="g2")
    assert stats.indexed == stats.passages and one.indexed == one.passages == 6
    with fake_archive.store.transaction() as db:
        stored = db.execute_pg(
            "SELECT sum(pg_column_size(vector)) FILTER (WHERE collection = 'g2'),"
            " sum(pg_column_size(vector)), pg_database_size(current_database()) FROM passages"
        ).fetchone()
    assert one.index_bytes == stored[0]
    assert stats.index_bytes >= stored[1]  # plus the HNSW index, where there is one
    assert stored[1] < stats.db_bytes <= stored[2]


def test_backup_refuses_a_postgresql_archive_and_leaves_nothing(fake_archive, tmp_path):
    with pytest.raises(ArchivistError, match="pg_dump") as refused:
        backup(fake_archive, tmp_path / "bk")
    assert "\n" not in str(refused.value)
    assert not Path(tmp_path / "bk").exists()


def _miscount_sqlite(archive: Archive) -> None:
    with archive.store.transaction() as db:
        db.execute("UPDATE term_docs SET docs = docs + 3 WHERE term = 'lavrov'")


def _miscount_postgres(archive: Archive) -> None:
    with archive.store.transaction() as db:
        db.execute_pg("UPDATE term_docs SET docs = docs + 3 WHERE term = 'lavrov'")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_repair_forgets_the_term_counts_kept_before_it(both, backend):
    sqlite, postgres = both
    archive, miscount = (
        (sqlite, _miscount_sqlite) if backend == "sqlite" else (postgres, _miscount_postgres)
    )
    right = archive.store.doc_freqs(["lavrov"])
    if backend == "postgres":  # SQLite keeps none: a question reads its tables (m009)
        archive.store.doc_freq_cache.clear()
    miscount(archive)
    assert archive.store.doc_freqs(["lavrov"]) != right  # and kept a while, as a question does
    check(archive, repair=True)
    assert archive.store.doc_freqs(["lavrov"]) == right

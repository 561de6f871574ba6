"""check / repair, export / import, backup, and writes seen across Archive instances."""

from __future__ import annotations

import io
import json
import re

import pytest
from conftest import SAMPLES, SEED, need

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.maintenance import backup, check, export_jsonl
from archivist.readers import read_bytes


@pytest.fixture
def filled(fake_archive):
    report = fake_archive.add_paths([SAMPLES, need(SEED)], collection="g1")
    assert len(report.added) == 11
    fake_archive.add_paths([need(SEED)], collection="g2")
    return fake_archive


def test_check_passes_on_a_healthy_archive(filled):
    report = check(filled)
    assert report.ok, report.problems
    assert report.collections["g2"] == {"articles": 1, "passages": 6, "indexed": 6, "fts": 6}


def test_check_finds_and_repairs_damage(filled):
    store = filled.store
    with store.transaction() as db:
        first, second = [
            r[0] for r in db.execute("SELECT id FROM passages WHERE collection='g1' LIMIT 2")
        ]
        db.execute("DELETE FROM passages_fts WHERE rowid = ?", [first])
        db.execute(
            "INSERT INTO passages_fts (rowid, title, heading, text) VALUES (999999, 'x', '', 'y')"
        )
    filled.checked_index("g1").remove([second])
    filled.checked_index("g1").save()
    data_dir = filled.data_dir
    filled.close()
    archive = Archive(data_dir, embedder=HashingEmbedder())
    report = check(archive)
    assert not report.ok
    text = "\n".join(report.problems)
    assert "1 full-text rows have no passage" in text
    assert "g1: 1 passages missing from the index" in text
    assert "g1: 1 passages missing from full-text search" in text
    check(archive, repair=True)
    assert check(archive).ok
    # the passage put back into full-text search is found there again, in its collection
    text = archive.store.passages_by_ids([first], "g1")[first].text
    match = " AND ".join(f'"{w}"' for w in re.findall(r"[A-Za-z]{5,}", text)[:3])
    assert first in [pid for pid, _ in archive.store.fts_search(match, "g1", 50)]
    assert check(Archive(data_dir, embedder=HashingEmbedder())).ok


def test_export_then_import_is_exact(filled, tmp_path):
    out = io.StringIO()
    assert export_jsonl(filled, "g1", out) == 11
    first_export = out.getvalue()
    result = read_bytes("export.jsonl", first_export.encode())
    assert not result.failures
    fresh = Archive(tmp_path / "fresh", embedder=HashingEmbedder())
    report = fresh.add_articles(result.articles, collection="g1")
    assert len(report.added) == 11 and not report.failed
    again = io.StringIO()
    export_jsonl(fresh, "g1", again)
    assert again.getvalue() == first_export
    # and the content hashes agree: importing into the original finds only duplicates
    assert len(filled.add_articles(result.articles, collection="g1").duplicates) == 11
    record = json.loads(first_export.splitlines()[-1])
    assert record["source"] == "site-3" and record["agency"] == "dpa"


def test_backup_is_a_working_archive(filled, tmp_path):
    destination = backup(filled, tmp_path / "bk")
    copy = Archive(destination, embedder=HashingEmbedder())
    assert copy.stats(collection="g1").articles == 11
    assert check(copy).ok
    with pytest.raises(Exception, match="not empty"):
        backup(filled, tmp_path / "bk")


def test_writes_by_another_archive_are_seen(tmp_path):
    """The bot's process sees what a CLI ingest in another process stored."""
    bot_side = Archive(tmp_path, embedder=HashingEmbedder())
    cli_side = Archive(tmp_path, embedder=HashingEmbedder())
    assert bot_side.ask("Lavrov Beijing", collection="g").hits == ()
    cli_side.add_paths([need(SEED)], collection="g")
    answer = bot_side.ask("Lavrov Beijing Wang Yi", collection="g")
    assert answer.hits and answer.hits[0].title.startswith("Lavrov")
    article_id = answer.hits[0].article_id
    cli_side.delete(article_id, collection="g")
    assert bot_side.ask("Lavrov Beijing Wang Yi", collection="g").hits == ()
    assert check(bot_side).ok

"""The Archive facade over a real SQLite file and a real FAISS index (fake embedder: fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SEED, need

from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.errors import ArticleNotFound, ConfigError, InvalidQuestion
from archivist.models import Article, Failed, Paragraph
from archivist.ranking import SearchConfig


def art(title: str, *paras: str, **kw) -> Article:
    return Article(title=title, paragraphs=tuple(Paragraph(p) for p in paras), **kw)


FERRY = art(
    "Ferry service resumes",
    "The harbour ferry between Kessling and Norderoog resumed service on Monday after a "
    "three week strike by deckhands over pay and rest periods ended with an agreement.",
    "The operator said timetables would return to normal by Friday and that season tickets "
    "would be extended by three weeks to compensate regular passengers for the disruption.",
    source="Harbour Times",
    date="2026-03-02",
)
BUDGET = art(
    "Council passes budget",
    "The city council approved a budget of 412 million euros for the coming year, with the "
    "largest increases going to school buildings, bus lanes and the renovation of the library.",
    source="City Post",
    date="2025-12-15",
)


def fts_rows(archive: Archive) -> int:
    return archive.store.db.execute("SELECT count(*) FROM passages_fts").fetchone()[0]


@pytest.fixture
def reopen():
    """Opens an archive again (as after a restart); every one it opened is closed at the end,
    so no test leaves an archive, and its worker threads, to the tests after it."""
    opened: list[Archive] = []

    def open_archive(data_dir, **options) -> Archive:
        archive = Archive(data_dir, embedder=HashingEmbedder(), **options)
        opened.append(archive)
        return archive

    yield open_archive
    for archive in opened:
        archive.close()


def test_add_get_recent_and_ids(fake_archive):
    report = fake_archive.add_articles([("a", FERRY), ("b", BUDGET)], collection="g1")
    assert len(report.added) == 2 and not report.failed and not report.duplicates
    ferry_id = report.added[0].id
    got = fake_archive.get(ferry_id, collection="g1")
    assert got.title == FERRY.title and got.source == "Harbour Times"
    assert [p.text for p in got.passages] == [p.text for p in FERRY.paragraphs]
    recent = fake_archive.recent(collection="g1")
    assert [a.title for a in recent] == ["Council passes budget", "Ferry service resumes"]
    given = art("With id", "Some body text for an article that carries its own id.", id="x-1")
    assert fake_archive.add_articles([("c", given)], collection="g1").added[0].id == "x-1"


def test_duplicates_are_reported_not_stored(fake_archive):
    fake_archive.add_articles([("a", FERRY)], collection="g1")
    # same text with other spacing and case is still a duplicate; in the same batch too
    twin = art("ferry service RESUMES", *(p.text.upper() + "  " for p in FERRY.paragraphs))
    report = fake_archive.add_articles([("b", twin), ("c", BUDGET), ("d", BUDGET)], collection="g1")
    assert [d.origin for d in report.duplicates] == ["b", "d"]
    assert len(report.added) == 1
    assert fake_archive.stats(collection="g1").articles == 2
    # another collection may hold the same article
    assert len(fake_archive.add_articles([("a", FERRY)], collection="g2").added) == 1


def test_reused_id_with_other_text_fails_cleanly(fake_archive):
    fake_archive.add_articles([("a", art("A", "Alpha body text here.", id="same"))], collection="g")
    report = fake_archive.add_articles(
        [("b", art("B", "Beta body text here.", id="same"))], collection="g"
    )
    assert report.failed == [Failed("b", "id 'same' is already used by another article")]


def test_delete_removes_from_sqlite_fts_and_faiss(fake_archive, reopen):
    report = fake_archive.add_articles([("a", FERRY), ("b", BUDGET)], collection="g1")
    ferry_id = report.added[0].id
    before = fake_archive.stats(collection="g1")
    assert before.passages == before.indexed == 3 and fts_rows(fake_archive) == 3
    fake_archive.delete(ferry_id, collection="g1")
    after = fake_archive.stats(collection="g1")
    assert after.articles == 1 and after.passages == after.indexed == 1
    assert fts_rows(fake_archive) == 1
    with pytest.raises(ArticleNotFound):
        fake_archive.get(ferry_id, collection="g1")
    with pytest.raises(ArticleNotFound):
        fake_archive.delete(ferry_id, collection="g1")
    hits = fake_archive.ask("ferry strike deckhands", collection="g1").hits
    assert all(h.article_id != ferry_id for h in hits)
    # and the index on disk agrees after a restart
    data_dir = fake_archive.data_dir
    fake_archive.close()
    reopened = reopen(data_dir)
    assert reopened.stats(collection="g1").indexed == 1


def test_collections_never_cross(fake_archive):
    fake_archive.add_articles([("a", FERRY)], collection="g1")
    fake_archive.add_articles([("b", BUDGET)], collection="g2")
    hits = fake_archive.ask("ferry harbour Kessling strike", collection="g2").hits
    assert hits and all(h.title == BUDGET.title for h in hits)
    assert fake_archive.recent(collection="g2")[0].title == BUDGET.title
    ferry_id = fake_archive.recent(collection="g1")[0].id
    with pytest.raises(ArticleNotFound):
        fake_archive.get(ferry_id, collection="g2")
    with pytest.raises(ArticleNotFound):
        fake_archive.delete(ferry_id, collection="g2")
    assert fake_archive.ask("anything at all", collection="empty-guild").hits == ()


@pytest.mark.parametrize("damage", ["delete", "corrupt", "truncate", "stale-sidecar"])
def test_index_rebuilt_from_sqlite(fake_archive, damage, reopen):
    fake_archive.add_articles([("a", FERRY), ("b", BUDGET)], collection="g1")
    index = fake_archive.checked_index("g1")
    path, sidecar = index.path, index.sidecar
    data_dir = fake_archive.data_dir
    fake_archive.close()
    if damage == "delete":
        path.unlink()
    elif damage == "corrupt":
        path.write_bytes(b"this is not a faiss index")
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:50])
    else:
        meta = json.loads(sidecar.read_text())
        meta["model"] = "some-other-model"
        sidecar.write_text(json.dumps(meta))
    archive = reopen(data_dir)
    assert archive.stats(collection="g1").indexed == 3
    assert archive.ask("ferry strike", collection="g1").hits[0].title == FERRY.title
    assert json.loads(sidecar.read_text())["model"] == "hashing-test"


def test_index_missing_rows_are_repaired_at_open(fake_archive, reopen):
    fake_archive.add_articles([("a", FERRY)], collection="g1")
    saved = fake_archive.checked_index("g1").path.read_bytes()
    saved_meta = fake_archive.checked_index("g1").sidecar.read_text()
    fake_archive.add_articles([("b", BUDGET)], collection="g1")
    data_dir = fake_archive.data_dir
    fake_archive.close()
    # a crash after the SQLite commit but before the index save: old index on disk
    index_path = fake_archive.checked_index("g1").path
    index_path.write_bytes(saved)
    index_path.with_suffix(".json").write_text(saved_meta)
    archive = reopen(data_dir)
    index = archive.checked_index("g1")
    assert np.array_equal(index.ids(), archive.store.passage_ids("g1"))
    assert archive.ask("council budget million", collection="g1").hits[0].title == BUDGET.title


@pytest.mark.parametrize(
    "question",
    [
        '"unbalanced',
        "ferry*",
        "-ferry",
        "ferry AND(",
        "NEAR(ferry strike)",
        "ferry OR",
        "title:ferry",
        "^ferry",
        "ferry + strike",
        "'; DROP TABLE articles; --",
        "ferry\x00strike",
        "💥 ferry",
        "паром забастовка",
        "渡轮罢工",
    ],
)
def test_fts_syntax_in_questions_never_raises(fake_archive, question):
    fake_archive.add_articles([("a", FERRY)], collection="g1")
    answer = fake_archive.ask(question, collection="g1")
    assert answer.question
    assert fake_archive.stats(collection="g1").articles == 1


@pytest.mark.parametrize(
    "question, reason",
    [("", "empty"), ("   ", "empty"), ("?!?...", "no words"), ("x" * 10_000, "limit")],
)
def test_bad_questions_get_clear_errors(fake_archive, question, reason):
    with pytest.raises(InvalidQuestion, match=reason):
        fake_archive.ask(question, collection="g1")


def test_source_and_since_filters(fake_archive):
    fake_archive.add_articles([("a", FERRY), ("b", BUDGET)], collection="g1")
    hits = fake_archive.ask(
        "ferry budget council harbour", collection="g1", source="city post"
    ).hits
    assert hits and {h.source for h in hits} == {"City Post"}
    hits = fake_archive.ask(
        "ferry budget council harbour", collection="g1", since="2026-01-01"
    ).hits
    assert hits and {h.title for h in hits} == {FERRY.title}


def test_answered_threshold(tmp_path, reopen):
    archive = reopen(tmp_path, search_config=SearchConfig(answer_threshold=0.99))
    archive.add_articles([("a", FERRY)], collection="g")
    answer = archive.ask("ferry", collection="g")
    assert answer.hits and answer.answered is False


def test_other_embedder_refused(fake_archive):
    fake_archive.add_articles([("a", FERRY)], collection="g")
    data_dir = fake_archive.data_dir
    fake_archive.close()
    with pytest.raises(ConfigError, match="embedded with hashing-test"):
        Archive(data_dir, embedder=HashingEmbedder(dim=32))


def test_add_paths_reports_every_bad_input(fake_archive, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text("Good title\n\nA body paragraph that is fine to store.")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "pic.png").write_bytes(b"\x89PNG")
    (folder / "sub").mkdir()
    (folder / "sub" / "seed.txt").write_bytes(need(SEED).read_bytes())
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    report = fake_archive.add_paths([folder, tmp_path / "missing.txt"], collection="g")
    assert sorted((s.path[len(str(folder)) :], s.reason) for s in report.skipped) == [
        ("/.DS_Store", "hidden file, not read"),
        ("/.git/HEAD", "hidden file, not read"),
    ]
    assert sorted(a.title for a in report.added) == [
        "Good title",
        "Lavrov sees China as a partner against the West",
    ]
    errors = {f.path.rsplit("/", 1)[-1]: f.error for f in report.failed}
    assert errors["empty.txt"] == "the file is empty"
    assert "unsupported format .png" in errors["pic.png"]
    assert errors["missing.txt"] == "no such file or folder"


def test_bytes_that_fail_leave_store_untouched(fake_archive):
    fake_archive.add_articles([("a", FERRY)], collection="g")
    before = fake_archive.stats(collection="g")
    report = fake_archive.add_bytes("bad.json", b"{not json", collection="g")
    assert report.failed and not report.added
    assert fake_archive.stats(collection="g") == before


def test_close_stops_the_lexical_worker_threads(fake_archive):
    import threading

    def lexical_workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("archivist-fts")}

    # archives other tests left open (and not yet collected) may still have theirs
    others = lexical_workers()
    fake_archive.add_articles([("a", FERRY)], collection="g")
    assert fake_archive.ask("When does the night ferry return?", collection="g").hits
    assert lexical_workers() - others
    fake_archive.close()
    assert not lexical_workers() - others
    # a closed archive that is asked again opens what it needs again
    assert fake_archive.ask("When does the night ferry return?", collection="g").hits


def test_a_folder_of_only_hidden_files_says_so(fake_archive, tmp_path):
    folder = tmp_path / "mac"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    report = fake_archive.add_paths([folder], collection="g")
    assert report.failed == [
        Failed(str(folder), "the folder has only hidden files (1, listed as skipped)")
    ]
    assert [s.path for s in report.skipped] == [str(folder / ".DS_Store")]
    assert fake_archive.count(collection="g") == 0

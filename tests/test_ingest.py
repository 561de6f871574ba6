"""The one ingest path: typed reports, the `archivist ingest --json` / `stats --json` contracts,
batching, and duplicates decided inside the write transaction (fake embedder: fast)."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pytest

from archivist.config import Limits
from archivist.embedding import HashingEmbedder
from archivist.index_cache import IndexCache as OpenIndexes
from archivist.ingest import EMBED_BATCH_ARTICLES, Destination, Ingest
from archivist.models import (
    Added,
    ArchiveStats,
    Article,
    Duplicate,
    Failed,
    IngestReport,
    Paragraph,
    Skipped,
)
from archivist.store import Store

FERRY_TEXT = (
    "Ferry service resumes\n\nThe harbour ferry resumed service on Monday after a strike.\n"
)
BUDGET_TEXT = "Council passes budget\n\nThe city council approved a budget of 412 million euros.\n"


def article(n: int) -> Article:
    return Article(f"Article {n}", (Paragraph(f"Body text number {n} about item {n}."),))


@pytest.fixture
def corpus(tmp_path):
    """Two articles, a copy of one, an empty file, an unsupported one, a hidden one."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "budget.txt").write_text(BUDGET_TEXT)
    (folder / "ferry.txt").write_text(FERRY_TEXT)
    (folder / "sub" / "ferry_copy.txt").write_text(FERRY_TEXT)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "pic.png").write_bytes(b"\x89PNG")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return folder


def test_ingest_json_is_the_contract(fake_archive, corpus):
    """`archivist ingest --json` prints `to_json()`: these keys, in this order, these values."""
    report = fake_archive.add_paths([corpus, corpus / "missing.txt"], collection="g")
    by_title = {a.title: a.id for a in fake_archive.recent(collection="g")}
    budget, ferry = by_title["Council passes budget"], by_title["Ferry service resumes"]
    supported = "unsupported format .png; supported: "
    out = json.loads(json.dumps(report.to_json()))
    assert list(out) == ["added", "duplicates", "failed", "skipped", "near_duplicates"]
    assert out["added"] == [budget, ferry]
    assert out["duplicates"] == [
        {
            "origin": str(corpus / "sub" / "ferry_copy.txt"),
            "title": "Ferry service resumes",
            "existing_id": ferry,
        }
    ]
    assert [list(f) for f in out["failed"]] == [["path", "error"]] * 3
    assert out["failed"][0] == {
        "path": str(corpus / "missing.txt"),
        "error": "no such file or folder",
    }
    assert out["failed"][1] == {"path": str(corpus / "empty.txt"), "error": "the file is empty"}
    assert out["failed"][2]["path"] == str(corpus / "pic.png")
    assert out["failed"][2]["error"].startswith(supported)
    assert out["skipped"] == [
        {"path": str(corpus / ".DS_Store"), "reason": "hidden file, not read"}
    ]


def test_report_entries_are_typed(fake_archive, corpus):
    report = fake_archive.add_paths([corpus], collection="g")
    ferry = next(a for a in report.added if a.title == "Ferry service resumes")
    assert isinstance(ferry, Added) and ferry.origin == str(corpus / "ferry.txt")
    assert report.duplicates == [
        Duplicate(str(corpus / "sub" / "ferry_copy.txt"), "Ferry service resumes", ferry.id)
    ]
    assert report.skipped == [Skipped(str(corpus / ".DS_Store"), "hidden file, not read")]
    assert all(isinstance(f, Failed) for f in report.failed)
    # read by attribute only: the JSON keys are the output's contract, not a second way in
    with pytest.raises(TypeError):
        ferry["title"]


def test_a_read_error_keeps_its_kind_out_of_the_json(fake_archive):
    report = fake_archive.add_bytes("pic.png", b"\x89PNG", collection="g")
    (failed,) = report.failed
    assert failed.kind == "unsupported" and failed.path == "pic.png"
    assert report.to_json()["failed"] == [{"path": "pic.png", "error": failed.error}]


def test_the_failed_parts_of_an_input_keep_their_kind(fake_archive):
    lines = b'{"title": "Ferry", "text": "The ferry sails again."}\n{"title": "No body"}\n'
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("news.jsonl", lines)
        out.writestr("notes", b"no extension to read it by")
        out.writestr("pic.png", b"\x89PNG")
        out.writestr("deep.txt", b"bz", compress_type=zipfile.ZIP_BZIP2)
    report = fake_archive.add_bytes("bundle.zip", bundle.getvalue(), collection="g")
    assert {f.path: f.kind for f in report.failed} == {
        "bundle.zip!news.jsonl:2": "malformed",
        "bundle.zip!notes": "unsupported",
        "bundle.zip!pic.png": "unsupported",
        "bundle.zip!deep.txt": "unsupported",
    }
    assert [a.title for a in report.added] == ["Ferry"]
    assert all(set(f) == {"path", "error"} for f in report.to_json()["failed"])


def test_merged_reports_keep_their_order():
    first = IngestReport(added=[Added("a", "A", "x")], failed=[Failed("p", "bad")])
    first.merge(IngestReport.failure("q", "worse"))
    assert first.to_json() == {
        "added": ["a"],
        "duplicates": [],
        "failed": [{"path": "p", "error": "bad"}, {"path": "q", "error": "worse"}],
        "skipped": [],
        "near_duplicates": [],
    }


def test_stats_json_is_the_contract(fake_archive, corpus):
    fake_archive.add_paths([corpus], collection="g")
    stats = fake_archive.stats(collection="g")
    assert isinstance(stats, ArchiveStats)
    out = json.loads(json.dumps(stats.to_json()))
    assert list(out) == [
        "articles",
        "passages",
        "sources",
        "last_added_at",
        "indexed",
        "index_bytes",
        "db_bytes",
        "model",
    ]
    assert out["articles"] == fake_archive.count(collection="g") == 2
    assert out["passages"] == out["indexed"] == 2 and out["sources"] == 0
    assert out["last_added_at"] == fake_archive.recent(collection="g")[0].added_at
    assert out["index_bytes"] > 0 and out["db_bytes"] > 0 and out["model"] == "hashing-test"
    with pytest.raises(TypeError):  # read by attribute only, as the entries
        stats["articles"]
    assert fake_archive.stats().to_json() == out  # one collection: the same figures


def ingest_over(tmp_path) -> tuple[Ingest, Store, OpenIndexes]:
    store = Store(tmp_path / "archive.db")
    embedder = HashingEmbedder()
    indexes = OpenIndexes(store, tmp_path / "index", embedder)
    return Ingest(store, embedder, indexes, Limits()), store, indexes


def test_one_encode_and_one_transaction_a_batch(tmp_path, monkeypatch):
    ingest, store, indexes = ingest_over(tmp_path)
    encodes, writes = [], []
    encode, insert = ingest.embedder.encode, store.insert_articles
    monkeypatch.setattr(
        ingest.embedder, "encode", lambda texts: encodes.append(texts) or encode(texts)
    )
    monkeypatch.setattr(store, "insert_articles", lambda *a: writes.append(len(a[1])) or insert(*a))
    items = [(f"o{n}", article(n)) for n in range(2 * EMBED_BATCH_ARTICLES + 6)]
    seen: list[tuple[int, int]] = []
    report = ingest.articles(
        items, Destination("g"), lambda done, total: seen.append((done, total))
    )
    assert len(report.added) == len(items) and not report.failed
    assert writes == [EMBED_BATCH_ARTICLES, EMBED_BATCH_ARTICLES, 6] and len(encodes) == 3
    assert seen[0] == (0, len(items)) and seen[-1] == (len(items), len(items))
    assert indexes.checked("g").ntotal == len(items)
    store.close()


def test_duplicates_are_decided_in_the_write_transaction(tmp_path, monkeypatch):
    """Another ingest stores an article while ours embeds it: our write refuses it, reported
    as a duplicate of theirs, and nothing is stored twice."""
    ours, store, indexes = ingest_over(tmp_path)
    theirs, their_store, _ = ingest_over(tmp_path)
    encode = ours.embedder.encode
    done: list[IngestReport] = []

    def meanwhile(texts):
        if not done:
            done.append(theirs.articles([("elsewhere", article(1))], Destination("g")))
        return encode(texts)

    monkeypatch.setattr(ours.embedder, "encode", meanwhile)
    report = ours.articles([("b", article(1)), ("c", article(2))], Destination("g"))
    assert report.duplicates == [Duplicate("b", "Article 1", done[0].added[0].id)]
    assert [a.origin for a in report.added] == ["c"] and not report.failed
    assert store.count_articles("g", None) == 2 and indexes.checked("g").ntotal == 2
    their_store.close()
    store.close()


def test_destination_source_and_author(tmp_path):
    ingest, store, _ = ingest_over(tmp_path)
    report = ingest.articles([("a", article(1))], Destination("g", "Harbour Times", "42"))
    stored = store.get("g", report.added[0].id)
    assert stored is not None and (stored.source, stored.added_by) == ("Harbour Times", "42")
    store.close()


def test_limits_set_on_the_archive_bound_its_ingest(fake_archive):
    """Callers tighten `archive.limits` after building it (the bot from its settings)."""
    fake_archive.limits = dataclasses.replace(Limits(), max_passages_per_article=1)
    paragraphs = tuple(Paragraph(f"Part {n} of it goes on. " * 60) for n in range(3))
    long = Article("Long", paragraphs)
    (failed,) = fake_archive.add_articles([("long", long)], collection="g").failed
    assert failed.path == "long" and "over the limit of 1" in failed.error
    assert fake_archive.count(collection="g") == 0


def test_an_article_stored_by_another_ingest_between_the_first_looks_is_a_duplicate(
    fake_archive, monkeypatch
):
    """The first look asks for the content, then for the id: another ingest storing the same
    article in between must give a duplicate, not "id already used"."""
    article = Article(title="Ferry", paragraphs=(Paragraph("The ferry runs at nine."),))
    first = fake_archive.add_articles([("a", article)], collection="g")
    assert len(first.added) == 1
    real = fake_archive.store.find_duplicate
    looks = iter([None])  # the first content look misses: the other ingest had not committed
    monkeypatch.setattr(
        fake_archive.store,
        "find_duplicate",
        lambda collection, digest: next(looks, real(collection, digest)),
    )
    again = fake_archive.add_articles([("b", article)], collection="g")
    assert again.failed == []
    assert [(d.origin, d.existing_id) for d in again.duplicates] == [("b", first.added[0].id)]

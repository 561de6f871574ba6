"""Keeping the archive whole: invariant checks and repair, export, and consistent backups."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from archivist.errors import ArchivistError
from archivist.store.sqlite import fill_missing_fts

if TYPE_CHECKING:
    from archivist.archive import Archive

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """What `check` found, per collection; `ok` when every invariant holds."""

    problems: list[str] = field(default_factory=list)
    collections: dict[str, dict] = field(default_factory=dict)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "collections": self.collections,
            "repaired": self.repaired,
        }


def check(archive: Archive, repair: bool = False) -> CheckReport:
    """Every passage in SQLite is in FAISS and in FTS and nothing else is; every article has
    passages; every vector has the model's dimension; no article is stored twice."""
    store = archive.store
    report = CheckReport()
    db = store.db
    dim_bytes = archive.embedder.dim * 4
    orphans = db.execute(
        "SELECT a.collection, a.id FROM articles a WHERE NOT EXISTS"
        " (SELECT 1 FROM passages p WHERE p.article = a.pk)"
    ).fetchall()
    for collection, article_id in orphans:
        report.problems.append(f"{collection}: article {article_id} has no passages")
    bad_vectors = db.execute(
        "SELECT count(*) FROM passages WHERE vector IS NULL OR length(vector) != ?", [dim_bytes]
    ).fetchone()[0]
    if bad_vectors:
        report.problems.append(f"{bad_vectors} passages have no vector of {dim_bytes} bytes")
    stray_passages = db.execute(
        "SELECT count(*) FROM passages p"
        " WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.pk = p.article)"
    ).fetchone()[0]
    if stray_passages:
        report.problems.append(f"{stray_passages} passages belong to no article")
    duplicates = db.execute(
        "SELECT count(*) FROM (SELECT collection, content_hash FROM articles"
        " GROUP BY collection, content_hash HAVING count(*) > 1)"
    ).fetchone()[0]
    if duplicates:
        report.problems.append(f"{duplicates} articles are stored more than once")
    all_fts = {r[0] for r in db.execute("SELECT rowid FROM passages_fts")}
    all_passages = {r[0] for r in db.execute("SELECT id FROM passages")}
    fts_extra = sorted(all_fts - all_passages)
    if fts_extra:
        report.problems.append(f"{len(fts_extra)} full-text rows have no passage")

    for collection in sorted(set(store.collections()) | _indexed_collections(archive)):
        stored = store.passage_ids(collection)
        index = archive.index_unchecked(collection)
        indexed = index.ids()
        fts = store.fts_ids(collection)
        missing_index = np.setdiff1d(stored, indexed)
        extra_index = np.setdiff1d(indexed, stored)
        missing_fts = np.setdiff1d(stored, fts)
        report.collections[collection] = {
            "articles": store.count_articles(collection),
            "passages": int(len(stored)),
            "indexed": int(len(indexed)),
            "fts": int(len(fts)),
        }
        if len(missing_index):
            report.problems.append(
                f"{collection}: {len(missing_index)} passages missing from the index"
            )
        if len(extra_index):
            report.problems.append(
                f"{collection}: {len(extra_index)} index entries have no passage"
            )
        if len(missing_fts):
            report.problems.append(
                f"{collection}: {len(missing_fts)} passages missing from full-text search"
            )

    if repair and report.problems:
        _repair(archive, [int(i) for i in fts_extra], bool(orphans))
        report.repaired = True
    return report


def _indexed_collections(archive: Archive) -> set[str]:
    out = set()
    for sidecar in (archive.store_dir / "index").glob("*.json"):
        try:
            out.add(json.loads(sidecar.read_text())["collection"])
        except (OSError, ValueError, KeyError):
            continue
    return out


def _repair(archive: Archive, fts_extra: list[int], has_orphans: bool) -> None:
    store = archive.store
    with store.transaction() as db:
        for rowid in fts_extra:
            db.execute("DELETE FROM passages_fts WHERE rowid = ?", [rowid])
        fill_missing_fts(db)  # with the collection's token: a row without one is never found
        if has_orphans:  # an article without passages cannot be found; it cannot be half-stored
            db.execute(
                "DELETE FROM articles WHERE NOT EXISTS"
                " (SELECT 1 FROM passages p WHERE p.article = articles.pk)"
            )
        db.execute(
            "DELETE FROM passages WHERE NOT EXISTS"
            " (SELECT 1 FROM articles a WHERE a.pk = passages.article)"
        )
    for collection in sorted(set(store.collections()) | _indexed_collections(archive)):
        archive.index_unchecked(collection).rebuild(store)
    log.info("repaired the archive from SQLite")


# -- export ----------------------------------------------------------------------------------
def export_records(archive: Archive, collection: str) -> Iterator[dict]:
    """Articles in the JSON import format; importing them again gives the same archive."""
    store = archive.store
    for article_id in store.article_ids(collection):
        a = store.get(collection, article_id)
        if a is None:  # deleted while exporting
            continue
        record = {
            "id": a.id,
            "title": a.title,
            "source": a.source,
            "date": a.date,
            "url": a.url,
            "category": a.category,
            "agency": a.agency,
            "paragraphs": [
                {"text": p.text, "heading": p.heading} if p.heading else p.text for p in a.passages
            ],
        }
        yield {k: v for k, v in record.items() if v is not None}


def export_jsonl(archive: Archive, collection: str, out: TextIO) -> int:
    count = 0
    for record in export_records(archive, collection):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


# -- backup ----------------------------------------------------------------------------------
def backup(archive: Archive, destination: Path) -> Path:
    """A consistent copy while the archive is in use: `VACUUM INTO` plus the index files.

    The copied indexes may trail the database by the writes in flight; they are reconciled
    against it when the backup is opened.
    """
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise ArchivistError(f"{destination} is not empty; back up into a new folder")
    target = destination / "store"
    (target / "index").mkdir(parents=True, exist_ok=True)
    archive.store.db.execute("VACUUM INTO ?", [str(target / "archive.db")])
    for path in (archive.store_dir / "index").glob("*"):
        if path.suffix in (".faiss", ".json"):
            shutil.copy2(path, target / "index" / path.name)
    return destination

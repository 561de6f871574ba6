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
from archivist.index_cache import IndexCache
from archivist.store import Store

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
    """Every passage is in the vector index and in the full text and nothing else is; every
    article has passages; every vector has the model's dimension; no article is stored twice.

    The same on either store: the questions are the store's (`store.integrity` for SQLite,
    `pg_reads` for PostgreSQL), and the index is FAISS's files on SQLite, the vector column
    on PostgreSQL (every passage's vector, of the model's dimension)."""
    store = archive.store
    report = CheckReport()
    dim = archive.embedder.dim
    orphans = store.orphan_articles()
    for collection, article_id in orphans:
        report.problems.append(f"{collection}: article {article_id} has no passages")
    counted = (
        (store.count_bad_vectors(dim), f"passages have no vector of {dim} dimensions"),
        (store.count_stray_passages(), "passages belong to no article"),
        (store.count_duplicate_articles(), "articles are stored more than once"),
        (store.count_stray_fts(), "full-text rows have no passage"),
        (store.count_fts_drift(), "full-text term counts disagree with the passages"),
    )
    report.problems += [f"{n} {what}" for n, what in counted if n]

    for collection in _collections(archive):
        stored = store.passage_ids(collection)
        indexed = _indexed_ids(archive, collection)
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
        _repair(archive)
        report.repaired = True
    return report


def _has_index_files(archive: Archive) -> bool:
    """FAISS files (SQLite's, or PostgreSQL's `faiss` mode, each process's cache of the
    database's vectors); else the store is its own index (PostgreSQL's HNSW or scan)."""
    return isinstance(archive.indexes, IndexCache)


def _collections(archive: Archive) -> list[str]:
    """The stored collections, and those with an index file (left by a deleted one)."""
    names = set(archive.store.collections())
    if isinstance(archive.indexes, IndexCache):
        for sidecar in archive.indexes.directory.glob("*.json"):
            try:
                names.add(json.loads(sidecar.read_text())["collection"])
            except (OSError, ValueError, KeyError):
                continue
    return sorted(names)


def _indexed_ids(archive: Archive, collection: str) -> np.ndarray:
    if _has_index_files(archive):
        return archive.index_unchecked(collection).ids()
    return archive.store.vector_ids(collection, archive.embedder.dim)


def _repair(archive: Archive) -> None:
    archive.store.repair_integrity()
    if _has_index_files(archive):
        for collection in _collections(archive):
            archive.index_unchecked(collection).rebuild(archive.store)
    log.info("repaired the archive from its store")


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
    """A consistent copy while the archive is in use: `VACUUM INTO` plus the index files
    (SQLite only: a PostgreSQL archive is the database's to back up).

    The copied indexes may trail the database by the writes in flight; they are reconciled
    against it when the backup is opened.
    """
    if not isinstance(archive.store, Store):  # PostgreSQL, with FAISS files or without
        raise ArchivistError(
            "backup copies a SQLite archive; a PostgreSQL one is backed up by the database"
            " (pg_dump), or copied into a data folder by migrate"
        )
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

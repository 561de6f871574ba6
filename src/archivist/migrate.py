"""Copying an archive into another store: a data folder (SQLite + FAISS) into PostgreSQL, or
back (`archivist migrate`).

Everything the store holds is copied as stored: articles with their ids, dates, sources, urls
and provenance; passages with their vectors and analyses (nothing is embedded again); feeds with
the items they met; server settings, votes, the question log and meta. Articles go through the
target's `insert_articles`, a batch a transaction, so its full text, term counts and
generations stay right; an article the target already holds (the same text) is skipped, so a
copy that was stopped is finished by running it again. At the end the target's indexes are
built from the copied vectors, `maintenance.check` runs on it, and every collection's article
and passage counts are compared with the source's.

Not copied: generations (each store counts its own writes) and what a store derives itself
(the full text, PostgreSQL's term counts, the FAISS files).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from archivist.archive import DB_NAME, Archive
from archivist.config import DATABASE_SCHEMES, Limits
from archivist.errors import ArchivistError
from archivist.maintenance import CheckReport, check
from archivist.migrate_tables import (
    IN_LIST,
    TABLES,
    ArticleRow,
    article_rows,
    copy_feeds,
    copy_table,
    held_hashes,
    passage_ids_of,
    slices,
)
from archivist.models import Article, Paragraph, Passage
from archivist.store import NewArticle, Store
from archivist.store.pg_connection import connect_plain, first_line, redacted
from archivist.store.postgres import PostgresStore

DEFAULT_BATCH = 200


class MigrateError(ArchivistError):
    """A migration refused before copying anything (or a copy that does not add up)."""


# ---- where ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where an archive lives: a data folder (SQLite) or a postgresql:// URL."""

    text: str

    @property
    def url(self) -> str | None:
        return self.text if self.text.startswith(DATABASE_SCHEMES) else None

    @property
    def folder(self) -> Path:
        return Path(self.text)

    @property
    def db_file(self) -> Path:
        return self.folder / "store" / DB_NAME

    def __str__(self) -> str:  # a URL is shown (in errors, progress, JSON) without its password
        return redacted(self.text) if self.url else self.text


def _pg_identity(url: str) -> Any:
    """What names one database whatever the spelling of its URL (the password aside)."""
    try:
        from psycopg import Error
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return redacted(url)
    try:
        return {k: v for k, v in conninfo_to_dict(url).items() if k != "password"}
    except Error:
        return redacted(url)


def same_place(a: Location, b: Location) -> bool:
    if a.url and b.url:
        return bool(_pg_identity(a.url) == _pg_identity(b.url))
    if a.url or b.url:
        return False
    return a.folder.resolve() == b.folder.resolve()


# ---- what is there (read without creating or migrating anything) ---------------------------


def _sqlite_meta(where: Location) -> dict[str, str] | None:
    """The archive's meta; None when there is no store file, {} for a database without it."""
    if not where.db_file.is_file():
        return None
    try:
        with closing(sqlite3.connect(where.db_file, timeout=30)) as conn:
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return {}
        raise MigrateError(f"{where} is not an archive ({first_line(exc)})") from None


def _pg_meta(where: Location, url: str) -> dict[str, str]:
    """The database's archive meta ({} for a database that holds no archive)."""
    conn = connect_plain(url, connect_timeout=15)
    import psycopg  # present: connect_plain checked

    with conn:
        try:
            found = conn.execute("SELECT to_regclass('meta')").fetchone()
            if found is None or found[0] is None:
                return {}
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except psycopg.Error as exc:
            raise MigrateError(f"{where} is not an archive ({first_line(exc)})") from None


def _model(meta: dict[str, str] | None) -> tuple[str, int] | None:
    if not meta or "embedder" not in meta:
        return None
    return meta["embedder"], int(meta.get("dim") or 0)


class StoredModel:
    """The source's model as its meta names it, in place of an `Embedder`: a migration copies
    the stored vectors and embeds nothing, so the model need not be on this machine."""

    def __init__(self, name: str, dim: int) -> None:
        self.name = name
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise MigrateError("a migration copies stored vectors; it has no model to embed with")

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def _open_source(where: Location) -> tuple[Store, str, int]:
    if where.url is None and not where.folder.exists():
        raise MigrateError(f"{where} does not exist")
    meta = _pg_meta(where, where.url) if where.url else _sqlite_meta(where)
    model = _model(meta)
    if model is None:
        held = "no archive" if where.url else f"no archive (no {where.db_file} with its model)"
        raise MigrateError(f"{where} is not an archive: it holds {held}")
    name, dim = model
    if where.url:
        # no vector index built on a source only read (`pg_index.VECTOR_INDEX_ENV`)
        return cast("Store", PostgresStore(where.url, dim, hnsw=False)), name, dim
    try:
        return Store(where.db_file), name, dim
    except sqlite3.DatabaseError as exc:
        raise MigrateError(f"{where} is not an archive ({first_line(exc)})") from None


def _open_target(where: Location, model: tuple[str, int]) -> Store:
    """The target's store for the copy, its model recorded first (a stopped copy is known by
    it). A database gets no vector index yet: pgvector builds one faster over the loaded rows
    than row by row; the `Archive` opened to verify the copy makes it."""
    if where.url is None and where.folder.exists() and not where.folder.is_dir():
        raise MigrateError(f"{where} is a file, not a data folder")
    held = _model(_pg_meta(where, where.url) if where.url else _sqlite_meta(where))
    if held is not None and held != model:
        raise MigrateError(
            f"{where} holds vectors of {held[0]} ({held[1]} dimensions), not of the source's "
            f"{model[0]} ({model[1]}): migrate into a new archive"
        )
    name, dim = model
    if where.url:
        store = cast("Store", PostgresStore(where.url, dim, hnsw=False))
    else:
        store = Store(where.db_file)
    if held is None:  # as `Archive` records its model in a new archive
        store.set_meta("embedder", name)
        store.set_meta("dim", str(dim))
    return store


def _open_archive(
    where: Location, model: tuple[str, int], limits: Limits | None, scratch: Path
) -> Archive:
    # a database's archive gets an empty folder: `check` would count a data folder's indexes
    folder = scratch if where.url else where.folder
    return Archive(folder, embedder=StoredModel(*model), limits=limits, database_url=where.url)


# ---- progress and the report ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A step done: a batch of a collection's articles, a table, or a collection's index."""

    part: str  # "articles of <collection>", a table's name, or "indexes"
    done: int
    total: int
    copied: int | None = None  # None: a step that copies nothing (an index built, checked)
    skipped: int = 0

    def line(self) -> str:
        done = f"{self.part}: {self.done}/{self.total}"
        if self.copied is None:
            return done
        return f"{done} ({self.copied} copied, {self.skipped} already there)"


Progress = Callable[[Step], None]


@dataclass
class MigrateReport:
    """What a migration copied and what the target holds after it; `ok` when the check and
    every collection's counts agree."""

    source: str
    target: str
    collections: dict[str, dict[str, int]] = field(default_factory=dict)  # the target's counts
    copied: int = 0  # articles
    skipped: int = 0  # articles the target held already
    tables: dict[str, int] = field(default_factory=dict)  # other tables: rows copied
    check: CheckReport = field(default_factory=CheckReport)

    @property
    def ok(self) -> bool:
        return self.check.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "collections": self.collections,
            "copied": self.copied,
            "skipped": self.skipped,
            "tables": self.tables,
            "check": self.check.to_json(),
        }


# ---- articles ------------------------------------------------------------------------------


def new_articles(
    source: Store, collection: str, rows: Sequence[ArticleRow], dim: int
) -> list[NewArticle]:
    """`rows` as the target's `insert_articles` takes them: stored vectors, stored analyses."""
    by_article = passage_ids_of(source, collection, [r.pk for r in rows])
    ids = [pid for r in rows for pid in by_article.get(r.pk, [])]
    passages = source.passages_by_ids(ids, collection)
    vectors = source.vectors_by_ids(ids, dim, collection)
    out = []
    for r in rows:
        own = [passages[pid] for pid in by_article.get(r.pk, [])]
        paragraphs = tuple(Paragraph(p.text, p.heading) for p in own)
        article = Article(r.title, paragraphs, r.source, r.date, r.url, r.category, r.agency, r.id)
        out.append(
            NewArticle(
                article=article,
                article_id=r.id,
                content_hash=r.content_hash,  # as the source made it (its normalisation then)
                passages=[Passage(p.position, p.text, p.heading) for p in own],
                vectors=np.stack([vectors[p.id] for p in own])
                if own
                else np.zeros((0, dim), np.float32),
                origin=f"{collection}/{r.id}",
                # a passage stored before analyses were kept stays without one (analysed when
                # asked, as in the source); the stores take None in the list
                stems=cast("Sequence[str]", [p.stems for p in own]),
            )
        )
    return out


def _restore_provenance(target: Store, collection: str, rows: Sequence[ArticleRow]) -> None:
    """`insert_articles` stamps its own time and one adder a batch: put back the source's.
    Every row of the batch, not only those stored now: a copy stopped between the two
    transactions is put right by the next run."""
    with target.transaction() as db:
        # one statement a slice, not one a row: a round trip costs ~3 ms to PostgreSQL here.
        # Both engines name a VALUES list's columns column1, column2, ...
        for part in slices(rows, IN_LIST // 4):
            db.execute(
                "UPDATE articles SET added_at = v.column3, added_by = v.column4"
                f" FROM (VALUES {', '.join(['(?, ?, ?, ?)'] * len(part))}) AS v"
                " WHERE articles.collection = ? AND articles.id = v.column1"
                " AND articles.content_hash = v.column2",
                [
                    *(x for r in part for x in (r.id, r.content_hash, r.added_at, r.added_by)),
                    collection,
                ],
            )


def _copy_articles(
    source: Store,
    target: Store,
    collection: str,
    dim: int,
    batch: int,
    report: MigrateReport,
    progress: Progress,
) -> None:
    total = source.count_articles(collection)
    done = copied = skipped = 0
    after = -1
    while rows := article_rows(source, collection, after, batch):
        after = rows[-1].pk
        held = held_hashes(target, collection, [r.content_hash for r in rows])
        fresh = [r for r in rows if r.content_hash not in held]
        skipped += len(rows) - len(fresh)
        if fresh:
            items = new_articles(source, collection, fresh, dim)
            inserted = target.insert_articles(collection, items, None)
            copied += len(inserted.stored)
            skipped += len(inserted.duplicates)  # stored by someone else meanwhile
            report.check.problems += [
                f"{collection}: article {item.article_id} is another article in the target"
                for item in inserted.taken
            ]
        _restore_provenance(target, collection, rows)
        done += len(rows)
        progress(Step(f"articles of {collection}", done, total, copied, skipped))
    report.copied += copied
    report.skipped += skipped


# ---- the whole ---------------------------------------------------------------------------


def _verify(
    source: Store,
    archive: Archive,
    collections: list[str],
    report: MigrateReport,
    progress: Progress,
) -> None:
    """Indexes from the copied vectors, `check`, and the counts of each collection compared."""
    for done, collection in enumerate(collections, 1):
        archive.checked_index(collection)  # a missing FAISS file is built from the store
        progress(Step("indexes", done, len(collections)))
    found = check(archive)
    found.problems = report.check.problems + found.problems
    report.check = found
    target = archive.store
    for collection in collections:
        want = (source.count_articles(collection), source.count_passages(collection))
        got = (target.count_articles(collection), target.count_passages(collection))
        report.collections[collection] = {"articles": got[0], "passages": got[1]}
        if got != want:
            report.check.problems.append(
                f"{collection}: the source holds {want[0]} articles and {want[1]} passages,"
                f" the target {got[0]} and {got[1]}"
            )


def _copy(
    source: Store, target: Store, dim: int, batch: int, report: MigrateReport, progress: Progress
) -> None:
    for collection in sorted(source.collections()):
        _copy_articles(source, target, collection, dim, batch, report, progress)
    feeds, items = copy_feeds(source, target, batch)
    for name, copied in (("feeds", feeds), ("feed_items", items)):
        report.tables[name] = copied
        progress(Step(name, copied, copied, copied, 0))
    for table in TABLES:
        copied = report.tables[table[0]] = copy_table(source, target, table, batch)
        progress(Step(table[0], copied, copied, copied, 0))


def migrate(
    source: str,
    target: str,
    *,
    batch: int = DEFAULT_BATCH,
    limits: Limits | None = None,
    progress: Progress | None = None,
) -> MigrateReport:
    """Copy the archive at `source` into `target` (each a data folder or a postgresql:// URL)
    and verify it; run again after an interruption to finish the copy. Refuses, before
    writing anything, the same archive twice, a source that is no archive, a target embedded
    with another model, and a database that cannot be reached."""
    src, dst = Location(str(source).strip()), Location(str(target).strip())
    if not src.text or not dst.text:
        raise MigrateError("migrate needs a --from and a --to (a data folder or postgresql://)")
    if same_place(src, dst):
        raise MigrateError(f"--from and --to both name {src}: there is nothing to copy")
    if batch < 1:
        raise MigrateError(f"a batch holds at least one article, not {batch}")
    report = MigrateReport(str(src), str(dst))
    step = progress or (lambda done: None)
    reader, name, dim = _open_source(src)
    try:
        writer = _open_target(dst, (name, dim))
        try:
            _copy(reader, writer, dim, batch, report, step)
        finally:
            writer.close()
        with tempfile.TemporaryDirectory(prefix="archivist-migrate-") as scratch:
            archive = _open_archive(dst, (name, dim), limits, Path(scratch))
            try:
                _verify(reader, archive, sorted(reader.collections()), report, step)
            finally:
                archive.close()
    finally:
        reader.close()
    return report

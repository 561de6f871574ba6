"""`Archive`: the one object the CLI and the bot use (add, delete, recent, get, ask, stats)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from archivist import readers
from archivist.chunking import chunk_article, embed_text
from archivist.community import Feedback, Insights, ServerSettings, ServerSettingsTable
from archivist.config import Limits
from archivist.embedding import Embedder, default_embedder
from archivist.errors import ArchivistError, ArticleNotFound, ConfigError, ReadError
from archivist.index import VectorIndex
from archivist.models import AddReport, Answer, Article, ReadResult, StoredArticle
from archivist.ranking import ANALYSIS_VERSION, Ranker, SearchConfig, validate_question
from archivist.ranking import stored_analysis as passage_stems
from archivist.store import (
    ArticleHint,
    Inserted,
    NewArticle,
    SourceCount,
    Store,
    content_hash,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
DB_NAME = "archive.db"
EMBED_BATCH_ARTICLES = 32
MAX_K = 50
SUGGEST_MAX = 25  # Discord offers at most 25 choices; nobody reads further down a list
SUGGEST_TEXT_MAX = 200


class Archive:
    """Articles of many collections (Discord servers); every call names its collection."""

    def __init__(
        self,
        data_dir: str | Path,
        embedder: Embedder | None = None,
        limits: Limits | None = None,
        search_config: SearchConfig | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.store_dir = self.data_dir / "store"
        self.limits = limits or Limits()
        self.embedder = embedder or default_embedder()
        self.store = Store(self.store_dir / DB_NAME)
        self._indexes: dict[str, VectorIndex] = {}
        self._index_lock = threading.RLock()
        self._synced: dict[str, int] = {}  # collection -> store generation its index reflects
        self.ranker = Ranker(
            self.store, self.checked_index, self.embedder, search_config or SearchConfig()
        )
        self.settings_table = ServerSettingsTable(self.store)
        self.feedback = Feedback(self.store, self.settings_table)
        self._check_embedder()

    # -- set-up ------------------------------------------------------------------------------
    def _check_embedder(self) -> None:
        name, dim = self.store.get_meta("embedder"), self.store.get_meta("dim")
        if name is None:
            self.store.set_meta("embedder", self.embedder.name)
            self.store.set_meta("dim", str(self.embedder.dim))
        elif name != self.embedder.name or int(dim or 0) != self.embedder.dim:
            raise ConfigError(
                f"this archive was embedded with {name} ({dim} dimensions), not "
                f"{self.embedder.name}; use a new --data-dir"
            )

    def checked_index(self, collection: str) -> VectorIndex:
        """The collection's FAISS index, checked against the store on first use and again
        whenever another process (or another Archive) has written to the collection: that
        check may repair or rebuild it from the stored vectors (minutes at a million)."""
        with self._index_lock:
            generation = self.store.generation(collection)
            index = self._indexes.get(collection)
            if index is None:
                index = VectorIndex(
                    self.store_dir / "index", collection, self.embedder.dim, self.embedder.name
                )
                action = index.open(self.store)
                log.debug("index %r: %s", collection, action)
                self._indexes[collection] = index
                self._synced[collection] = generation
            elif self._synced.get(collection) != generation:
                log.info("collection %r changed elsewhere: reconciling its index", collection)
                index.open(self.store)
                self._synced[collection] = generation
            return index

    def index_unchecked(self, collection: str) -> VectorIndex:
        """The index as loaded, for `check` (which must see a damaged one as it is)."""
        with self._index_lock:
            index = self._indexes.get(collection)
            if index is None:
                index = VectorIndex(
                    self.store_dir / "index", collection, self.embedder.dim, self.embedder.name
                )
                index.load_only()
            return index

    def _note_write(self, collection: str, generations: tuple[int, int]) -> None:
        """After our own write: stay in sync unless someone else wrote in between."""
        before, after = generations
        with self._index_lock:
            if self._synced.get(collection) == before:
                self._synced[collection] = after

    def open_all_indexes(self) -> None:
        """Check every collection's index against the store now (at start) rather than lazily."""
        for collection in self.store.collections():
            self.checked_index(collection)

    def close(self) -> None:
        self.ranker.close()
        with self._index_lock:
            for index in self._indexes.values():
                if index.dirty:
                    index.save()
        self.store.close()

    # -- adding ------------------------------------------------------------------------------
    def add_paths(
        self,
        paths: Iterable[str | Path],
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> AddReport:
        """Files and folders (recursively). Unreadable inputs are reported, the rest stored."""
        report = AddReport()
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                found: list[Path] = []
                hidden: list[Path] = []
                for p in sorted(path.rglob("*")):
                    if not p.is_file():
                        continue
                    if any(part.startswith(".") for part in p.relative_to(path).parts):
                        hidden.append(p)  # .DS_Store, .git/...: reported, not read
                    else:
                        found.append(p)
                files.extend(found)
                report.skipped.extend(
                    {"path": str(p), "reason": "hidden file, not read"} for p in hidden
                )
                if not found:
                    error = (
                        f"the folder has only hidden files ({len(hidden)}, listed as skipped)"
                        if hidden
                        else "the folder has no files"
                    )
                    report.failed.append({"path": str(path), "error": error})
            elif path.exists():
                files.append(path)
            else:
                report.failed.append({"path": str(path), "error": "no such file or folder"})
        result = ReadResult()
        for path in files:
            try:
                result.extend(readers.read_path(path, self.limits))
            except ReadError as exc:
                report.failed.append({"path": exc.origin, "error": exc.reason})
        report.merge(
            self.add_read(
                result, collection=collection, source=source, added_by=added_by, progress=progress
            )
        )
        return report

    def add_bytes(
        self,
        name: str,
        data: bytes,
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> AddReport:
        try:
            result = readers.read_bytes(name, data, self.limits)
        except ReadError as exc:
            return AddReport(failed=[{"path": exc.origin, "error": exc.reason}])
        return self.add_read(
            result, collection=collection, source=source, added_by=added_by, progress=progress
        )

    def add_read(
        self,
        result: ReadResult,
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> AddReport:
        """Store what a reader produced; its failures lead the report (nothing is dropped)."""
        report = self.add_articles(
            result.articles,
            collection=collection,
            source=source,
            added_by=added_by,
            progress=progress,
        )
        report.failed[:0] = [{"path": f.origin, "error": f.error} for f in result.failures]
        report.skipped[:0] = [{"path": f.origin, "reason": f.error} for f in result.skipped]
        return report

    def add_articles(
        self,
        items: Sequence[tuple[str, Article]],
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> AddReport:
        """Chunk, embed and store articles; each batch is one transaction."""
        report = AddReport()
        total = len(items)
        pending = self._not_yet_stored(items, collection, source, report)
        if progress:
            progress(total - len(pending), total)
        index = self.checked_index(collection)
        try:
            for start in range(0, len(pending), EMBED_BATCH_ARTICLES):
                batch = self._embedded(pending[start : start + EMBED_BATCH_ARTICLES], report)
                inserted = self.store.insert_articles(collection, batch, added_by)
                for item, ids in inserted.stored:
                    index.add(np.array(ids, dtype=np.int64), item.vectors)
                    report.added.append(
                        {"id": item.article_id, "title": item.article.title, "origin": item.origin}
                    )
                _report_clashes(report, inserted)
                self._note_write(collection, inserted.generations)
                index.checkpoint(interim=True)
                if progress:
                    progress(min(total, total - len(pending) + start + EMBED_BATCH_ARTICLES), total)
        finally:
            index.checkpoint()  # saves when due; retypes the index when its size calls for it
        return report

    def _not_yet_stored(
        self,
        items: Sequence[tuple[str, Article]],
        collection: str,
        source: str | None,
        report: AddReport,
    ) -> list[tuple[str, Article, str, str]]:
        """(origin, article, id, content hash) of the articles worth embedding; the others are
        reported. Only a cheap first look that spares embedding known articles: another ingest
        may store the same ones meanwhile, and `Store.insert_articles` decides."""
        seen_hashes: dict[str, str] = {}
        seen_ids: set[str] = set()
        pending: list[tuple[str, Article, str, str]] = []
        for origin, article in items:
            if source:
                article = _with_source(article, source)
            digest = content_hash(article)
            existing = self.store.find_duplicate(collection, digest) or seen_hashes.get(digest)
            if existing:
                report.duplicates.append(
                    {"origin": origin, "title": article.title, "existing_id": existing}
                )
                continue
            article_id = article.id or digest[:12]
            if article_id in seen_ids or self.store.id_taken(collection, article_id):
                report.failed.append(_id_taken(origin, article_id))
                continue
            seen_hashes[digest] = article_id
            seen_ids.add(article_id)
            pending.append((origin, article, article_id, digest))
        return pending

    def _embedded(
        self, pending: Sequence[tuple[str, Article, str, str]], report: AddReport
    ) -> list[NewArticle]:
        """The articles chunked and embedded, ready to store; those without text or with too
        many passages are reported."""
        chunked = []
        for origin, article, article_id, digest in pending:
            passages = chunk_article(article, self.embedder.count_tokens)
            if not passages:
                report.failed.append({"path": origin, "error": "the article has no text"})
                continue
            if len(passages) > self.limits.max_passages_per_article:
                report.failed.append(
                    {
                        "path": origin,
                        "error": (
                            f"the article is too long: {len(passages):,} passages, "
                            f"over the limit of {self.limits.max_passages_per_article:,}"
                        ),
                    }
                )
                continue
            chunked.append((origin, article, article_id, digest, passages))
        texts = [
            embed_text(article.title, p.heading, p.text)
            for _, article, _, _, passages in chunked
            for p in passages
        ]
        vectors = self.embedder.encode(texts)
        batch: list[NewArticle] = []
        offset = 0
        for origin, article, article_id, digest, passages in chunked:
            batch.append(
                NewArticle(
                    article,
                    article_id,
                    digest,
                    passages,
                    vectors[offset : offset + len(passages)],
                    origin,
                    [passage_stems(p.text) for p in passages],
                )
            )
            offset += len(passages)
        return batch

    # -- removing ----------------------------------------------------------------------------
    def delete(self, article_id: str, *, collection: str) -> StoredArticle:
        article = self.get(article_id, collection=collection)
        index = self.checked_index(collection)
        deleted = self.store.delete_article(collection, article_id)
        if deleted is None:
            raise ArticleNotFound(article_id)
        ids, generations = deleted
        index.remove(ids)
        self._note_write(collection, generations)
        index.checkpoint()
        return article

    # -- reading -----------------------------------------------------------------------------
    def recent(
        self, *, collection: str, limit: int = 10, offset: int = 0, source: str | None = None
    ) -> list[StoredArticle]:
        return self.store.recent(collection, max(0, limit), max(0, offset), source)

    def count(self, *, collection: str, source: str | None = None) -> int:
        return self.store.count_articles(collection, source)

    def suggest_articles(
        self, collection: str, text: str = "", limit: int = SUGGEST_MAX
    ) -> list[ArticleHint]:
        """Articles a member may mean while typing: by id prefix or by the start of title words,
        newest first (the newest articles when nothing is typed yet)."""
        limit = max(0, min(limit, SUGGEST_MAX))
        return self.store.suggest_articles(collection, text[:SUGGEST_TEXT_MAX], limit)

    def sources(
        self, collection: str, prefix: str = "", limit: int = SUGGEST_MAX
    ) -> list[SourceCount]:
        """The collection's sources, those with the most articles first."""
        limit = max(0, min(limit, SUGGEST_MAX))
        return self.store.sources(collection, prefix[:SUGGEST_TEXT_MAX], limit)

    def get(self, article_id: str, *, collection: str) -> StoredArticle:
        article = self.store.get(collection, article_id)
        if article is None:
            raise ArticleNotFound(article_id)
        return article

    def analyse_stored(self, batch: int = 5_000) -> int:
        """Store the ranking's analysis of passages stored without one (before migration 4) or
        with an older one; returns how many. Asking works without it, only slower
        (`search.passage_stems`)."""
        done = 0
        while rows := self.store.unanalysed(batch, ANALYSIS_VERSION):
            self.store.set_stems([(pid, passage_stems(text)) for pid, text in rows])
            done += len(rows)
        return done

    def stats(self, *, collection: str | None = None) -> dict:
        stats = self.store.stats(collection)
        collections = [collection] if collection else self.store.collections()
        indexes = [self.checked_index(c) for c in collections]
        stats["indexed"] = sum(i.ntotal for i in indexes)
        stats["index_bytes"] = sum(i.file_bytes() for i in indexes)
        stats["db_bytes"] = sum(
            p.stat().st_size for p in self.store_dir.glob(DB_NAME + "*") if p.is_file()
        )
        stats["model"] = self.embedder.name
        return stats

    # -- members: votes, the question log, server settings (`community`) -------------------
    def record_vote(self, collection: str, answer_id: str, member_id: str, vote: int) -> int | None:
        """A member's +1 or -1 on an answer (one per member, changeable); the earlier vote."""
        return self.feedback.record_vote(collection, answer_id, member_id, vote)

    def log_question(
        self, collection: str, question: str, *, answered: bool, answer_id: str | None = None
    ) -> str:
        """The answer's id for its vote buttons; the question is kept while logging is on."""
        return self.feedback.log_question(
            collection, question, answered=answered, answer_id=answer_id
        )

    def insights(self, collection: str, days: int = 30) -> Insights:
        """Questions not answered or voted down, most asked first; shares answered and liked."""
        return self.feedback.insights(collection, days)

    def clear_insights(self, collection: str) -> int:
        """Forget the collection's logged questions and votes; how many rows went."""
        return self.feedback.clear(collection)

    def server_settings(self, collection: str) -> ServerSettings:
        return self.settings_table.get(collection)

    def update_server_settings(self, collection: str, **changes: Any) -> ServerSettings:
        """Change the named settings (`community.SETTING_NAMES`); all of them as stored."""
        return self.settings_table.update(collection, **changes)

    # -- asking ------------------------------------------------------------------------------
    @property
    def search_config(self) -> SearchConfig:
        return self.ranker.config

    @search_config.setter
    def search_config(self, config: SearchConfig) -> None:
        self.ranker.config = config

    def ask(
        self,
        question: str,
        k: int = 5,
        *,
        collection: str,
        source: str | None = None,
        since: str | None = None,
        offset: int = 0,
    ) -> Answer:
        """The passages that best answer `question`, with `answered` false when none is close."""
        question = validate_question(question, self.limits.max_question_chars)
        k = max(1, min(int(k), MAX_K))
        offset = max(0, int(offset))
        retrieval = self.ranker.retrieve(
            question, collection, source=source, since=since, depth=k + offset
        )
        return self.ranker.answer(retrieval, k, offset)


def _with_source(article: Article, source: str) -> Article:
    return replace(article, source=source)


def _id_taken(origin: str, article_id: str) -> dict:
    return {"path": origin, "error": f"id {article_id!r} is already used by another article"}


def _report_clashes(report: AddReport, inserted: Inserted) -> None:
    """Articles another ingest stored, or whose id it took, after our first look."""
    report.duplicates.extend(
        {"origin": item.origin, "title": item.article.title, "existing_id": existing}
        for item, existing in inserted.duplicates
    )
    report.failed.extend(_id_taken(item.origin, item.article_id) for item in inserted.taken)


__all__ = ["Archive", "ArchivistError"]

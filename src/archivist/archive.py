"""`Archive`: the one object the CLI and the bot use (add, delete, recent, get, ask, stats)."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from archivist import readers
from archivist.chunking import chunk_article, embed_text, split_sentences
from archivist.config import Limits
from archivist.embedding import Embedder, default_embedder
from archivist.errors import ArchivistError, ArticleNotFound, ConfigError, ReadError
from archivist.index import VectorIndex
from archivist.models import AddReport, Answer, Article, ReadResult, StoredArticle
from archivist.search import (
    SearchConfig,
    best_sentence,
    build_answer,
    fts_query,
    make_hit,
    rrf_fuse,
    validate_question,
)
from archivist.store import NewArticle, Store, content_hash

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
DB_NAME = "archive.db"
EMBED_BATCH_ARTICLES = 32
MAX_K = 50


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
        self.search_config = search_config or SearchConfig()
        self.embedder = embedder or default_embedder()
        self.store = Store(self.store_dir / DB_NAME)
        self._indexes: dict[str, VectorIndex] = {}
        self._index_lock = threading.RLock()
        self._synced: dict[str, int] = {}  # collection -> store generation its index reflects
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

    def index(self, collection: str) -> VectorIndex:
        """The collection's FAISS index, checked against the store on first use and again
        whenever another process (or another Archive) has written to the collection."""
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
            self.index(collection)

    def close(self) -> None:
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
                found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
                files.extend(found)
                if not found:
                    report.failed.append({"path": str(path), "error": "the folder has no files"})
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
        report.merge(self._store_read(result, collection, source, added_by, progress))
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
        return self._store_read(result, collection, source, added_by, progress)

    def _store_read(self, result, collection, source, added_by, progress) -> AddReport:
        report = self.add_articles(
            result.articles, collection=collection, source=source, added_by=added_by,
            progress=progress,
        )
        report.failed[:0] = [{"path": f.origin, "error": f.error} for f in result.failures]
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
        batch: list[NewArticle] = []
        seen_hashes: dict[str, str] = {}
        seen_ids: set[str] = set()
        total = len(items)
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
                report.failed.append({
                    "path": origin,
                    "error": f"id {article_id!r} is already used by another article",
                })
                continue
            seen_hashes[digest] = article_id
            seen_ids.add(article_id)
            pending.append((origin, article, article_id, digest))

        done = total - len(pending)
        if progress:
            progress(done, total)
        index = self.index(collection)
        try:
            for start in range(0, len(pending), EMBED_BATCH_ARTICLES):
                batch = []
                chunked = []
                for origin, article, article_id, digest in pending[start : start + EMBED_BATCH_ARTICLES]:
                    passages = chunk_article(article, self.embedder.count_tokens)
                    if not passages:
                        report.failed.append({"path": origin, "error": "the article has no text"})
                        continue
                    if len(passages) > self.limits.max_passages_per_article:
                        report.failed.append({"path": origin, "error": (
                            f"the article is too long: {len(passages):,} passages, over the "
                            f"limit of {self.limits.max_passages_per_article:,}")})
                        continue
                    chunked.append((origin, article, article_id, digest, passages))
                texts = [
                    embed_text(article.title, p.heading, p.text)
                    for _, article, _, _, passages in chunked
                    for p in passages
                ]
                vectors = self.embedder.encode(texts)
                offset = 0
                for origin, article, article_id, digest, passages in chunked:
                    batch.append(NewArticle(article, article_id, digest, passages,
                                            vectors[offset : offset + len(passages)], origin))
                    offset += len(passages)
                stored, generations = self.store.insert_articles(collection, batch, added_by)
                for item, ids in stored:
                    index.add(np.array(ids, dtype=np.int64), item.vectors)
                    report.added.append(
                        {"id": item.article_id, "title": item.article.title, "origin": item.origin}
                    )
                self._note_write(collection, generations)
                index.checkpoint(interim=True)
                done = min(total, total - len(pending) + start + EMBED_BATCH_ARTICLES)
                if progress:
                    progress(done, total)
        finally:
            index.checkpoint()  # saves when due; retypes the index when its size calls for it
        return report

    # -- removing ----------------------------------------------------------------------------
    def delete(self, article_id: str, *, collection: str) -> StoredArticle:
        article = self.get(article_id, collection=collection)
        index = self.index(collection)
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

    def get(self, article_id: str, *, collection: str) -> StoredArticle:
        article = self.store.get(collection, article_id)
        if article is None:
            raise ArticleNotFound(article_id)
        return article

    def stats(self, *, collection: str | None = None) -> dict:
        stats = self.store.stats(collection)
        collections = [collection] if collection else self.store.collections()
        indexes = [self.index(c) for c in collections]
        stats["indexed"] = sum(i.ntotal for i in indexes)
        stats["index_bytes"] = sum(i.file_bytes() for i in indexes)
        stats["db_bytes"] = sum(
            p.stat().st_size for p in self.store_dir.glob(DB_NAME + "*") if p.is_file()
        )
        stats["model"] = self.embedder.name
        return stats

    # -- asking ------------------------------------------------------------------------------
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
        cfg = self.search_config
        index = self.index(collection)
        query_vector = self.embedder.encode([question])[0]
        filtered = bool(source or since)
        n = max(cfg.candidates, k + offset) * (10 if filtered else 1)

        dense_ids, _ = index.search(query_vector, n)
        match = fts_query(question)
        lexical = self.store.fts_search(match, collection, n) if match else []
        lexical_ids = [pid for pid, _ in lexical]
        dense_list = [int(i) for i in dense_ids]
        if filtered:
            allowed = self.store.passage_filter(
                sorted(set(dense_list) | set(lexical_ids)), collection, source, since
            )
            dense_list = [i for i in dense_list if i in allowed]
            lexical_ids = [i for i in lexical_ids if i in allowed]
        fused = rrf_fuse([dense_list, lexical_ids], cfg.rrf_k)
        page = fused[offset : offset + k]
        if not page:
            return build_answer(question, False, [])
        page_ids = [pid for pid, _ in page]
        rows = self.store.passages_by_ids(page_ids)
        cosines = self._cosines(collection, page_ids, query_vector)
        answered = max(cosines.values(), default=0.0) >= cfg.answer_threshold
        highlights = self._highlights(question, query_vector, [rows[i].text for i in page_ids])
        hits = [
            make_hit(rows[pid], score, highlight)
            for (pid, score), highlight in zip(page, highlights, strict=True)
            if pid in rows
        ]
        return build_answer(question, answered, hits)

    def _cosines(self, collection: str, ids: list[int], query_vector: np.ndarray) -> dict[int, float]:
        out: dict[int, float] = {}
        for pids, vectors in self.store.iter_vectors(collection, self.embedder.dim, ids=ids):
            for pid, score in zip(pids, vectors @ query_vector, strict=True):
                out[int(pid)] = float(score)
        return out

    def _highlights(
        self, question: str, query_vector: np.ndarray, passages: list[str]
    ) -> list[str | None]:
        per_passage = [split_sentences(p) for p in passages]
        flat = [s for sentences in per_passage for s in sentences]
        vectors = self.embedder.encode(flat) if flat else np.zeros((0, self.embedder.dim))
        out, start = [], 0
        for sentences in per_passage:
            out.append(best_sentence(query_vector, sentences,
                                     vectors[start : start + len(sentences)], question))
            start += len(sentences)
        return out


def _with_source(article: Article, source: str) -> Article:
    return replace(article, source=source)


__all__ = ["Archive", "ArchivistError"]

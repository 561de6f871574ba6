"""`Archive`: the one object the CLI and the bot use (add, delete, recent, get, ask, stats)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from archivist.community import Feedback, Insights, ServerSettings, ServerSettingsTable
from archivist.config import Limits, Settings
from archivist.embedding import Embedder, default_embedder
from archivist.errors import ArchivistError, ArticleNotFound, ConfigError
from archivist.index import VectorIndex
from archivist.index_cache import IndexCache
from archivist.ingest import Destination, Ingest, Progress
from archivist.models import (
    Answer,
    ArchiveStats,
    Article,
    IngestReport,
    ReadResult,
    StoredArticle,
)
from archivist.pg_index import PgIndexes, open_postgres
from archivist.ranking import ANALYSIS_VERSION, Ranker, SearchConfig, validate_question
from archivist.ranking import stored_analysis as passage_stems
from archivist.store import ArticleHint, SourceCount, Store
from archivist.store.pg_reads import stored_vector_bytes
from archivist.store.postgres import PostgresStore

log = logging.getLogger(__name__)

DB_NAME = "archive.db"
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
        database_url: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.store_dir = self.data_dir / "store"
        self.embedder = embedder or default_embedder()
        limits = limits or Limits()
        if not database_url:
            self.store = Store(self.store_dir / DB_NAME)
            self.indexes = IndexCache(
                self.store, self.store_dir / "index", self.embedder, limits.index_memory_mb
            )
        else:  # PostgreSQL (issue 16): HNSW or a scan in the database, or FAISS of its vectors
            self.store, self.indexes = open_postgres(
                database_url, self.embedder, self.data_dir, limits.index_memory_mb
            )
        self.ingest = Ingest(self.store, self.embedder, self.indexes, limits)
        # the ranker gets the index cache's own lookup: nothing it does calls back into Archive
        self.ranker = Ranker(
            self.store, self.indexes.checked, self.embedder, search_config or SearchConfig()
        )
        self.settings_table = ServerSettingsTable(self.store)
        self.feedback = Feedback(self.store)
        self._check_embedder()

    @classmethod
    def from_settings(cls, settings: Settings) -> Archive:
        """The archive `settings` describe: their data folder or database, limits, and the
        process's model as their embedding settings say (read once, by config)."""
        return cls(
            settings.data_dir,
            embedder=default_embedder(settings),
            limits=settings.limits,
            database_url=settings.database_url,
        )

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

    @property
    def limits(self) -> Limits:
        return self.ingest.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        # one Limits for every read: a caller that tightens them tightens ingest too
        self.ingest.limits = limits

    def checked_index(self, collection: str) -> VectorIndex:
        """The collection's FAISS index, checked against the store on first use and again
        whenever another process (or another Archive) has written to the collection: that
        check may repair or rebuild it from the stored vectors (minutes at a million)."""
        return self.indexes.checked(collection)

    def index_unchecked(self, collection: str) -> VectorIndex:
        """The index as loaded, for `check` (which must see a damaged one as it is)."""
        return self.indexes.as_loaded(collection)

    def open_all_indexes(self) -> None:
        """At start: check now the indexes whose first check would be slow (the large ones,
        within the index memory budget); the many small ones are checked on first use, so a
        bot of ten thousand servers starts in seconds (`IndexCache.check_large`)."""
        if isinstance(self.indexes, IndexCache):  # other backends search in their store
            self.indexes.check_large(self.store.collections())

    def close(self) -> None:
        self.ranker.close()
        self.indexes.save_dirty()
        self.store.close()

    # -- adding (all of it in `ingest`) ----------------------------------------------------
    def add_paths(
        self,
        paths: Iterable[str | Path],
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Files and folders (recursively). Unreadable inputs are reported, the rest stored."""
        return self.ingest.paths(paths, Destination(collection, source, added_by), progress)

    def add_bytes(
        self,
        name: str,
        data: bytes,
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """One file's bytes (an upload), read by the extension of `name`."""
        return self.ingest.data(name, data, Destination(collection, source, added_by), progress)

    def add_url(
        self,
        url: str,
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        allow_private: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """A web page fetched safely (`archivist.fetch`); a failed fetch is in the report."""
        to = Destination(collection, source, added_by)
        return self.ingest.url(url, to, allow_private=allow_private, progress=progress)

    def add_read(
        self,
        result: ReadResult,
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Store what a reader produced; its failures lead the report (nothing is dropped)."""
        return self.ingest.read_result(result, Destination(collection, source, added_by), progress)

    def add_articles(
        self,
        items: Sequence[tuple[str, Article]],
        *,
        collection: str,
        source: str | None = None,
        added_by: str | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Chunk, embed and store (origin, article) pairs; each batch is one transaction."""
        return self.ingest.articles(items, Destination(collection, source, added_by), progress)

    # -- removing ----------------------------------------------------------------------------
    def delete(self, article_id: str, *, collection: str) -> StoredArticle:
        article = self.get(article_id, collection=collection)
        index = self.checked_index(collection)
        deleted = self.store.delete_article(collection, article_id)
        if deleted is None:
            raise ArticleNotFound(article_id)
        ids, generations = deleted
        index.remove(ids)
        self.indexes.note_write(collection, generations)
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

    def stats(self, *, collection: str | None = None) -> ArchiveStats:
        """Counts of one collection (all when None) and the sizes behind them."""
        counts = self.store.stats(collection)
        if isinstance(self.indexes, PgIndexes):
            indexed, index_bytes, db_bytes = self._pg_sizes(
                self.indexes.store, counts["passages"], collection
            )
        else:
            if collection is None and isinstance(self.indexes, IndexCache):
                # every collection: as the cache knows them, without opening each index in turn
                indexed, index_bytes = self.indexes.totals(self.store.collections())
            else:
                collections = [collection] if collection else self.store.collections()
                indexes = [self.checked_index(c) for c in collections]
                indexed = sum(i.ntotal for i in indexes)
                index_bytes = sum(i.file_bytes() for i in indexes)
            db_bytes = self._database_bytes()
        return ArchiveStats(
            articles=counts["articles"],
            passages=counts["passages"],
            sources=counts["sources"],
            last_added_at=counts["last_added_at"],
            indexed=indexed,
            index_bytes=index_bytes,
            db_bytes=db_bytes,
            model=self.embedder.name,
        )

    def _database_bytes(self) -> int:
        """The whole database's size: SQLite's files, or PostgreSQL's relations (its `faiss`
        mode keeps index files in the data folder, but the database is the server's)."""
        store: object = self.store
        if isinstance(store, PostgresStore):
            return store.size_bytes()[0]
        return sum(p.stat().st_size for p in self.store_dir.glob(DB_NAME + "*") if p.is_file())

    def _pg_sizes(
        self, store: PostgresStore, passages: int, collection: str | None
    ) -> tuple[int, int, int]:
        """PostgreSQL's (indexed, index bytes, database bytes): the store is the index, every
        passage's row holds its vector (the column is NOT NULL and `dim` wide); sizes as
        `ArchiveStats` documents them."""
        db_bytes, hnsw_bytes = store.size_bytes()
        # an HNSW index spans a partition of many collections: it is counted in the total only
        vectors = passages * stored_vector_bytes(self.embedder.dim)
        return passages, vectors + (hnsw_bytes if collection is None else 0), db_bytes

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


__all__ = ["Archive", "ArchivistError"]

"""The one path from an input to stored, embedded, indexed articles.

Files, bytes, URLs and feed items all end in `Ingest.articles`: chunk -> embed (batched) ->
store (one transaction per batch, which decides duplicates) -> index -> `IngestReport`.
Readers and `fetch` only produce `ReadResult`s; nothing here knows Discord or the terminal.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from archivist import readers
from archivist.chunking import chunk_article, embed_text
from archivist.config import Limits
from archivist.embedding import Embedder
from archivist.errors import ReadError
from archivist.fetch import read_url
from archivist.index import VectorIndex
from archivist.models import (
    Added,
    Article,
    Duplicate,
    Failed,
    IngestReport,
    NearDuplicate,
    Passage,
    ReadResult,
    Skipped,
)
from archivist.ranking import stored_analysis
from archivist.ranking.copies import Fingerprint, same_text
from archivist.store import Inserted, NewArticle, Store, content_hash
from archivist.store.passages import OPENING_CHARS

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
# articles embedded and stored together: one encode call and one write transaction each
EMBED_BATCH_ARTICLES = 32
NEAR_DUPLICATE_CANDIDATES = 3  # stored articles compared whole with a new one, at most


class IndexProvider(Protocol):
    """The open vector indexes, one a collection, kept in step with the store."""

    def checked(self, collection: str) -> VectorIndex: ...

    def note_write(self, collection: str, generations: tuple[int, int]) -> None: ...


@dataclass(frozen=True)
class Destination:
    """Where articles go and how they are labelled."""

    collection: str
    source: str | None = None  # overrides the articles' own source
    added_by: str | None = None


@dataclass(frozen=True)
class _Candidate:
    """An article worth embedding: not known to the store at the first look."""

    origin: str
    article: Article
    article_id: str
    digest: str


@dataclass(frozen=True)
class _Chunked:
    candidate: _Candidate
    passages: list[Passage]


class Ingest:
    """Stores what readers produce; every input's failure stays with that input."""

    def __init__(
        self, store: Store, embedder: Embedder, indexes: IndexProvider, limits: Limits
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.indexes = indexes
        self.limits = limits

    def paths(
        self, paths: Iterable[str | Path], to: Destination, progress: Progress | None = None
    ) -> IngestReport:
        """Files and folders (recursively; hidden files are listed as skipped, not read)."""
        report = IngestReport()
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files.extend(_folder_files(path, report))
            elif path.exists():
                files.append(path)
            else:
                report.failed.append(Failed(str(path), "no such file or folder"))
        result = ReadResult()
        for path in files:
            try:
                result.extend(readers.read_path(path, self.limits))
            except ReadError as exc:
                report.failed.append(Failed.of(exc))
        report.merge(self.read_result(result, to, progress))
        return report

    def data(
        self, name: str, data: bytes, to: Destination, progress: Progress | None = None
    ) -> IngestReport:
        """One uploaded file's bytes, read by its name's extension."""
        try:
            result = readers.read_bytes(name, data, self.limits)
        except ReadError as exc:
            return IngestReport(failed=[Failed.of(exc)])
        return self.read_result(result, to, progress)

    def url(
        self,
        url: str,
        to: Destination,
        *,
        allow_private: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """A web page (or a file on the web), fetched within `fetch`'s bounds."""
        try:
            result = read_url(url, self.limits, allow_private=allow_private)
        except ReadError as exc:
            # the report names the input as given, not the (maybe redacted) form fetch shows
            return IngestReport(failed=[Failed(url, exc.reason, exc.kind)])
        return self.read_result(result, to, progress)

    def read_result(
        self, result: ReadResult, to: Destination, progress: Progress | None = None
    ) -> IngestReport:
        """A reader's articles stored; its failures lead the report (nothing is dropped)."""
        report = self.articles(result.articles, to, progress)
        report.failed[:0] = [Failed(f.origin, f.error, f.kind) for f in result.failures]
        report.skipped[:0] = [Skipped(f.origin, f.error) for f in result.skipped]
        return report

    def articles(
        self,
        items: Sequence[tuple[str, Article]],
        to: Destination,
        progress: Progress | None = None,
    ) -> IngestReport:
        """(origin, article) pairs chunked, embedded and stored; each batch one transaction."""
        report = IngestReport()
        total = len(items)
        pending = self._not_yet_stored(items, to, report)
        if progress:
            progress(total - len(pending), total)
        index = self.indexes.checked(to.collection)
        try:
            for start in range(0, len(pending), EMBED_BATCH_ARTICLES):
                batch = self._embedded(pending[start : start + EMBED_BATCH_ARTICLES], report)
                inserted = self.store.insert_articles(to.collection, batch, to.added_by)
                for item, ids in inserted.stored:
                    index.add(np.array(ids, dtype=np.int64), item.vectors)
                    report.added.append(Added(item.article_id, item.article.title, item.origin))
                self._report_near_duplicates(to.collection, inserted, report)
                _report_clashes(report, inserted)
                self.indexes.note_write(to.collection, inserted.generations)
                index.checkpoint(interim=True)
                if progress:
                    progress(min(total, total - len(pending) + start + EMBED_BATCH_ARTICLES), total)
        finally:
            index.checkpoint()  # saves when due; retypes the index when its size calls for it
        return report

    def _not_yet_stored(
        self, items: Sequence[tuple[str, Article]], to: Destination, report: IngestReport
    ) -> list[_Candidate]:
        """The articles worth embedding; the others are reported. Only a cheap first look that
        spares embedding known articles: another ingest may store the same ones meanwhile,
        and `Store.insert_articles` decides inside its write transaction."""
        seen_hashes: dict[str, str] = {}
        seen_ids: set[str] = set()
        pending: list[_Candidate] = []
        for origin, article in items:
            if to.source:
                article = replace(article, source=to.source)
            digest = content_hash(article)
            existing = self.store.find_duplicate(to.collection, digest) or seen_hashes.get(digest)
            if existing:
                report.duplicates.append(Duplicate(origin, article.title, existing))
                continue
            article_id = article.id or digest[:12]
            if article_id in seen_ids or self.store.id_taken(to.collection, article_id):
                # another ingest may have stored this very article between the two looks
                stored = self.store.find_duplicate(to.collection, digest)
                if stored:
                    report.duplicates.append(Duplicate(origin, article.title, stored))
                else:
                    report.failed.append(_id_taken(origin, article_id))
                continue
            seen_hashes[digest] = article_id
            seen_ids.add(article_id)
            pending.append(_Candidate(origin, article, article_id, digest))
        return pending

    def _embedded(self, pending: Sequence[_Candidate], report: IngestReport) -> list[NewArticle]:
        """The articles chunked and embedded in one encode call, ready to store; those without
        text or with too many passages are reported."""
        chunked = [c for c in (self._chunked(item, report) for item in pending) if c]
        texts = [
            embed_text(c.candidate.article.title, p.heading, p.text)
            for c in chunked
            for p in c.passages
        ]
        vectors = self.embedder.encode(texts)
        batch: list[NewArticle] = []
        offset = 0
        for c in chunked:
            item, passages = c.candidate, c.passages
            batch.append(
                NewArticle(
                    item.article,
                    item.article_id,
                    item.digest,
                    passages,
                    vectors[offset : offset + len(passages)],
                    item.origin,
                    [stored_analysis(p.text) for p in passages],
                )
            )
            offset += len(passages)
        return batch

    def _report_near_duplicates(
        self, collection: str, inserted: Inserted, report: IngestReport
    ) -> None:
        """Articles just stored whose body an earlier article holds under another headline or
        source (a wire story): stored all the same, and said so."""
        for item, ids in inserted.stored:
            existing = self._earlier_copy(collection, item, ids[0])
            if existing is not None:
                report.near_duplicates.append(
                    NearDuplicate(item.origin, item.article.title, existing)
                )

    def _earlier_copy(self, collection: str, item: NewArticle, first_id: int) -> str | None:
        """The id of an article stored before `item` with the same body, if any: the stored
        articles with a passage opening as one of its passages do (`m007_passage_openings`:
        a kicker or source line changes one passage, not all), and their whole bodies decide.
        Passage ids only grow, so an id below the article's first is an article stored
        before it, in this batch or earlier."""
        # shorter passages are left out ("Reuters", "Reporting by ...": common to many stories)
        openings = {p.text[:OPENING_CHARS] for p in item.passages if len(p.text) >= OPENING_CHARS}
        shared = Counter(self.store.articles_opening(collection, sorted(openings), first_id))
        body: Fingerprint | None = None
        for article_id, _ in shared.most_common(NEAR_DUPLICATE_CANDIDATES):
            stored = self.store.get(collection, article_id)
            if stored is None:  # deleted meanwhile
                continue
            body = body or Fingerprint(" ".join(p.text for p in item.passages))
            if same_text(body, Fingerprint(" ".join(p.text for p in stored.passages))):
                return stored.id
        return None

    def _chunked(self, item: _Candidate, report: IngestReport) -> _Chunked | None:
        passages = chunk_article(item.article, self.embedder.count_tokens)
        limit = self.limits.max_passages_per_article
        if not passages:
            report.failed.append(Failed(item.origin, "the article has no text"))
            return None
        if len(passages) > limit:
            report.failed.append(
                Failed(
                    item.origin,
                    f"the article is too long: {len(passages):,} passages, "
                    f"over the limit of {limit:,}",
                )
            )
            return None
        return _Chunked(item, passages)


def _folder_files(folder: Path, report: IngestReport) -> list[Path]:
    """A folder's files, recursively; hidden ones (.DS_Store, .git/...) reported, not read."""
    found: list[Path] = []
    hidden: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        if any(part.startswith(".") for part in p.relative_to(folder).parts):
            hidden.append(p)
        else:
            found.append(p)
    report.skipped.extend(Skipped(str(p), "hidden file, not read") for p in hidden)
    if not found:
        error = (
            f"the folder has only hidden files ({len(hidden)}, listed as skipped)"
            if hidden
            else "the folder has no files"
        )
        report.failed.append(Failed(str(folder), error))
    return found


def _id_taken(origin: str, article_id: str) -> Failed:
    return Failed(origin, f"id {article_id!r} is already used by another article")


def _report_clashes(report: IngestReport, inserted: Inserted) -> None:
    """Articles another ingest stored, or whose id it took, after our first look."""
    report.duplicates.extend(
        Duplicate(item.origin, item.article.title, existing)
        for item, existing in inserted.duplicates
    )
    report.failed.extend(_id_taken(item.origin, item.article_id) for item in inserted.taken)

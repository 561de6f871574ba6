"""Typed values passed between the core's modules and to its callers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archivist.errors import ReadError


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of an article body, with the sub-heading it stands under (if any)."""

    text: str
    heading: str | None = None


@dataclass(frozen=True)
class Article:
    """An article as a reader produced it, before it is stored."""

    title: str
    paragraphs: tuple[Paragraph, ...]
    source: str | None = None
    date: str | None = None  # ISO 8601 (date or datetime) when known
    url: str | None = None
    category: str | None = None
    agency: str | None = None
    id: str | None = None  # kept as the stored id when given (JSON input)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.paragraphs)


@dataclass(frozen=True)
class ReadFailure:
    """One part of an input that could not be read (a file, or a line of a JSONL file)."""

    origin: str  # e.g. "news.jsonl:12" or "bundle.zip!a/b.html"
    error: str
    kind: str | None = None  # one of READ_FAILURE_KINDS (errors.py): /metrics counts by it


@dataclass
class ReadResult:
    """What a reader got out of one input: the articles, and what failed (never dropped)."""

    articles: list[tuple[str, Article]] = field(default_factory=list)  # (origin, article)
    failures: list[ReadFailure] = field(default_factory=list)
    # left out on purpose and said so (operating-system clutter in a ZIP, hidden files)
    skipped: list[ReadFailure] = field(default_factory=list)

    def extend(self, other: ReadResult) -> None:
        self.articles.extend(other.articles)
        self.failures.extend(other.failures)
        self.skipped.extend(other.skipped)


@dataclass(frozen=True)
class Passage:
    """A chunk of an article that is embedded and searched."""

    position: int
    text: str
    heading: str | None = None


@dataclass(frozen=True)
class StoredArticle:
    id: str
    collection: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    category: str | None
    agency: str | None
    added_at: str
    added_by: str | None
    passage_count: int
    passages: tuple[Passage, ...] = ()

    def summary(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "date": self.date,
            "category": self.category,
            "url": self.url,
            "added_at": self.added_at,
            "passages": self.passage_count,
        }


@dataclass(frozen=True)
class StoryCopy:
    """Another article holding a hit's text (the same wire story on another site)."""

    article_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None

    def to_json(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Hit:
    """One passage returned for a question, with what is needed to cite it."""

    article_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    passage: str
    heading: str | None
    position: int
    score: float
    highlight: str | None = None  # the sentence of `passage` that best answers the question
    copies: tuple[StoryCopy, ...] = ()  # other articles with the same text, collapsed into this

    def to_json(self) -> dict:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "date": self.date,
            "url": self.url,
            "passage": self.passage,
            "heading": self.heading,
            "position": self.position,
            "score": round(float(self.score), 6),
            "highlight": self.highlight,
            "copies": [c.to_json() for c in self.copies],
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    hits: tuple[Hit, ...]

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answered": self.answered,
            "hits": [h.to_json() for h in self.hits],
        }


@dataclass(frozen=True)
class ReportEntry:
    """One line of an `IngestReport`; its JSON keys are a contract (`archivist ingest --json`)."""

    def to_json(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Added(ReportEntry):
    id: str
    title: str
    origin: str


@dataclass(frozen=True)
class Duplicate(ReportEntry):
    """An article already stored (or twice in one input): not stored again."""

    origin: str
    title: str
    existing_id: str


@dataclass(frozen=True)
class NearDuplicate(ReportEntry):
    """An article stored all the same, whose body is already stored under another headline or
    source (a syndicated story): its answers list the other as a copy."""

    origin: str
    title: str
    existing_id: str


@dataclass(frozen=True)
class Failed(ReportEntry):
    """An input, or a part of one, that could not be read or stored."""

    path: str
    error: str
    kind: str | None = None  # ReadError.kind, for counting; not in the JSON

    @classmethod
    def of(cls, error: ReadError) -> Failed:
        return cls(error.origin, error.reason, error.kind)

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "error": self.error}


@dataclass(frozen=True)
class Skipped(ReportEntry):
    """Left out on purpose and said so: not an article (hidden files, OS clutter in a ZIP)."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """The outcome of an ingest: nothing is silently dropped."""

    added: list[Added] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    near_duplicates: list[NearDuplicate] = field(default_factory=list)  # among `added`

    @classmethod
    def failure(cls, path: str, error: str) -> IngestReport:
        """A report of one input that failed as a whole."""
        return cls(failed=[Failed(path, error)])

    def merge(self, other: IngestReport) -> None:
        self.added.extend(other.added)
        self.duplicates.extend(other.duplicates)
        self.failed.extend(other.failed)
        self.skipped.extend(other.skipped)
        self.near_duplicates.extend(other.near_duplicates)

    def to_json(self) -> dict[str, list]:
        out: dict[str, list] = {
            "added": [a.id for a in self.added],
            "duplicates": [d.to_json() for d in self.duplicates],
            "failed": [f.to_json() for f in self.failed],
            "skipped": [s.to_json() for s in self.skipped],
            # stored all the same: the body is already here under another headline or source
            "near_duplicates": [n.to_json() for n in self.near_duplicates],
        }
        return out


@dataclass(frozen=True)
class ArchiveStats:
    """Counts and sizes of one collection, or of all; `to_json` is `archivist stats --json`."""

    articles: int
    passages: int
    sources: int
    last_added_at: str | None
    indexed: int  # vectors in the index: FAISS's files (SQLite), the vector column (PostgreSQL)
    # SQLite: the FAISS files' size on disk. PostgreSQL: the vectors as stored (8 + 4 x dim
    # bytes each), plus, for every collection together, the HNSW index's partitions
    index_bytes: int
    # the whole database, every collection. SQLite: archive.db with its WAL; PostgreSQL: every
    # table of the archive's schema with its indexes and TOAST (pg_total_relation_size)
    db_bytes: int
    model: str

    def to_json(self) -> dict[str, int | str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

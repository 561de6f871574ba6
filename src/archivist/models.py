"""Typed values passed between the core's modules and to its callers."""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass
class AddReport:
    """The outcome of an ingest: nothing is silently dropped."""

    added: list[dict] = field(default_factory=list)  # {"id", "title", "origin"}
    duplicates: list[dict] = field(default_factory=list)  # {"origin", "title", "existing_id"}
    failed: list[dict] = field(default_factory=list)  # {"path", "error"}
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}: not articles

    def merge(self, other: AddReport) -> None:
        self.added.extend(other.added)
        self.duplicates.extend(other.duplicates)
        self.failed.extend(other.failed)
        self.skipped.extend(other.skipped)

    def to_json(self) -> dict:
        return {
            "added": [a["id"] for a in self.added],
            "duplicates": list(self.duplicates),
            "failed": list(self.failed),
            "skipped": list(self.skipped),
        }

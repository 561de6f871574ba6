"""The values the store takes and gives back, and the digest that finds duplicates."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np

from archivist.models import Article, Passage


def normalize_for_hash(article: Article) -> str:
    text = unicodedata.normalize("NFKC", f"{article.title}\n{article.text}").lower()
    return " ".join(re.findall(r"\w+", text))


def content_hash(article: Article) -> str:
    return hashlib.sha256(normalize_for_hash(article).encode()).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class PassageRow:
    id: int
    article_id: str
    title: str
    source: str | None
    date: str | None
    url: str | None
    position: int
    heading: str | None
    text: str
    stems: str | None = None  # the ranking's analysis, stored at ingest (m004)


@dataclass(frozen=True)
class NewArticle:
    """An article ready to store: its passages and their vectors (one row per passage)."""

    article: Article
    article_id: str
    content_hash: str
    passages: Sequence[Passage]
    vectors: np.ndarray
    origin: str
    stems: Sequence[str] | None = None  # one per passage (the ranking's analysis)


@dataclass(frozen=True)
class ArticleHint:
    """An article as offered while a member types its title or id (no text, no passages)."""

    id: str
    title: str
    source: str | None
    date: str | None


@dataclass(frozen=True)
class SourceCount:
    name: str
    articles: int


class Inserted(NamedTuple):
    """What `Store.insert_articles` did with a batch."""

    stored: list[tuple[NewArticle, list[int]]]  # each with its new passage ids
    generations: tuple[int, int]  # the collection's, before and after
    duplicates: list[tuple[NewArticle, str]]  # with the id of the article holding its text
    taken: list[NewArticle]  # its id names another article of the collection

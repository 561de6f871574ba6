"""The store: the truth behind one interface (`Store`), SQLite through sqlite-utils."""

from __future__ import annotations

from archivist.store.sqlite import (
    MIGRATIONS,
    ArticleHint,
    Inserted,
    NewArticle,
    PassageRow,
    SourceCount,
    Store,
    content_hash,
    normalize_for_hash,
    now_iso,
)

__all__ = [
    "MIGRATIONS",
    "ArticleHint",
    "Inserted",
    "NewArticle",
    "PassageRow",
    "SourceCount",
    "Store",
    "content_hash",
    "normalize_for_hash",
    "now_iso",
]

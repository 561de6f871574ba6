"""The store: the truth behind one interface, `Store` (SQLite through sqlite-utils, FTS5).

`sqlite` holds the store and its writes; `articles`, `lookup` and `passages` its reads;
`migrations` the numbered schema changes applied at open; `feeds` the feed tables; `rows` the
values it takes and gives back.
"""

from __future__ import annotations

from archivist.store.feeds import Feed, FeedTable
from archivist.store.migrations import MIGRATIONS
from archivist.store.rows import (
    ArticleHint,
    Inserted,
    NewArticle,
    PassageRow,
    SourceCount,
    content_hash,
    normalize_for_hash,
    now_iso,
)
from archivist.store.sqlite import Store

__all__ = [
    "MIGRATIONS",
    "ArticleHint",
    "Feed",
    "FeedTable",
    "Inserted",
    "NewArticle",
    "PassageRow",
    "SourceCount",
    "Store",
    "content_hash",
    "normalize_for_hash",
    "now_iso",
]

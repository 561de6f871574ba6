"""Articles as members browse them: the newest, one by id, counts and stats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archivist.models import Passage, StoredArticle
from archivist.store.connection import Connections

ARTICLE_COLUMNS = (
    "a.id, a.collection, a.title, a.source, a.date, a.url, a.category, a.agency, a.added_at,"
    " a.added_by, (SELECT count(*) FROM passages p WHERE p.article = a.pk)"
)


def _article(row: Sequence[Any], passages: tuple[Passage, ...] = ()) -> StoredArticle:
    """A row of `ARTICLE_COLUMNS`, in `StoredArticle`'s field order."""
    return StoredArticle(*row, passages=passages)  # type: ignore[misc]  # mypy counts no row


class ArticleReads(Connections):
    def recent(
        self, collection: str, limit: int, offset: int = 0, source: str | None = None
    ) -> list[StoredArticle]:
        sql = f"SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.collection = ?"
        params: list[Any] = [collection]
        if source:
            sql += " AND a.source = ? COLLATE NOCASE"
            params.append(source)
        sql += " ORDER BY a.pk DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
        return [_article(r) for r in self.db.execute(sql, params).fetchall()]

    def count_articles(self, collection: str, source: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM articles WHERE collection = ?", [collection]
        if source:
            sql += " AND source = ? COLLATE NOCASE"
            params.append(source)
        return int(self.db.execute(sql, params).fetchone()[0])

    def article_ids(self, collection: str) -> list[str]:
        """The collection's article ids in the order they were stored (an export's order)."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM articles WHERE collection = ? ORDER BY pk", [collection]
            )
        ]

    def get(self, collection: str, article_id: str) -> StoredArticle | None:
        row = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS}, a.pk FROM articles a WHERE a.collection = ? AND a.id = ?",
            [collection, article_id],
        ).fetchone()
        if row is None:
            return None
        passages = tuple(
            Passage(position=r[0], heading=r[1], text=r[2])
            for r in self.db.execute(
                "SELECT position, heading, text FROM passages WHERE article = ? ORDER BY position",
                [row[-1]],
            )
        )
        return _article(row[:-1], passages)

    def newest_date(self, collection: str) -> str | None:
        """The collection's newest article date that starts with a digit (an ISO date or
        datetime as stored; free-form dates left out): a seek on `articles_by_date` (m006)."""
        row = self.db.execute(
            "SELECT max(date) FROM articles WHERE collection = ? AND date >= '0' AND date < ':'",
            [collection],
        ).fetchone()
        return row[0] if row else None

    def collections(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT collection FROM articles")]

    def stats(self, collection: str | None) -> dict[str, Any]:
        where, params = ("WHERE collection = ?", [collection]) if collection else ("", [])
        articles = self.db.execute(f"SELECT count(*) FROM articles {where}", params).fetchone()[0]
        passages = self.db.execute(f"SELECT count(*) FROM passages {where}", params).fetchone()[0]
        last = self.db.execute(f"SELECT max(added_at) FROM articles {where}", params).fetchone()[0]
        sources = self.db.execute(
            f"SELECT count(DISTINCT source) FROM articles {where}", params
        ).fetchone()[0]
        return {
            "articles": articles,
            "passages": passages,
            "sources": sources,
            "last_added_at": last,
        }

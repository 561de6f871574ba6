"""What autocomplete offers while a member types: articles by id or title words, and sources."""

from __future__ import annotations

import re
from typing import Any

from archivist.store.connection import Connections
from archivist.store.rows import ArticleHint, SourceCount

HINT_WORDS_MAX = 8  # typed words beyond these narrow nothing a member would notice
HINT_COLUMNS = "id, title, source, date"
_WORD = re.compile(r"\w+")
_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _word_start(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word), re.IGNORECASE)


def _like_part(word: str) -> str:
    """The longest ASCII run of a word: SQLite's LIKE folds ASCII case only, so that run is what
    it can look for in any case ("ärz" narrows by "rz")."""
    return max(_ASCII_RUN.findall(word), key=len, default="")


class ArticleLookup(Connections):
    def suggest_articles(self, collection: str, text: str, limit: int) -> list[ArticleHint]:
        """Articles whose id starts with `text`, then those whose title has a word starting
        with each typed word (case-insensitive), newest first; the newest when `text` is empty."""
        text = text.strip()
        sql = f"SELECT {HINT_COLUMNS} FROM articles WHERE collection = ?"
        if not text:
            rows = self.db.execute(sql + " ORDER BY pk DESC LIMIT ?", [collection, limit])
            return [ArticleHint(*r) for r in rows]
        # A range on (collection, id) uses the UNIQUE index, as LIKE (case-insensitive) cannot.
        by_id = self.db.execute(
            sql + " AND id >= ? AND id < ? ORDER BY pk DESC LIMIT ?",
            [collection, text, text + "\U0010ffff", limit],
        )
        found = {r[0]: ArticleHint(*r) for r in by_id}
        words = _WORD.findall(text)[:HINT_WORDS_MAX]
        if words and len(found) < limit:
            found |= self._by_title_words(sql, collection, words, limit - len(found), set(found))
        return list(found.values())

    def _by_title_words(
        self, sql: str, collection: str, words: list[str], limit: int, skip: set[str]
    ) -> dict[str, ArticleHint]:
        """LIKE narrows the scan to titles containing each word; each row left is checked for
        words starting so (in any case, Unicode included)."""
        params: list[Any] = [collection]
        for part in filter(None, map(_like_part, words)):
            sql += " AND title LIKE ? ESCAPE '\\'"
            params.append(f"%{_like_escape(part)}%")
        starts = [_word_start(w) for w in words]
        out: dict[str, ArticleHint] = {}
        for row in self.db.execute(sql + " ORDER BY pk DESC", params):  # read lazily
            if row[0] not in skip and all(p.search(row[1]) for p in starts):
                out[row[0]] = ArticleHint(*row)
                if len(out) >= limit:
                    break
        return out

    def sources(self, collection: str, prefix: str, limit: int) -> list[SourceCount]:
        """The collection's sources (case folded as the source filters fold them) whose name or
        one of its words starts with `prefix`, most articles first."""
        sql = (
            "SELECT min(source), count(*) AS n FROM articles"
            " WHERE collection = ? AND source IS NOT NULL AND source != ''"
        )
        params: list[Any] = [collection]
        prefix = prefix.strip()
        if prefix:
            sql += " AND (source LIKE ? ESCAPE '\\' OR source LIKE ? ESCAPE '\\')"
            params += [f"{_like_escape(prefix)}%", f"% {_like_escape(prefix)}%"]
        sql += " GROUP BY source COLLATE NOCASE ORDER BY n DESC, min(source) LIMIT ?"
        params.append(limit)
        return [SourceCount(name, n) for name, n in self.db.execute(sql, params)]

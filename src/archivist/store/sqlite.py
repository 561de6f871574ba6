"""SQLite (through sqlite-utils): articles, passages with their vectors, and FTS5. The truth.

One writer at a time (a lock in-process, WAL and a busy timeout across processes); readers use
their own connection per thread so asks go on during an ingest.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import sqlite_utils

from archivist.errors import ArchivistError
from archivist.models import Article, Passage, StoredArticle

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000


def m001_create_tables(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE articles (
            pk INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            collection TEXT NOT NULL,
            title TEXT NOT NULL,
            source TEXT,
            url TEXT,
            date TEXT,
            category TEXT,
            agency TEXT,
            content_hash TEXT NOT NULL,
            added_at TEXT NOT NULL,
            added_by TEXT,
            UNIQUE (collection, id),
            UNIQUE (collection, content_hash)
        );
        CREATE INDEX articles_recent ON articles (collection, pk DESC);
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            article INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
            collection TEXT NOT NULL,
            position INTEGER NOT NULL,
            heading TEXT,
            text TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE INDEX passages_article ON passages (article, position);
        CREATE INDEX passages_collection ON passages (collection, id);
        CREATE VIRTUAL TABLE passages_fts USING fts5 (
            title, heading, text, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        """
    )


def m002_collection_state(db: sqlite_utils.Database) -> None:
    """A per-collection counter bumped by every write, so a process (the bot) notices writes
    made by another one (a CLI ingest) and brings its in-memory index up to date."""
    db.execute(
        "CREATE TABLE collection_state (collection TEXT PRIMARY KEY, generation INTEGER NOT NULL)"
    )


def m003_fts_vocab(db: sqlite_utils.Database) -> None:
    """Document frequencies of the FTS5 terms (a view of the index, no data of its own): the
    search weighs question words by them and leaves the commonest out of its FTS5 query."""
    db.execute("CREATE VIRTUAL TABLE passages_fts_vocab USING fts5vocab(passages_fts, 'row')")


def m004_passage_stems(db: sqlite_utils.Database) -> None:
    """Each passage's analysis for the ranking (`search.passage_stems`), made at ingest so an
    ask reads it instead of making it. NULL for passages stored before: they are analysed when
    asked, until `archivist reindex` fills them in."""
    db.execute("ALTER TABLE passages ADD COLUMN stems TEXT")


def m005_passage_sequence(db: sqlite_utils.Database) -> None:
    """Passage ids are FAISS ids: one handed out again after a delete could name another
    passage in an index not yet brought up to date (another process's, or one saved before a
    crash). A plain INTEGER PRIMARY KEY hands out max + 1, so deleting the newest article
    freed its ids. The next id is kept here and only ever grows (`Store.insert_articles`).

    Not AUTOINCREMENT: SQLite cannot add it to a table, and rebuilding `passages` took 31 s
    at 100k passages (384 dimensions) and left the file 1.7x its size, minutes at 1M."""
    db.execute("CREATE TABLE passage_sequence (next_id INTEGER NOT NULL)")
    # stray full-text rows (see `maintenance.check`) hold ids too: a new passage must not
    db.execute(
        "INSERT INTO passage_sequence (next_id) SELECT 1 + max("
        " coalesce((SELECT max(id) FROM passages), 0),"
        " coalesce((SELECT rowid FROM passages_fts ORDER BY rowid DESC LIMIT 1), 0))"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    m001_create_tables,
    m002_collection_state,
    m003_fts_vocab,
    m004_passage_stems,
    m005_passage_sequence,
]


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (a no-op once it is: the mode is stored in the file).

    The switch needs the database to itself, and SQLite refuses it at once, without the busy
    wait, when another connection is switching at the same moment (processes opening a fresh
    store together): so it is retried, with jitter, for as long as the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.002
    while True:
        try:
            if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise ArchivistError("the archive is busy; try again shortly") from exc
        else:
            if time.monotonic() > deadline:
                raise ArchivistError("the archive could not be switched to WAL mode")
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.1)


def _chunks(ids: Iterable[int], size: int = 500) -> Iterator[list[int]]:
    """`ids` as ints (numpy's do not bind as SQLite integers), a few hundred at a time: SQLite
    takes a bounded number of parameters."""
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


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
    stems: Sequence[str] | None = None  # one per passage (`search.passage_stems`)


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


HINT_WORDS_MAX = 8  # typed words beyond these narrow nothing a member would notice
_WORD = re.compile(r"\w+")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


def _word_start(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word), re.IGNORECASE)


def _like_part(word: str) -> str:
    """The longest ASCII run of a word: SQLite's LIKE folds ASCII case only, so that run is what
    it can look for in any case ("ärz" narrows by "rz")."""
    return max(_ASCII_RUN.findall(word), key=len, default="")


class Inserted(NamedTuple):
    """What `Store.insert_articles` did with a batch."""

    stored: list[tuple[NewArticle, list[int]]]  # each with its new passage ids
    generations: tuple[int, int]  # the collection's, before and after
    duplicates: list[tuple[NewArticle, str]]  # with the id of the article holding its text
    taken: list[NewArticle]  # its id names another article of the collection


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.write_lock = threading.RLock()
        self._migrate()

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        # first, so that every later statement waits for a lock rather than failing at once
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return sqlite_utils.Database(conn)

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction: all of it lands, or none of it does."""
        with self.write_lock:
            db = self.db
            for attempt in range(50):
                try:
                    db.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 49:
                        raise ArchivistError("the archive is busy; try again shortly") from exc
                    time.sleep(0.1)
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def _migrate(self) -> None:
        self.apply_migrations(MIGRATIONS)

    def apply_migrations(
        self, migrations: Sequence[Callable[[sqlite_utils.Database], None]]
    ) -> None:
        """Run, in one transaction, the numbered migrations not yet recorded in `_migrations`."""
        with self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
            )
            done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
            for migration in migrations:
                if migration.__name__ not in done:
                    log.info("applying migration %s", migration.__name__)
                    migration(db)
                    db.execute(
                        "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                        [migration.__name__, now_iso()],
                    )

    # -- meta --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    # -- writes ------------------------------------------------------------------------------
    def generation(self, collection: str) -> int:
        row = self.db.execute(
            "SELECT generation FROM collection_state WHERE collection = ?", [collection]
        ).fetchone()
        return row[0] if row else 0

    @staticmethod
    def _bump(db: sqlite_utils.Database, collection: str) -> tuple[int, int]:
        """Inside a write transaction: (generation before, generation after)."""
        row = db.execute(
            "SELECT generation FROM collection_state WHERE collection = ?", [collection]
        ).fetchone()
        before = row[0] if row else 0
        db.execute(
            "INSERT OR REPLACE INTO collection_state (collection, generation) VALUES (?, ?)",
            [collection, before + 1],
        )
        return before, before + 1

    def find_duplicate(self, collection: str, digest: str) -> str | None:
        row = self.db.execute(
            "SELECT id FROM articles WHERE collection = ? AND content_hash = ?",
            [collection, digest],
        ).fetchone()
        return row[0] if row else None

    def id_taken(self, collection: str, article_id: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM articles WHERE collection = ? AND id = ?", [collection, article_id]
            ).fetchone()
            is not None
        )

    def insert_articles(
        self, collection: str, items: Sequence[NewArticle], added_by: str | None
    ) -> Inserted:
        """Store a batch in one transaction. Whether each article is new is decided here, under
        the write lock, since another ingest (a thread or a process) may have stored the same
        text or taken the same id since the caller's cheap check: those are handed back, not
        stored, and the rest of the batch is."""
        inserted = Inserted([], (0, 0), [], [])
        added_at = now_iso()
        with self.transaction() as db:
            next_id = self._next_passage_id(db)
            for item in items:
                existing = self.find_duplicate(collection, item.content_hash)
                if existing is not None:
                    inserted.duplicates.append((item, existing))
                elif self.id_taken(collection, item.article_id):
                    inserted.taken.append(item)
                else:
                    ids = list(range(next_id, next_id + len(item.passages)))
                    self._insert_article(db, collection, item, ids, added_at, added_by)
                    inserted.stored.append((item, ids))
                    next_id += len(ids)
            if inserted.stored:
                db.execute("UPDATE passage_sequence SET next_id = ?", [next_id])
                generations = self._bump(db, collection)
            else:  # nothing written: other processes need not look again
                current = self.generation(collection)
                generations = (current, current)
        return inserted._replace(generations=generations)

    @staticmethod
    def _next_passage_id(db: sqlite_utils.Database) -> int:
        """Inside a write transaction: the first id never handed out (`m005_passage_sequence`);
        past every stored passage too, should something have stored one without it."""
        row = db.execute(
            "SELECT max(coalesce((SELECT next_id FROM passage_sequence), 1),"
            " coalesce((SELECT max(id) FROM passages), 0) + 1)"
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _insert_article(
        db: sqlite_utils.Database,
        collection: str,
        item: NewArticle,
        ids: Sequence[int],
        added_at: str,
        added_by: str | None,
    ) -> None:
        a = item.article
        cursor = db.execute(
            "INSERT INTO articles"
            " (id, collection, title, source, url, date, category, agency,"
            " content_hash, added_at, added_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                item.article_id,
                collection,
                a.title,
                a.source,
                a.url,
                a.date,
                a.category,
                a.agency,
                item.content_hash,
                added_at,
                added_by,
            ],
        )
        article_pk = cursor.lastrowid
        stems: Sequence[str | None] = item.stems or [None] * len(item.passages)
        db.conn.executemany(
            "INSERT INTO passages (id, article, collection, position, heading, text, vector, stems)"
            " VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    pid,
                    article_pk,
                    collection,
                    passage.position,
                    passage.heading,
                    passage.text,
                    np.asarray(vector, dtype=np.float32).tobytes(),
                    stem_text,
                )
                for pid, passage, vector, stem_text in zip(
                    ids, item.passages, item.vectors, stems, strict=True
                )
            ],
        )
        db.conn.executemany(
            "INSERT INTO passages_fts (rowid, title, heading, text) VALUES (?,?,?,?)",
            [
                (pid, a.title, p.heading or "", p.text)
                for pid, p in zip(ids, item.passages, strict=True)
            ],
        )

    def delete_article(
        self, collection: str, article_id: str
    ) -> tuple[list[int], tuple[int, int]] | None:
        """Delete an article with its passages and FTS rows: the passage ids removed and the
        generations before and after (None when there is no such article)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT pk FROM articles WHERE collection = ? AND id = ?", [collection, article_id]
            ).fetchone()
            if row is None:
                return None
            generations = self._bump(db, collection)
            ids = [r[0] for r in db.execute("SELECT id FROM passages WHERE article = ?", [row[0]])]
            db.conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(i,) for i in ids])
            db.execute("DELETE FROM passages WHERE article = ?", [row[0]])
            db.execute("DELETE FROM articles WHERE pk = ?", [row[0]])
        return ids, generations

    # -- reads -------------------------------------------------------------------------------
    _ARTICLE_COLUMNS = (
        "a.id, a.collection, a.title, a.source, a.date, a.url, a.category, a.agency, a.added_at,"
        " a.added_by, (SELECT count(*) FROM passages p WHERE p.article = a.pk)"
    )

    def _article(self, row, passages: tuple[Passage, ...] = ()) -> StoredArticle:
        return StoredArticle(*row, passages=passages)  # type: ignore[misc]  # row = columns

    def recent(
        self, collection: str, limit: int, offset: int = 0, source: str | None = None
    ) -> list[StoredArticle]:
        sql = f"SELECT {self._ARTICLE_COLUMNS} FROM articles a WHERE a.collection = ?"
        params: list = [collection]
        if source:
            sql += " AND a.source = ? COLLATE NOCASE"
            params.append(source)
        sql += " ORDER BY a.pk DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
        return [self._article(r) for r in self.db.execute(sql, params).fetchall()]

    def count_articles(self, collection: str, source: str | None = None) -> int:
        sql, params = "SELECT count(*) FROM articles WHERE collection = ?", [collection]
        if source:
            sql += " AND source = ? COLLATE NOCASE"
            params.append(source)
        return self.db.execute(sql, params).fetchone()[0]

    _HINT_COLUMNS = "id, title, source, date"

    def suggest_articles(self, collection: str, text: str, limit: int) -> list[ArticleHint]:
        """Articles whose id starts with `text`, then those whose title has a word starting
        with each typed word (case-insensitive), newest first; the newest when `text` is empty."""
        text = text.strip()
        sql = f"SELECT {self._HINT_COLUMNS} FROM articles WHERE collection = ?"
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
        params: list = [collection]
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
        params: list = [collection]
        prefix = prefix.strip()
        if prefix:
            sql += " AND (source LIKE ? ESCAPE '\\' OR source LIKE ? ESCAPE '\\')"
            params += [f"{_like_escape(prefix)}%", f"% {_like_escape(prefix)}%"]
        sql += " GROUP BY source COLLATE NOCASE ORDER BY n DESC, min(source) LIMIT ?"
        params.append(limit)
        return [SourceCount(name, n) for name, n in self.db.execute(sql, params)]

    def get(self, collection: str, article_id: str) -> StoredArticle | None:
        row = self.db.execute(
            f"SELECT {self._ARTICLE_COLUMNS}, a.pk FROM articles a"
            " WHERE a.collection = ? AND a.id = ?",
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
        return self._article(row[:-1], passages)

    def passages_by_ids(self, ids: Sequence[int], collection: str | None) -> dict[int, PassageRow]:
        """The passages of `ids` that belong to `collection`. Every question passes it: an id
        from a stale or damaged index must never show another server's passage. None (every
        collection) is for tools that read the whole archive, and must be said."""
        out: dict[int, PassageRow] = {}
        for chunk in _chunks(ids):
            for r in self._select_ids(
                "SELECT p.id, a.id, a.title, a.source, a.date, a.url, p.position, p.heading,"
                " p.text, p.stems FROM passages p JOIN articles a ON a.pk = p.article",
                chunk,
                collection,
            ):
                out[r[0]] = PassageRow(*r)
        return out

    def _select_ids(self, select: str, ids: list[int], collection: str | None) -> list:
        """`select` (over `passages p`) for `ids`, only `collection`'s unless it is None."""
        sql = f"{select} WHERE p.id IN ({','.join('?' * len(ids))})"
        if collection is None:
            return self.db.execute(sql, ids).fetchall()
        return self.db.execute(sql + " AND p.collection = ?", [*ids, collection]).fetchall()

    def unanalysed(self, limit: int, version: str) -> list[tuple[int, str]]:
        """(id, text) of up to `limit` passages without a stored analysis of `version` (its
        first line): stored before m004, or by an older analysis."""
        return [
            (int(r[0]), r[1])
            for r in self.db.execute(
                "SELECT id, text FROM passages WHERE stems IS NULL"
                " OR stems || char(10) NOT LIKE ? || char(10) || '%' ORDER BY id LIMIT ?",
                [version, limit],
            )
        ]

    def set_stems(self, pairs: Sequence[tuple[int, str]]) -> None:
        """Store analyses made later (`unanalysed`); a passage deleted meanwhile is skipped."""
        with self.transaction() as db:
            db.conn.executemany(
                "UPDATE passages SET stems = ? WHERE id = ?", [(s, i) for i, s in pairs]
            )

    def passage_filter(
        self, ids: Sequence[int], collection: str, source: str | None, since: str | None
    ) -> set[int]:
        """The ids among `ids` that belong to `collection` and pass the filters."""
        if not ids:
            return set()
        sql = (
            "SELECT p.id FROM passages p JOIN articles a ON a.pk = p.article"
            f" WHERE p.id IN ({','.join('?' * len(ids))}) AND p.collection = ?"
        )
        params: list = [*ids, collection]
        if source:
            sql += " AND a.source = ? COLLATE NOCASE"
            params.append(source)
        if since:
            sql += " AND a.date >= ?"
            params.append(since)
        return {r[0] for r in self.db.execute(sql, params)}

    def fts_search(self, match: str, collection: str, limit: int) -> list[tuple[int, float]]:
        """(passage id, bm25 score; higher is better) for an already-sanitized MATCH string."""
        rows = self.db.execute(
            "SELECT f.rowid, -bm25(passages_fts, 2.0, 1.0, 1.0) AS score FROM passages_fts f"
            " JOIN passages p ON p.id = f.rowid"
            " WHERE passages_fts MATCH ? AND p.collection = ?"
            " ORDER BY bm25(passages_fts, 2.0, 1.0, 1.0)"
            " LIMIT ?",
            [match, collection, limit],
        ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    _DF_TTL_S = 600.0
    _DF_MAX_TERMS = 200_000

    def doc_freqs(self, terms: Sequence[str]) -> dict[str, int]:
        """Passages (of every collection) holding each FTS5 term (a Porter stem).

        fts5vocab counts by walking the term's posting list, as slow for a common word as the
        query this is meant to spare; the counts move slowly, so they are kept for a while."""
        terms = list(dict.fromkeys(terms))
        now = time.monotonic()
        cache = self.__dict__.setdefault("_df_cache", {})
        out, wanted = {}, []
        for term in terms:
            hit = cache.get(term)
            if hit is not None and now - hit[1] < self._DF_TTL_S:
                if hit[0]:
                    out[term] = hit[0]
            else:
                wanted.append(term)
        if wanted:
            rows = self.db.execute(
                "SELECT term, doc FROM passages_fts_vocab"
                f" WHERE term IN ({','.join('?' * len(wanted))})",
                wanted,
            ).fetchall()
            found = {r[0]: int(r[1]) for r in rows}
            if len(cache) > self._DF_MAX_TERMS:
                cache.clear()
            for term in wanted:
                cache[term] = (found.get(term, 0), now)
            out.update(found)
        return out

    _TOTAL_TTL_S = 30.0

    def passage_total(self) -> int:
        """Passages of every collection (the document count for idf); cached for a while,
        since counting costs milliseconds at a million rows and idf hardly moves."""
        cached = getattr(self._local, "passage_total", None)
        now = time.monotonic()
        if cached is None or now - cached[1] > self._TOTAL_TTL_S:
            total = self.db.execute("SELECT count(*) FROM passages").fetchone()[0]
            cached = (int(total), now)
            self._local.passage_total = cached
        return cached[0]

    def vectors_by_ids(
        self, ids: Sequence[int], dim: int, collection: str | None
    ) -> dict[int, np.ndarray]:
        """The stored vectors of `ids` that belong to `collection` (see `passages_by_ids`)."""
        out: dict[int, np.ndarray] = {}
        for chunk in _chunks(ids):
            rows = self._select_ids("SELECT p.id, p.vector FROM passages p", chunk, collection)
            if not rows:
                continue
            pids, vectors = self._unpack(rows, dim)
            for pid, vector in zip(pids.tolist(), vectors, strict=True):
                out[pid] = vector
        return out

    def fts_top(self, match: str, collection: str, limit: int) -> list[tuple[int, float]]:
        """`fts_search` without joining every match to its passage: FTS5 ranks the matches of
        all collections, and only the best few are checked for `collection` (an archive is
        mostly one collection). When too few of them are this collection's, `fts_search`."""
        weights = "2.0, 1.0, 1.0"
        rows = self.db.execute(
            f"SELECT rowid, -bm25(passages_fts, {weights}) FROM passages_fts"
            f" WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts, {weights}) LIMIT ?",
            [match, limit * 4],
        ).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        mine = {
            r[0]
            for r in self.db.execute(
                f"SELECT id FROM passages WHERE id IN ({','.join('?' * len(ids))})"
                " AND collection = ?",
                [*ids, collection],
            )
        }
        kept = [(r[0], float(r[1])) for r in rows if r[0] in mine]
        if len(kept) >= limit or len(rows) < limit * 4:
            return kept[:limit]
        return self.fts_search(match, collection, limit)

    def passage_ids(self, collection: str) -> np.ndarray:
        rows = self.db.execute(
            "SELECT id FROM passages WHERE collection = ? ORDER BY id", [collection]
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def iter_vectors(
        self,
        collection: str,
        dim: int,
        batch: int = 20_000,
        ids: Sequence[int] | np.ndarray | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of `collection` in batches, for building or repairing an index."""
        if ids is not None:
            for chunk in _chunks(ids):
                rows = self._select_ids("SELECT p.id, p.vector FROM passages p", chunk, collection)
                if rows:
                    yield self._unpack(rows, dim)
            return
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT id, vector FROM passages"
                " WHERE collection = ? AND id > ? ORDER BY id LIMIT ?",
                [collection, last, batch],
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield self._unpack(rows, dim)

    @staticmethod
    def _unpack(rows, dim: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
        return ids, vectors

    def collections(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT collection FROM articles")]

    def fts_ids(self, collection: str) -> np.ndarray:
        rows = self.db.execute(
            "SELECT f.rowid FROM passages_fts f JOIN passages p ON p.id = f.rowid"
            " WHERE p.collection = ? ORDER BY f.rowid",
            [collection],
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def stats(self, collection: str | None) -> dict:
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

"""The SQL `archivist migrate` runs on either store's tables (`store.db.execute`; PostgreSQL
through `pg_connection.translate`): the article rows read in stored order, then the tables
beside the articles copied, feeds with the items they met, server settings, votes, the question
log and meta.

Each copied row replaces the target's of the same key, so a copy run again after a stop finishes
without doubling anything; a feed keeps its id where the target has it free (members name feeds
by id).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from archivist.store import Store
from archivist.store.connection import chunks
from archivist.store.postgres import PostgresStore

IN_LIST = 500  # ids bound in one `IN (...)`: SQLite takes a bounded number of parameters
ROWS_A_STATEMENT = 100


def slices(values: Sequence[Any], size: int = IN_LIST) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


# ---- reads the stores have no public method for ----------------------------------------------


class ArticleRow(NamedTuple):
    """An article as stored, with every column a copy keeps."""

    pk: int
    id: str
    title: str
    source: str | None
    url: str | None
    date: str | None
    category: str | None
    agency: str | None
    content_hash: str
    added_at: str
    added_by: str | None


def article_rows(store: Store, collection: str, after_pk: int, limit: int) -> list[ArticleRow]:
    """The collection's next `limit` articles in the order they were stored (an export's)."""
    rows = store.db.execute(
        f"SELECT {', '.join(ArticleRow._fields)} FROM articles"
        " WHERE collection = ? AND pk > ? ORDER BY pk LIMIT ?",
        [collection, after_pk, limit],
    ).fetchall()
    return [ArticleRow(*r) for r in rows]


def passage_ids_of(store: Store, collection: str, pks: Sequence[int]) -> dict[int, list[int]]:
    """Each article's passage ids (by article pk), in passage order."""
    out: dict[int, list[int]] = {}
    for part in chunks(pks):
        for article, pid in store.db.execute(
            f"SELECT article, id FROM passages WHERE collection = ? AND article IN ({marks(part)})"
            " ORDER BY article, position",
            [collection, *part],
        ).fetchall():
            out.setdefault(int(article), []).append(int(pid))
    return out


def held_hashes(store: Store, collection: str, digests: Sequence[str]) -> set[str]:
    """Which of `digests` (article content hashes) the collection already holds."""
    held: set[str] = set()
    for part in slices(digests):
        held.update(
            r[0]
            for r in store.db.execute(
                "SELECT content_hash FROM articles WHERE collection = ?"
                f" AND content_hash IN ({marks(part)})",
                [collection, *part],
            ).fetchall()
        )
    return held


# ---- the other tables ----------------------------------------------------------------------


def _settings_row(row: Sequence[Any]) -> list[Any]:
    # SQLite keeps the two flags as 0/1, PostgreSQL as booleans: each store takes a bool
    collection, role, source, threads, logging_on, announce, updated_at = row
    return [collection, role, source, bool(threads), bool(logging_on), announce, updated_at]


# (table, its columns, the key order read in); each row replaces the target's of the same key
TABLES: tuple[tuple[str, str, str], ...] = (
    ("meta", "key, value", "key"),
    (
        "server_settings",
        "collection, admin_role_id, default_source, threads, question_logging,"
        " announce_channel_id, updated_at",
        "collection",
    ),
    ("answer_votes", "collection, answer_id, member_id, vote, voted_at", "collection, answer_id"),
    (
        "question_log",
        "collection, answer_id, question, question_key, answered, asked_at",
        "collection, answer_id",
    ),
)
FEED_FIELDS = (
    "collection, name, url, added_at, added_by, last_polled_at, last_error, failures,"
    " next_poll_at, disabled_at, added_in"
)
ITEM_FIELDS = "key, link, status, attempts, error, seen_at"
ITEM_UPSERT = (
    f"INSERT INTO feed_items (feed, {ITEM_FIELDS})",
    "ON CONFLICT (feed, key) DO UPDATE SET link = excluded.link, status = excluded.status,"
    " attempts = excluded.attempts, error = excluded.error, seen_at = excluded.seen_at",
)


def _write_rows(target: Store, head: str, tail: str, rows: Sequence[Any], batch: int) -> None:
    """`head VALUES (..), (..) tail`: a statement a hundred rows (a round trip costs ~3 ms to
    PostgreSQL here), a transaction a batch. No two rows share a key: each came from a table
    keyed by it, and PostgreSQL refuses a statement that upserts a key twice."""
    for part in slices(rows, batch):
        with target.transaction() as db:
            for chunk in slices(part, ROWS_A_STATEMENT):
                values = ", ".join(f"({marks(row)})" for row in chunk)
                db.execute(f"{head} VALUES {values} {tail}".rstrip(), [x for r in chunk for x in r])


def copy_table(source: Store, target: Store, table: tuple[str, str, str], batch: int) -> int:
    """One of `TABLES` copied, a transaction a batch of rows; the rows copied."""
    name, columns, order = table
    rows = source.db.execute(f"SELECT {columns} FROM {name} ORDER BY {order}").fetchall()
    if name == "server_settings":
        rows = [_settings_row(r) for r in rows]
    _write_rows(target, f"INSERT OR REPLACE INTO {name} ({columns})", "", rows, batch)
    return len(rows)


def _upsert_feed(target: Store, row: Sequence[Any]) -> int:
    """The target's id of the source's feed `row` (id first): the same feed (collection and
    URL) brought up to date, or a new one under the source's id when that is free."""
    source_id, values = int(row[0]), list(row[1:])
    fields = [f.strip() for f in FEED_FIELDS.split(",")]
    with target.transaction() as db:
        found = db.execute(
            "SELECT id FROM feeds WHERE collection = ? AND url = ?", [values[0], values[2]]
        ).fetchone()
        if found is not None:
            assignments = ", ".join(f"{f} = ?" for f in fields)
            db.execute(f"UPDATE feeds SET {assignments} WHERE id = ?", [*values, found[0]])
            return int(found[0])
        if db.execute("SELECT 1 FROM feeds WHERE id = ?", [source_id]).fetchone() is None:
            # members name a feed by its id (`feed remove 3`): it stays the same where it can
            db.execute(
                f"INSERT INTO feeds (id, {FEED_FIELDS}) VALUES (?, {marks(fields)})",
                [source_id, *values],
            )
            if isinstance(target, PostgresStore):  # its id sequence must pass the ids given
                db.execute(
                    "SELECT setval(pg_get_serial_sequence('feeds', 'id'), max(id)) FROM feeds"
                )
            return source_id
        cursor = db.execute(f"INSERT INTO feeds ({FEED_FIELDS}) VALUES ({marks(fields)})", values)
        return int(cursor.lastrowid or 0)


def copy_feeds(source: Store, target: Store, batch: int) -> tuple[int, int]:
    """Every feed with the items it met; (feeds, items) copied."""
    feeds = source.db.execute(f"SELECT id, {FEED_FIELDS} FROM feeds ORDER BY id").fetchall()
    items = 0
    for row in feeds:
        feed_id = _upsert_feed(target, row)
        seen = source.db.execute(
            f"SELECT {ITEM_FIELDS} FROM feed_items WHERE feed = ? ORDER BY key", [row[0]]
        ).fetchall()
        _write_rows(target, *ITEM_UPSERT, [[feed_id, *r] for r in seen], batch)
        items += len(seen)
    return len(feeds), items

"""What a server's members tell the archive, and how the server wants it run: votes on answers,
the question log behind insights, and per-server settings. Every row names its collection (a
Discord server): nothing here is read or written across collections.

Tables come with the store's migrations (`m_community_001_tables`). The question log keeps no
member id (insights need the question, not who asked it); a vote keeps its member's, since each
member has one vote per answer.

Several processes (bot shards, machines, the CLI) share these tables, so nothing here is kept in
memory: a setting one of them changes is what the next read anywhere sees. The SQL is written
once for both stores (upserts with ON CONFLICT, counts with CASE, window functions): PostgreSQL
needs only the `?` placeholders translated (`store.pg_connection`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from archivist.errors import ArchivistError, shown
from archivist.store.connection import Connections
from archivist.store.rows import now_iso

RETENTION_DAYS = 90  # questions and votes older than this are deleted: insights look back 30
INSIGHT_DAYS_MAX = RETENTION_DAYS
INSIGHT_LIMIT = 20
SHARE_PERIODS = (7, 30)
QUESTION_CHARS_MAX = 1_000
SOURCE_CHARS_MAX = 100
ANSWER_ID = re.compile(r"[0-9a-z]{1,32}")
WATCHED_KEY = "watched_channels:"  # + the collection: its watched channel ids, in meta
WATCHED_MAX = 500  # channels one server may watch (Discord allows 500 channels a server)


class CommunityError(ArchivistError):
    """A vote, question or setting the archive cannot take as given; nothing was stored."""


# ---- values ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSettings:
    """How one server wants the bot run; the defaults apply until an admin changes them."""

    admin_role_id: int | None = None  # replaces ARCHIVIST_ADMIN_ROLE for this server
    default_source: str | None = None  # /ask's source when the member names none
    threads: bool = False  # answer in a new thread rather than in the channel
    question_logging: bool = True  # keep questions for /insights
    announce_channel_id: int | None = None  # where new feed items are announced


SETTING_NAMES = tuple(f.name for f in fields(ServerSettings))
SETTING_COLUMNS = ", ".join(SETTING_NAMES)


@dataclass(frozen=True)
class AskedQuestion:
    """A question (as last worded) asked in the window and not answered, or voted down."""

    question: str
    asked: int  # times asked in the window
    unanswered: int  # of those, how many found nothing relevant
    thumbs_down: int  # 👎 votes on its answers
    last_asked_at: str


@dataclass(frozen=True)
class Period:
    """The last `days` days: questions logged and answered, votes given and liked."""

    days: int
    asked: int
    answered: int
    votes: int
    liked: int

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.asked if self.asked else None

    @property
    def liked_share(self) -> float | None:
        return self.liked / self.votes if self.votes else None


@dataclass(frozen=True)
class Insights:
    days: int
    questions: tuple[AskedQuestion, ...]  # most frequent first
    periods: tuple[Period, ...]  # the last 7 and 30 days


# ---- checks ----------------------------------------------------------------------------------


def new_answer_id() -> str:
    """An answer's id, unguessable so a vote names only an answer its member was shown."""
    return secrets.token_hex(6)


def question_key(question: str) -> str:
    """What makes two questions "the same" for insights: case, spacing and end marks aside."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return " ".join(text.split()).rstrip(" ?!.")


def _answer_id(answer_id: str) -> str:
    if not isinstance(answer_id, str) or not ANSWER_ID.fullmatch(answer_id):
        raise CommunityError(f"“{shown(str(answer_id))}” is not an answer id")
    return answer_id


def _since(days: int) -> str:
    moment = datetime.now(UTC) - timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _optional_id(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CommunityError(
            f"setting {name} takes a positive id or nothing, not “{shown(str(value))}”"
        )
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CommunityError(
            f"setting {name} is on or off (true or false), not “{shown(str(value))}”"
        )
    return value


def _source(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CommunityError(f"setting {name} takes a source name, not “{shown(str(value))}”")
    text = " ".join(value.split())
    if len(text) > SOURCE_CHARS_MAX:
        raise CommunityError(
            f"setting {name}: “{shown(text)}” is longer than {SOURCE_CHARS_MAX} characters"
        )
    return text or None


CHECKS = {
    "admin_role_id": _optional_id,
    "default_source": _source,
    "threads": _flag,
    "question_logging": _flag,
    "announce_channel_id": _optional_id,
}


def checked_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes as stored, or a one-line error naming the first bad one."""
    unknown = [name for name in changes if name not in CHECKS]
    if unknown:
        raise CommunityError(
            f"there is no setting “{shown(unknown[0])}”; the settings are {', '.join(CHECKS)}"
        )
    return {name: CHECKS[name](name, value) for name, value in changes.items()}


# ---- server settings -------------------------------------------------------------------------


class ServerSettingsTable:
    """Each server's settings, read from the store each time: another process (a shard, a
    machine, the CLI) may have changed them. One read by primary key, as cheap as the
    generation read a kept copy would need to stay right (docs in `community`). `watched`:
    the channels each server has the bot watch."""

    def __init__(self, store: Connections) -> None:
        self.store = store
        self.watched = WatchedChannels(store)

    def get(self, collection: str) -> ServerSettings:
        row = self.store.db.execute(
            f"SELECT {SETTING_COLUMNS} FROM server_settings WHERE collection = ?", [collection]
        ).fetchone()
        return _settings_from(row) if row else ServerSettings()

    def update(self, collection: str, **changes: Any) -> ServerSettings:
        """Change the named settings (keeping the others); returns all of them as stored."""
        checked = checked_changes(changes)
        with self.store.transaction() as db:
            # read under the write lock: another process's change to other settings stays
            row = db.execute(
                f"SELECT {SETTING_COLUMNS} FROM server_settings WHERE collection = ?",
                [collection],
            ).fetchone()
            current = _settings_from(row) if row else ServerSettings()
            new = dataclasses.replace(current, **checked)
            values = [getattr(new, name) for name in SETTING_NAMES]
            db.execute(
                f"INSERT INTO server_settings (collection, {SETTING_COLUMNS}, updated_at)"
                f" VALUES (?, {', '.join('?' * len(SETTING_NAMES))}, ?)"
                f" ON CONFLICT (collection) DO UPDATE SET {_excluded(SETTING_NAMES)},"
                " updated_at = excluded.updated_at",
                [collection, *values, now_iso()],
            )
        return new


class WatchedChannels:
    """The channels where each server's plain questions are answered, in the store, so that
    every process of a deployment (on another machine too) watches the same ones, and two
    changes made at once both stay.

    Kept in the store's meta table, a row a server (`WATCHED_KEY` + collection: a JSON list of
    ids), so no migration is needed for it; `every` reads all servers' in one query, for a
    process that keeps a copy where a read per message would be too many (the bot)."""

    def __init__(self, store: Connections) -> None:
        self.store = store

    def channels(self, collection: str) -> list[int]:
        """The server's watched channel ids, smallest first."""
        row = self.store.db.execute(
            "SELECT value FROM meta WHERE key = ?", [WATCHED_KEY + collection]
        ).fetchone()
        return _channel_ids(row[0]) if row else []

    def every(self) -> dict[str, frozenset[int]]:
        """Each server's watched channels (a server watching none has no row)."""
        # a range on the key rather than LIKE, whose `_` matches any character
        rows = self.store.db.execute(
            "SELECT key, value FROM meta WHERE key > ? AND key < ?",
            [WATCHED_KEY, WATCHED_KEY[:-1] + chr(ord(WATCHED_KEY[-1]) + 1)],
        ).fetchall()
        return {r[0][len(WATCHED_KEY) :]: frozenset(_channel_ids(r[1])) for r in rows}

    def set(self, collection: str, channel_id: int, watched: bool) -> bool:
        """Watch or unwatch a channel; whether anything changed."""
        channel = _channel_id(channel_id)
        if not isinstance(watched, bool):
            raise CommunityError(f"watched is true or false, not “{shown(str(watched))}”")
        with self.store.transaction() as db:
            # read under the write lock: another process's change a moment ago stays
            row = db.execute(
                "SELECT value FROM meta WHERE key = ?", [WATCHED_KEY + collection]
            ).fetchone()
            ids = set(_channel_ids(row[0])) if row else set()
            if (channel in ids) == watched:
                return False
            if watched and len(ids) >= WATCHED_MAX:
                raise CommunityError(
                    f"this server already watches {WATCHED_MAX} channels; unwatch one first"
                )
            (ids.add if watched else ids.discard)(channel)
            if not ids:
                db.execute("DELETE FROM meta WHERE key = ?", [WATCHED_KEY + collection])
            else:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [WATCHED_KEY + collection, json.dumps(sorted(ids))],
                )
        return True


def _channel_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CommunityError(f"a channel id is a positive whole number, not “{shown(str(value))}”")
    return value


def _channel_ids(value: str) -> list[int]:
    return sorted(int(i) for i in json.loads(value))


def _excluded(names: tuple[str, ...]) -> str:
    return ", ".join(f"{name} = excluded.{name}" for name in names)


def _settings_from(row: Any) -> ServerSettings:
    role, source, threads, logging_on, announce = row
    return ServerSettings(role, source, bool(threads), bool(logging_on), announce)


# ---- votes and questions ---------------------------------------------------------------------


class Feedback:
    """Votes on answers and the question log, per collection."""

    def __init__(self, store: Connections) -> None:
        self.store = store

    def record_vote(self, collection: str, answer_id: str, member_id: str, vote: int) -> int | None:
        """A member's +1 or -1 on an answer, replacing their earlier one; returns the earlier
        vote (None on their first)."""
        _answer_id(answer_id)
        if vote not in (1, -1) or isinstance(vote, bool):
            raise CommunityError(f"a vote is +1 or -1, not “{shown(str(vote))}”")
        member = str(member_id).strip()
        if not member:
            raise CommunityError("a vote needs the member who gave it")
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT vote FROM answer_votes WHERE collection = ? AND answer_id = ?"
                " AND member_id = ?",
                [collection, answer_id, member],
            ).fetchone()
            db.execute(
                "INSERT INTO answer_votes (collection, answer_id, member_id, vote, voted_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (collection, answer_id, member_id)"
                " DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                [collection, answer_id, member, vote, now_iso()],
            )
        return int(row[0]) if row else None

    def log_question(
        self, collection: str, question: str, *, answered: bool, answer_id: str | None = None
    ) -> str:
        """The answer's id (new unless given), for its vote buttons. The question is kept only
        while the server's question logging is on; older entries go after `RETENTION_DAYS`."""
        answer_id = _answer_id(answer_id) if answer_id is not None else new_answer_id()
        text = " ".join(str(question).split())[:QUESTION_CHARS_MAX]
        if not text:
            raise CommunityError("an empty question cannot be logged")
        cutoff = _since(RETENTION_DAYS)
        with self.store.transaction() as db:
            # the setting is read in the write itself: no read before it, and logging turned
            # off by another process a moment ago is off here too
            logged = db.execute(
                "INSERT INTO question_log (collection, answer_id, question, question_key,"
                " answered, asked_at) SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1"
                " FROM server_settings WHERE collection = ? AND NOT question_logging)"
                " ON CONFLICT (collection, answer_id) DO UPDATE SET question = excluded.question,"
                " question_key = excluded.question_key, answered = excluded.answered,"
                " asked_at = excluded.asked_at",
                [collection, answer_id, text, question_key(text), int(answered), now_iso()]
                + [collection],
            )
            if not logged.rowcount:
                return answer_id
            db.execute(
                "DELETE FROM question_log WHERE collection = ? AND asked_at < ?",
                [collection, cutoff],
            )
            db.execute(
                "DELETE FROM answer_votes WHERE collection = ? AND voted_at < ?",
                [collection, cutoff],
            )
        return answer_id

    def insights(self, collection: str, days: int = 30, limit: int = INSIGHT_LIMIT) -> Insights:
        """The questions of the last `days` days that found nothing relevant or got a 👎 (most
        asked first), and the shares answered and liked over the last 7 and 30 days."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= INSIGHT_DAYS_MAX:
            raise CommunityError(
                f"insights look back 1 to {INSIGHT_DAYS_MAX} days, not “{shown(str(days))}”"
            )
        db = self.store.db
        since = _since(days)
        # the window's 👎 per answer first: one pass over the votes, not one lookup per question;
        # `newest` marks each question's last wording (a window, where SQLite alone would take
        # a bare column beside max())
        rows = db.execute(
            """WITH down AS (SELECT answer_id, count(*) AS n FROM answer_votes
                WHERE collection = ? AND voted_at >= ? AND vote < 0 GROUP BY answer_id),
            asked AS (SELECT q.question_key, q.question, q.asked_at,
                CASE WHEN q.answered = 0 THEN 1 ELSE 0 END AS missed,
                coalesce(d.n, 0) AS downs,
                row_number() OVER (PARTITION BY q.question_key
                    ORDER BY q.asked_at DESC, q.answer_id DESC) AS newest
                FROM question_log q LEFT JOIN down d ON d.answer_id = q.answer_id
                WHERE q.collection = ? AND q.asked_at >= ?)
            SELECT max(CASE WHEN newest = 1 THEN question END), count(*),
                CAST(sum(missed) AS BIGINT), CAST(sum(downs) AS BIGINT), max(asked_at)
            FROM asked GROUP BY question_key HAVING sum(missed) > 0 OR sum(downs) > 0
            ORDER BY count(*) DESC, max(asked_at) DESC LIMIT ?""",
            [collection, since, collection, since, max(0, limit)],
        ).fetchall()
        questions = tuple(AskedQuestion(r[0], r[1], r[2], r[3], r[4]) for r in rows)
        return Insights(days, questions, tuple(self._period(collection, d) for d in SHARE_PERIODS))

    def _period(self, collection: str, days: int) -> Period:
        since = _since(days)
        asked, answered = self.store.db.execute(
            "SELECT count(*), CAST(coalesce(sum(answered), 0) AS BIGINT) FROM question_log"
            " WHERE collection = ? AND asked_at >= ?",
            [collection, since],
        ).fetchone()
        votes, liked = self.store.db.execute(
            "SELECT count(*), CAST(coalesce(sum(CASE WHEN vote > 0 THEN 1 ELSE 0 END), 0)"
            " AS BIGINT) FROM answer_votes WHERE collection = ? AND voted_at >= ?",
            [collection, since],
        ).fetchone()
        return Period(days, int(asked), int(answered), int(votes), int(liked))

    def clear(self, collection: str) -> int:
        """Forget the collection's logged questions and votes; returns how many rows went."""
        with self.store.transaction() as db:
            questions = db.execute("DELETE FROM question_log WHERE collection = ?", [collection])
            votes = db.execute("DELETE FROM answer_votes WHERE collection = ?", [collection])
        return int(questions.rowcount) + int(votes.rowcount)

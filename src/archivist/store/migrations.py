"""The store's numbered migrations, applied in order at open, each once (recorded by name in
`_migrations`). A name, once released, never changes: it is how an existing store knows what
it has. The feed tables are here too, so that every store has them from its first open."""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlite_utils

from archivist.store.passages import collection_token, recount_terms
from archivist.store.rows import now_iso

log = logging.getLogger(__name__)

Migration = Callable[[sqlite_utils.Database], None]


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
    """Each passage's analysis for the ranking, made at ingest so an ask reads it instead of
    making it. NULL for passages stored before: they are analysed when asked, until
    `archivist reindex` fills them in."""
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


def m006_articles_by_date(db: sqlite_utils.Database) -> None:
    """A question naming a period resolves it against the collection's newest article when
    the archive is a past one (`ranking.dates`): the newest date is a seek, not a scan."""
    db.execute("CREATE INDEX articles_by_date ON articles (collection, date)")


def m007_passage_openings(db: sqlite_utils.Database) -> None:
    """Passages by their opening characters: an article whose body is already stored under
    another headline or source (a wire story) is found at ingest by a seek per passage, where
    a vector search per article cost ~3 ms at 50k passages (an ingest stores ~60 articles/s)."""
    db.execute("CREATE INDEX passages_opening ON passages (collection, substr(text, 1, 64))")


def m008_fts_collection_token(db: sqlite_utils.Database) -> None:
    """The full text gets a column `coll` holding the passage's collection token, so a
    question's MATCH is limited to its server inside FTS5 (`passages.collection_match`):
    ranking every collection's matches and keeping one server's cost ~60 ms at 1M passages
    over 1,000 servers. FTS5 cannot add a column: the table is built again from its own rows
    (what was indexed stays as it was); a row with no passage (see `maintenance.check`) is
    kept, with no token, for the check to report. 60 s at 1.04M passages (2 cores)."""
    db.conn.create_function("collection_token", 1, collection_token, deterministic=True)
    # one statement each: executescript would commit the migration's transaction first
    db.execute("DROP TABLE IF EXISTS passages_fts_vocab")
    db.execute(
        "CREATE VIRTUAL TABLE passages_fts_new USING fts5 ("
        " title, heading, text, coll, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    db.execute(
        "INSERT INTO passages_fts_new (rowid, title, heading, text, coll)"
        " SELECT f.rowid, f.title, f.heading, f.text,"
        " CASE WHEN p.id IS NULL THEN '' ELSE collection_token(p.collection) END"
        " FROM passages_fts f LEFT JOIN passages p ON p.id = f.rowid ORDER BY f.rowid"
    )
    db.execute("INSERT INTO passages_fts_new (passages_fts_new) VALUES ('optimize')")
    db.execute("DROP TABLE passages_fts")
    db.execute("ALTER TABLE passages_fts_new RENAME TO passages_fts")
    m003_fts_vocab(db)


def m009_term_docs(db: sqlite_utils.Database) -> None:
    """The passages holding each FTS5 term (`term_docs`, collection tokens left out) and the
    passage total (`fts_stats`), as PostgreSQL keeps them: every write moves them in its own
    transaction (`passages.count_terms`), so a question reads a primary key per term where
    fts5vocab walked the term's posting list over every collection (10.9 ms an ask at 6.4M
    passages). Counted once here from what is stored."""
    db.execute(
        "CREATE TABLE term_docs (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID"
    )
    db.execute("CREATE TABLE fts_stats (rows INTEGER NOT NULL)")
    recount_terms(db)


def m010_passage_vectors(db: sqlite_utils.Database) -> None:
    """Vectors move out of `passages` into `passage_vectors` (same id, deleted with their
    passage). A vector is 1,536 of a row's ~2,200 bytes, so a 4 KB page held one passage: the
    text and analysis every question reads were spread over the vectors, which the ranking
    reads only for candidates its index gave no score for. At 6.4M passages the passages were
    ~14 GB of a 31 GB database, more than the page cache keeps beside the index files, and
    reading a question's candidates from disk was most of a warm ask (10-14 ms).

    Built again, not altered: `DROP COLUMN` would leave each row alone on its page. The old
    pages go to the free list (reused by later writes; `backup` writes a compact copy)."""
    db.execute(
        """CREATE TABLE passages_new (
            id INTEGER PRIMARY KEY,
            article INTEGER NOT NULL REFERENCES articles (pk) ON DELETE CASCADE,
            collection TEXT NOT NULL,
            position INTEGER NOT NULL,
            heading TEXT,
            text TEXT NOT NULL,
            stems TEXT
        )"""
    )
    # references the new table: renaming it moves the reference, and dropping the old one
    # deletes nothing here
    db.execute(
        "CREATE TABLE passage_vectors ("
        " id INTEGER PRIMARY KEY REFERENCES passages_new (id) ON DELETE CASCADE,"
        " vector BLOB NOT NULL)"
    )
    db.execute(
        "INSERT INTO passages_new (id, article, collection, position, heading, text, stems)"
        " SELECT id, article, collection, position, heading, text, stems"
        " FROM passages ORDER BY id"
    )
    db.execute(
        "INSERT INTO passage_vectors (id, vector) SELECT id, vector FROM passages ORDER BY id"
    )
    db.execute("DROP TABLE passages")
    db.execute("ALTER TABLE passages_new RENAME TO passages")
    db.execute("CREATE INDEX passages_article ON passages (article, position)")
    db.execute("CREATE INDEX passages_collection ON passages (collection, id)")
    db.execute("CREATE INDEX passages_opening ON passages (collection, substr(text, 1, 64))")


def m_feeds_001_tables(db: sqlite_utils.Database) -> None:
    """The feeds followed per collection, and the items each has met (`store.feeds`)."""
    db.execute(
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            name TEXT NOT NULL,
            url TEXT NOT NULL,
            added_at TEXT NOT NULL,
            added_by TEXT,
            last_polled_at TEXT,
            last_error TEXT,
            UNIQUE (collection, url)
        )"""
    )
    # status: 'stored' (added or already there) or 'failed' (tried `attempts` times)
    db.execute(
        """CREATE TABLE feed_items (
            feed INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            link TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (feed, key)
        )"""
    )


def m_feeds_002_failures(db: sqlite_utils.Database) -> None:
    """A feed's failing streak, its back-off's next try, when it was disabled, and where it was
    added (told when it is disabled)."""
    db.execute("ALTER TABLE feeds ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE feeds ADD COLUMN next_poll_at TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN disabled_at TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN added_in TEXT")


def m_community_001_tables(db: sqlite_utils.Database) -> None:
    """Per server: its settings, the votes on answers and the question log (`community`)."""
    db.execute(
        """CREATE TABLE server_settings (
            collection TEXT PRIMARY KEY,
            admin_role_id INTEGER,
            default_source TEXT,
            threads INTEGER NOT NULL DEFAULT 0,
            question_logging INTEGER NOT NULL DEFAULT 1,
            announce_channel_id INTEGER,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE answer_votes (
            collection TEXT NOT NULL,
            answer_id TEXT NOT NULL,
            member_id TEXT NOT NULL,
            vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
            voted_at TEXT NOT NULL,
            PRIMARY KEY (collection, answer_id, member_id)
        )"""
    )
    db.execute("CREATE INDEX answer_votes_recent ON answer_votes (collection, voted_at)")
    # no member id: insights need what was asked, not who asked it
    db.execute(
        """CREATE TABLE question_log (
            collection TEXT NOT NULL,
            answer_id TEXT NOT NULL,
            question TEXT NOT NULL,
            question_key TEXT NOT NULL,
            answered INTEGER NOT NULL,
            asked_at TEXT NOT NULL,
            PRIMARY KEY (collection, answer_id)
        )"""
    )
    db.execute("CREATE INDEX question_log_recent ON question_log (collection, asked_at)")


MIGRATIONS: list[Migration] = [
    m001_create_tables,
    m002_collection_state,
    m003_fts_vocab,
    m004_passage_stems,
    m005_passage_sequence,
    m006_articles_by_date,
    m007_passage_openings,
    m008_fts_collection_token,
    m009_term_docs,
    m010_passage_vectors,
    # named apart: stores made before feeds were registered here already record these names
    m_feeds_001_tables,
    m_feeds_002_failures,
    m_community_001_tables,
]


def apply(db: sqlite_utils.Database, migrations: list[Migration] = MIGRATIONS) -> None:
    """Inside a write transaction: run the migrations not yet recorded in `_migrations`."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    for migration in migrations:
        if migration.__name__ not in done:
            log.info("applying migration %s", migration.__name__)
            migration(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                [migration.__name__, now_iso()],
            )

"""Several processes share one archive (issue 16): what one writes, the others read at once,
on both stores: a SQLite data folder two processes open, or one PostgreSQL database.

"A" writes, "B" is a long-lived reader (a bot process) whose caches are warm from before the
write. Some writes come from a real second process (`run_in_process`), the rest from a second
`Archive` in this one, which shares no cache with B either."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from feed_helpers import server
from feed_server import Item
from pg import pg_server, pg_url

from archivist import feeds
from archivist.archive import Archive
from archivist.community import CommunityError, ServerSettings
from archivist.embedding import HashingEmbedder
from archivist.errors import ArticleNotFound
from archivist.ingest import EMBED_BATCH_ARTICLES
from archivist.models import Article, Paragraph
from archivist.store.cache import RECOUNTED_UNDER, TtlCache

FIXTURES = (pg_server, pg_url, server)  # pytest finds them by their names in this module
G = "g1"

# run by a second Python process: one job on the archive, its result printed as JSON
JOB = """
import json, sys
from archivist.archive import Archive
from archivist.embedding import HashingEmbedder
from archivist.models import Article, Paragraph

job = json.loads(sys.argv[1])
archive = Archive(job["data_dir"], embedder=HashingEmbedder(), database_url=job["url"])
try:
    if job["op"] == "add":
        items = [
            (origin, Article(title=title, paragraphs=tuple(Paragraph(p) for p in paras)))
            for origin, title, paras in job["articles"]
        ]
        out = archive.add_articles(items, collection=job["collection"]).to_json()
    elif job["op"] == "settings":
        changed = archive.update_server_settings(job["collection"], **job["changes"])
        out = {"admin_role_id": changed.admin_role_id}
    print(json.dumps(out))
finally:
    archive.close()
"""


@dataclass(frozen=True)
class Shared:
    """One archive as several processes open it."""

    root: Path
    url: str | None  # None: the SQLite data folder `root / "shared"`

    def data_dir(self, who: str) -> Path:
        # on PostgreSQL each process has its own folder (another machine's): only the database
        # is shared
        return self.root / ("shared" if self.url is None else who)

    def open(self, who: str) -> Archive:
        return Archive(self.data_dir(who), embedder=HashingEmbedder(), database_url=self.url)

    def start(self, op: str, **job: Any) -> subprocess.Popen[bytes]:
        """A second process doing `op`; its environment (ARCHIVIST_PG_VECTOR_INDEX) is ours."""
        job |= {"op": op, "data_dir": str(self.data_dir("process")), "url": self.url}
        return subprocess.Popen(
            [sys.executable, "-c", JOB, json.dumps(job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def run_in_process(self, op: str, **job: Any) -> Any:
        proc = self.start(op, **job)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
        return json.loads(out)


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request, tmp_path) -> Shared:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return Shared(tmp_path, url)


@pytest.fixture
def a_and_b(shared) -> Iterator[tuple[Archive, Archive]]:
    a, b = shared.open("a"), shared.open("b")
    yield a, b
    a.close()
    b.close()


def article(tag: str, topic: str, n: int = 3) -> tuple[str, str, list[str]]:
    """(origin, title, paragraphs): plain JSON, for this process and the second one alike."""
    return (
        f"{tag}.txt",
        f"The {topic} report {tag}",
        [
            f"Part {j} of {tag}: the {topic} committee met again and agreed measure {j} after "
            f"a long debate about the {topic} budget and the views of local residents."
            for j in range(n)
        ],
    )


def as_articles(rows: list[tuple[str, str, list[str]]]) -> list[tuple[str, Article]]:
    return [(o, Article(title=t, paragraphs=tuple(map(Paragraph, ps)))) for o, t, ps in rows]


def hits(answer: Any) -> list[tuple[str, int, float]]:
    return [(h.article_id, h.position, round(h.score, 5)) for h in answer.hits]


SEED = [article(f"seed{i}", topic) for i, topic in enumerate(["harbour", "railway", "museum"])]
QUESTION = "What did the zeppelin hangar committee agree?"


# -- asking after another process's ingest -------------------------------------------------------
def test_b_answers_from_an_article_another_process_stored(shared):
    b = shared.open("b")
    try:
        b.add_articles(as_articles(SEED), collection=G)
        before = b.ask(QUESTION, collection=G)  # counts kept: no passage holds "zeppelin"
        assert all("zeppelin" not in h.passage for h in before.hits)

        report = shared.run_in_process(
            "add", collection=G, articles=[article("zep", "zeppelin hangar")]
        )
        assert len(report["added"]) == 1

        after = b.ask(QUESTION, collection=G)
        assert "zeppelin" in after.hits[0].passage
        fresh = shared.open("c")  # a process started after the write: nothing kept from before
        try:
            # the same answer, scores included: B's term counts count the new article
            assert hits(after) == hits(fresh.ask(QUESTION, collection=G))
            assert b.store.doc_freqs(["zeppelin"]) == fresh.store.doc_freqs(["zeppelin"])
            assert b.store.passage_total() == fresh.store.passage_total()
        finally:
            fresh.close()
    finally:
        b.close()


# -- deleting --------------------------------------------------------------------------------------
def test_an_article_a_deleted_is_gone_for_b(a_and_b):
    a, b = a_and_b
    a.add_articles(as_articles([article("zep", "zeppelin hangar"), *SEED]), collection=G)
    gone = next(x for x in b.recent(collection=G, limit=10) if "zeppelin" in x.title)
    # B has read it every way a member can before the delete
    assert b.ask(QUESTION, collection=G).hits[0].article_id == gone.id
    assert b.get(gone.id, collection=G).id == gone.id
    assert gone.id in {s.id for s in b.suggest_articles(G, "zep")}

    a.delete(gone.id, collection=G)

    answer = b.ask(QUESTION, collection=G)
    assert answer.hits and gone.id not in {h.article_id for h in answer.hits}
    assert gone.id not in {x.id for x in b.recent(collection=G, limit=10)}
    assert b.count(collection=G) == len(SEED)
    with pytest.raises(ArticleNotFound):
        b.get(gone.id, collection=G)
    assert gone.id not in {s.id for s in b.suggest_articles(G, "zep")}
    assert gone.id not in {s.id for s in b.suggest_articles(G)}


# -- server settings -------------------------------------------------------------------------------
CHANGED = {
    "admin_role_id": 42,
    "default_source": "Harbour Gazette",
    "question_logging": False,
    "threads": True,
    "announce_channel_id": 7,
}


def test_settings_another_process_changes_are_what_b_reads(shared):
    b = shared.open("b")
    try:
        assert b.server_settings(G) == ServerSettings()  # read (and once kept) before
        assert shared.run_in_process("settings", collection=G, changes=CHANGED) == {
            "admin_role_id": 42
        }
        assert b.server_settings(G) == ServerSettings(**CHANGED)
        # B logs nothing once another process turned logging off
        b.log_question(G, "Who won the regatta?", answered=False)
        assert b.insights(G).periods[0].asked == 0

        shared.run_in_process("settings", collection=G, changes={"question_logging": True})
        b.log_question(G, "Who won the regatta?", answered=False)
        assert b.insights(G).periods[0].asked == 1
        assert b.server_settings(G) == ServerSettings(**(CHANGED | {"question_logging": True}))
    finally:
        b.close()


def test_a_setting_change_keeps_the_settings_b_changed(a_and_b):
    a, b = a_and_b
    assert a.server_settings(G) == ServerSettings()
    b.update_server_settings(G, default_source="Gazette")
    a.update_server_settings(G, admin_role_id=5)  # A's own earlier read must not undo B's
    assert a.server_settings(G) == b.server_settings(G)
    assert b.server_settings(G) == ServerSettings(admin_role_id=5, default_source="Gazette")


# -- feeds -------------------------------------------------------------------------------------
def test_b_polls_the_feeds_a_follows_and_not_those_a_removed(a_and_b, server):
    a, b = a_and_b
    server.serve_pages("ferry", "wind")
    followed = server.set_rss("/rss.xml", "Gazette", [Item("ferry", "/news/ferry")])
    dropped = server.set_rss("/other.xml", "Courier", [Item("wind", "/news/wind")])
    feeds.add_feed(a, followed, collection=G, allow_private=True, poll_now=False)
    removed, _ = feeds.add_feed(a, dropped, collection=G, allow_private=True, poll_now=False)
    feeds.remove_feed(a, str(removed.id), collection=G)

    scheduler = feeds.FeedScheduler(b, allow_private=True)
    polled = asyncio.run(scheduler.poll_due())

    assert [feed.url for feed, _ in polled] == [followed]
    assert [len(report.added) for _, report in polled] == [1]
    assert [x.source for x in a.recent(collection=G)] == ["Gazette"]


# -- a batch, whole or not at all --------------------------------------------------------------
def test_b_never_sees_part_of_a_batch(shared):
    batches = 3
    rows = [
        article(f"b{i}", "vineyard", n=1 + i % 3) for i in range(batches * EMBED_BATCH_ARTICLES)
    ]
    passages = {f"The vineyard report b{i}": 1 + i % 3 for i in range(len(rows))}
    b = shared.open("b")
    try:
        b.add_articles(as_articles(SEED), collection=G)
        writer = shared.start("add", collection=G, articles=rows)
        seen: set[int] = set()
        while True:
            done = writer.poll() is not None  # one more look after the writer is done
            listed = b.recent(collection=G, limit=len(rows) + len(SEED))  # one statement
            new = [x for x in listed if x.title in passages]
            seen.add(len(new))
            # every article B lists is whole: all of its passages are there with it
            assert all(x.passage_count == passages[x.title] for x in new)
            assert b.ask("vineyard committee budget", collection=G).hits
            if done:
                break
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()[-2000:]
        assert len(json.loads(out)["added"]) == len(rows)
        assert seen <= {n * EMBED_BATCH_ARTICLES for n in range(batches + 1)}
        assert len(rows) in seen
        stats = b.stats(collection=G)
        assert stats.indexed == stats.passages == sum(passages.values()) + 3 * len(SEED)
    finally:
        b.close()


# -- the kept counts ---------------------------------------------------------------------------
def test_small_counts_follow_generations_and_a_read_from_before_a_write_is_not_kept():
    counts: TtlCache[str, int] = TtlCache(ttl_s=600, max_items=100)
    common = RECOUNTED_UNDER  # costly to recount, and a write moves it by little
    counts.follow(G, 3)
    counts.get_many(["ferri", "the"])
    counts.put_many({"ferri": 2, "the": common})
    assert not counts.follow(G, 3)  # nothing written since: all kept
    assert counts.get_many(["ferri", "the"]) == ({"ferri": 2, "the": common}, [])

    _, wanted = counts.get_many(["harbour"])  # a question starts reading counts...
    assert counts.follow(G, 4)  # ...another process writes, a second question sees it...
    counts.put_many({"harbour": 1})  # ...and the first one's read, perhaps from before, comes
    assert counts.get_many(["ferri", "harbour", "the"]) == ({"the": common}, ["ferri", "harbour"])

    counts.get_many(["ferri"])
    counts.put_many({"ferri": 3})
    assert counts.follow("g2", 1)  # a collection first seen: its writes may be newer
    assert counts.get_many(["ferri", "the"]) == ({"the": common}, ["ferri"])


# -- watched channels --------------------------------------------------------------------------
def test_channels_one_process_watches_are_watched_by_the_other(a_and_b):
    a, b = a_and_b
    assert b.settings_table.watched.channels(G) == []
    assert a.settings_table.watched.set(G, 5, True)
    assert b.settings_table.watched.set(G, 6, True)  # B's change keeps A's
    assert not b.settings_table.watched.set(G, 5, True)  # A watches it already
    assert a.settings_table.watched.set("g2", 9, True)
    assert b.settings_table.watched.channels(G) == [5, 6]
    assert b.settings_table.watched.every() == {G: {5, 6}, "g2": {9}}

    assert a.settings_table.watched.set(G, 5, False)
    assert a.settings_table.watched.set("g2", 9, False)
    assert b.settings_table.watched.channels(G) == [6]
    assert b.settings_table.watched.every() == {G: {6}}


@pytest.mark.parametrize(("channel", "watched"), [("5", True), (0, True), (True, True), (5, "yes")])
def test_a_bad_channel_is_refused_in_one_line_and_nothing_changes(a_and_b, channel, watched):
    a, b = a_and_b
    a.settings_table.watched.set(G, 7, True)
    with pytest.raises(CommunityError) as caught:
        a.settings_table.watched.set(G, channel, watched)
    message = str(caught.value)
    assert str(channel if watched is True else watched) in message and "\n" not in message
    assert b.settings_table.watched.every() == {G: {7}}

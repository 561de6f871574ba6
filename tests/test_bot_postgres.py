"""The bot on PostgreSQL: a representative set of the bot's end-to-end tests run again through the
Discord emulator with the archive in a fresh PostgreSQL database (tests/pg.py).

The tests are the bot modules' own (`REUSED`), collected here: `on_postgres` makes every
`Archive` the harness (or a test) builds open that database instead of a SQLite folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import pytest
import test_bot_autocomplete
import test_bot_commands
import test_bot_community
import test_bot_feeds
import test_bot_messages
import test_bot_metrics
import test_bot_watch
from discord_emu.harness import article, reply_to, running_bot
from pg import TEMPLATE, is_fixture, pg_server, pg_url
from test_bot_metrics import get, metrics_on, run

import archivist.archive
from archivist.archive import Archive
from archivist.embedding import HashingEmbedder

FIXTURES = (pg_server, pg_url, metrics_on)  # pytest finds them by their names in this module
# upload, /ask and a mention, /recent, /article, /stats, /delete, votes and /insights, /settings,
# feeds, autocomplete, /healthz and /metrics, watched channels: the bot's every kind of store read
# and write
REUSED = {
    test_bot_commands: (
        "test_ask_answers_with_buttons_more_results_and_article",
        "test_recent_paginates_and_filters_by_source",
        "test_article_pages_and_unknown_id",
        "test_stats",
        "test_upload_by_admin_refused_for_member_and_limits",
        "test_delete_confirm_cancel_and_refusal",
    ),
    test_bot_messages: (
        "test_mention_and_reply_to_an_answer",
        "test_two_servers_never_see_each_other",
    ),
    test_bot_community: (
        "test_a_thumbs_down_shows_in_insights_and_a_changed_vote_counts_once",
        "test_unanswered_questions_listed_most_asked_first_and_cleared",
        "test_default_source_and_settings_shown",
        "test_a_vote_lands_after_a_restart_and_is_not_taken_for_an_expired_button",
        "test_an_answer_does_not_wait_for_its_question_log",
    ),
    test_bot_feeds: (
        "test_feed_add_list_remove_by_admin_and_refused_for_member",
        "test_the_bot_polls_only_the_feeds_of_its_own_servers",
    ),
    test_bot_autocomplete: (
        "test_article_autocomplete_by_title_word_id_prefix_and_newest_first",
        "test_sources_autocomplete_on_ask_and_recent_keeps_to_the_server",
    ),
    test_bot_metrics: (
        "test_healthz_is_ok_once_ready",
        "test_metrics_move_with_an_ask_and_an_upload_and_hold_no_question",
        "test_feeds_are_gauged_by_state",
    ),
    test_bot_watch: (
        "test_a_watch_made_in_one_bot_process_is_followed_by_another",
        "test_two_bot_processes_changes_to_one_server_both_stay",
        "test_an_old_watched_json_is_imported_once_and_kept_as_imported",
        "test_the_doctor_counts_the_channels_watched_in_the_store",
    ),
}


def _reused() -> dict[str, Any]:
    """The chosen tests, with the fixtures their modules define for themselves."""
    found: dict[str, Any] = {}
    for module, names in REUSED.items():
        found |= {n: v for n, v in vars(module).items() if is_fixture(v)}
        found |= {name: getattr(module, name) for name in names}
    return found


globals().update(_reused())


@pytest.fixture(autouse=True)
def on_postgres(pg_url, monkeypatch):
    """Every `Archive` built without a database opens the test's PostgreSQL database: the one
    the harness builds, and a second one on the same folder (a restart) finds the same data."""
    sqlite_archive = archivist.archive.Archive

    class PostgresArchive(sqlite_archive):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, database_url: str | None = None, **kwargs: Any) -> None:
            super().__init__(*args, database_url=database_url or pg_url, **kwargs)

    monkeypatch.setattr(archivist.archive, "Archive", PostgresArchive)
    return pg_url


# ---- an answer read back from PostgreSQL --------------------------------------------------------


def test_an_answer_names_its_title_source_and_date_by_slash_command_and_mention(tmp_path):
    async def scenario():
        async with running_bot(tmp_path) as h:
            await h.seed([article("harbour", 4, source="Coast Weekly"), article("wind")])
            (stored,) = h.archive.recent(collection=h.guild.id, source="Coast Weekly")
            assert stored.date == "2024-05-14"
            wanted = (stored.title, f"Coast Weekly · 2024-05-14 · id {stored.id}")
            rec = await h.command("ask", {"question": "what will the harbour ferry be?"})
            asked = await h.emu.send_message(
                h.guild.channel_id, h.member, "what will the harbour ferry be?", mention_bot=True
            )
            reply = await reply_to(h, asked)
            return wanted, [rec.original["embeds"][0], reply["embeds"][0]]

    wanted, embeds = run(scenario())
    for embed in embeds:
        assert (embed["title"], embed["footer"]["text"]) == (f"1. {wanted[0]}", wanted[1])


# ---- /healthz asks PostgreSQL itself ------------------------------------------------------------


def database_of(url: str) -> tuple[str, str]:
    """(the Unix socket the test server listens on, the database's name) of a tests/pg.py URL."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    return f"{parts['host']}/.s.PGSQL.{parts.get('port') or 5432}", str(parts["dbname"])


def admin(pg_server, sql: str) -> None:
    import psycopg

    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(sql)


class Relay:
    """127.0.0.1 TCP to the test server's Unix socket, until `silent`: then it takes connections
    and bytes and answers nothing, as a server behind a network gone dead does."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.silent = False
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            if self.silent:
                await self.pipe(reader, None)
                return
            server_reader, server_writer = await asyncio.open_unix_connection(self.socket_path)
            await asyncio.gather(self.pipe(reader, server_writer), self.pipe(server_reader, writer))
        writer.close()

    async def pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None) -> None:
        while data := await reader.read(65536):
            if writer is not None and not self.silent:
                writer.write(data)
                await writer.drain()
        if writer is not None:
            writer.close()


def test_healthz_is_503_in_one_line_once_the_database_is_dropped(tmp_path, pg_server, metrics_on):
    name = f"health_{uuid.uuid4().hex[:12]}"
    admin(pg_server, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    archive = Archive(tmp_path, embedder=HashingEmbedder(), database_url=pg_server.url(name))

    async def scenario():
        async with running_bot(tmp_path, archive=archive) as h:
            port = h.bot.metrics_server.port
            before = await get(port, "/healthz")
            await asyncio.to_thread(admin, pg_server, f"DROP DATABASE {name} WITH (FORCE)")
            return before, await get(port, "/healthz")

    try:
        before, (status, _, body) = run(scenario())
    finally:
        archive.close()
    assert (before[0], before[2]) == (200, "ok\n")
    assert status == 503 and body.count("\n") == 1
    assert body.startswith("the archive does not open: cannot connect to postgresql://")
    assert f'database "{name}" does not exist' in body


def test_healthz_is_503_while_the_server_is_out_of_reach_and_200_when_back(
    tmp_path, pg_url, metrics_on
):
    socket_path, name = database_of(pg_url)

    async def scenario():
        relay = Relay(socket_path)
        url = f"postgresql://postgres@127.0.0.1:{await relay.start()}/{name}"
        archive = await asyncio.to_thread(
            Archive, tmp_path, embedder=HashingEmbedder(), database_url=url
        )
        try:
            async with running_bot(tmp_path, archive=archive) as h:
                port = h.bot.metrics_server.port
                before = await get(port, "/healthz")
                relay.silent = True  # a check that waited on the store's connection would hang
                gone = await get(port, "/healthz")
                relay.silent = False
                return url, before, gone, await get(port, "/healthz")
        finally:
            relay.silent = False
            await asyncio.to_thread(archive.close)
            await relay.stop()

    url, before, (status, _, body), back = run(scenario())
    assert (before[0], before[2]) == (back[0], back[2]) == (200, "ok\n")
    assert status == 503 and body.count("\n") == 1
    assert body.startswith(f"the archive does not open: cannot connect to {url}: ")

"""👍 and 👎 under every answer: persistent buttons whose custom id carries the answer's id
(`archivist:vote:up:<answer id>`), so a vote still lands after a restart. One vote per member
per answer, changeable; the member alone reads the thanks.

Each answer gets a new id; its question goes to the core's question log (`Archive.log_question`),
which keeps it only while the server's question logging is on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from archivist.community import new_answer_id
from archivist.errors import ArchivistError
from bot.errors import report_error

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

NO_PINGS = discord.AllowedMentions.none()
VOTES = {"up": (1, "👍"), "down": (-1, "👎")}
VOTE_ROW = 1  # beside "More results": row 0 holds up to five "Show article" buttons
EXPIRED = "This button has expired. Ask again to vote on a new answer."
# how long /insights waits for the questions already answered to be logged (it is deferred)
LOGGED_WAIT_S = 5.0
_logging: set[asyncio.Task[None]] = set()


def thanks_text(vote: int, before: int | None) -> str:
    """What the member reads after a click: thanks, a change, or that nothing changed."""
    mine = "👍" if vote > 0 else "👎"
    other = "👎" if vote > 0 else "👍"
    if before == vote:
        return f"You already gave this answer {mine}. Press {other} to change your vote."
    if before is not None:
        return f"Changed your vote to {mine}. Thanks for telling us!"
    if vote > 0:
        return "Thanks! Your 👍 is noted. Press 👎 instead if you change your mind."
    return (
        "Thanks! Your 👎 tells this server's admins that the answer missed "
        "(they see it in /insights). Press 👍 instead if you change your mind."
    )


class Vote(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"archivist:vote:(?P<kind>up|down):(?P<answer>[0-9a-z]{1,32})",
):
    def __init__(self, kind: str, answer_id: str) -> None:
        value, emoji = VOTES[kind]
        super().__init__(
            discord.ui.Button(
                emoji=emoji,
                style=discord.ButtonStyle.secondary,
                row=VOTE_ROW,
                custom_id=f"archivist:vote:{kind}:{answer_id}",
            )
        )
        self.kind, self.vote, self.answer_id = kind, value, answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(match["kind"], match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        try:
            if interaction.guild_id is None:
                await interaction.response.send_message(EXPIRED, ephemeral=True)
                return
            bot: ArchivistBot = interaction.client  # type: ignore[assignment]
            before = await bot.offload(
                bot.archive.record_vote,
                str(interaction.guild_id),
                self.answer_id,
                str(interaction.user.id),
                self.vote,
            )
            await interaction.response.send_message(
                thanks_text(self.vote, before), ephemeral=True, allowed_mentions=NO_PINGS
            )
        except Exception as error:  # noqa: BLE001 - told to the member, logged when a bug
            await report_error(interaction, error)


def add_vote_buttons(view: discord.ui.View, answer_id: str) -> None:
    for kind in VOTES:
        view.add_item(Vote(kind, answer_id))


def log_question_later(bot: ArchivistBot, collection: str, question: str, answered: bool) -> str:
    """A new answer's id, for its vote buttons; its question is logged (if the server logs
    questions) after the answer is sent: a write waits for the store's writer (an upload's
    batch, another process's ingest), and an answer never waits behind an upload."""
    answer_id = new_answer_id()
    task = asyncio.get_running_loop().create_task(
        _log_question(bot, collection, question, answered, answer_id)
    )
    _logging.add(task)  # the loop keeps only weak references to its tasks
    task.add_done_callback(_logging.discard)
    return answer_id


async def questions_logged(timeout_s: float = LOGGED_WAIT_S) -> None:
    """Wait (at most `timeout_s`) until every question answered so far is logged: /insights
    then counts the question asked just before it (a PostgreSQL write lands after the next
    command's read, a SQLite one mostly before)."""
    pending = [task for task in _logging if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)


async def _log_question(
    bot: ArchivistBot, collection: str, question: str, answered: bool, answer_id: str
) -> None:
    try:
        await bot.offload(
            bot.archive.log_question, collection, question, answered=answered, answer_id=answer_id
        )
    except ArchivistError as exc:  # stopping, or the store is busy: this one goes unlogged
        log.info("question not logged in %s: %s", collection, type(exc).__name__)
    except Exception:  # noqa: BLE001 - an answer does not fail for its log
        log.exception("could not log a question in %s", collection)


FEEDBACK_ITEMS = (Vote,)

"""What every button shares: error handling, cooldowns, whose reply it is, the page turn."""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.errors import report_error

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

NO_PINGS = discord.AllowedMentions.none()
EXPIRED = "This button has expired. Run the command again."


def bot_of(interaction: discord.Interaction) -> ArchivistBot:
    return interaction.client  # type: ignore[return-value]


async def guarded(interaction: discord.Interaction, work: Callable[[], Awaitable[None]]) -> None:
    """Buttons share the slash commands' error handling."""
    try:
        await work()
    except Exception as error:  # noqa: BLE001 - reported to the user and logged
        await report_error(interaction, error)


async def server_of(interaction: discord.Interaction) -> int | None:
    """The server a button was pressed in; outside one (None) the member is told it expired."""
    if interaction.guild_id is None:
        await interaction.response.send_message(EXPIRED, ephemeral=True)
    return interaction.guild_id


# Per bot, per kind of button: a cooldown mapping keyed by member. Buttons that run an ask or read
# the archive cost what the commands cost, so they get the ask cooldown: "More results" its own
# bucket, and the browsing buttons (show, pages) one between them, so reading an article page
# by page does not use up the member's next "More results".
_cooldowns: weakref.WeakKeyDictionary[Any, dict[str, commands.CooldownMapping]] = (
    weakref.WeakKeyDictionary()
)


def _member(interaction: discord.Interaction) -> int:
    return interaction.user.id


def check_cooldown(interaction: discord.Interaction, kind: str) -> None:
    """Raise CommandOnCooldown (told to the member alone) when they click faster than allowed."""
    bot = bot_of(interaction)
    mappings = _cooldowns.setdefault(bot, {})
    if kind not in mappings:
        rate, per = bot.ask_cooldown_spec
        mappings[kind] = commands.CooldownMapping(app_commands.Cooldown(rate, per), _member)
    bucket = mappings[kind].get_bucket(interaction)  # type: ignore[arg-type]
    retry_after = bucket.update_rate_limit() if bucket is not None else None
    if retry_after:
        raise app_commands.CommandOnCooldown(bucket, retry_after)  # type: ignore[arg-type]


def fits(custom_id: str) -> bool:
    return len(custom_id) <= render.CUSTOM_ID_MAX


def for_someone_else(interaction: discord.Interaction) -> bool:
    """Whether a button was pressed on a public reply by someone other than the member it
    answered: turning its pages would change what the whole channel reads."""
    message = interaction.message
    if message is None or message.flags.ephemeral:
        return False
    meta = message.interaction_metadata
    return meta is None or meta.user.id != interaction.user.id


async def turn_page(
    interaction: discord.Interaction, page: Callable[[int], Awaitable[dict[str, Any]]]
) -> None:
    """Show another page: in place for the member the reply is for (or on a private reply), as
    a private copy for anyone else, so the public message stays as the channel reads it."""
    assert interaction.guild_id is not None
    private = for_someone_else(interaction)
    await interaction.response.defer(ephemeral=private, thinking=private)
    reply = await page(interaction.guild_id)
    if private:
        await interaction.followup.send(ephemeral=True, **send_kwargs(reply))
    else:
        await interaction.edit_original_response(
            embeds=reply["embeds"], view=reply["view"], allowed_mentions=NO_PINGS
        )


def since_date(key: str | None, now: datetime | None = None) -> str | None:
    """The ISO day a `since` choice starts at (None for "any")."""
    days = render.SINCE_DAYS.get(key or "")
    if not days:
        return None
    return ((now or datetime.now(UTC)) - timedelta(days=days)).date().isoformat()


# ---- answers ---------------------------------------------------------------------------------


def send_kwargs(reply: dict[str, Any]) -> dict[str, Any]:
    out = {"content": reply["content"], "embeds": reply["embeds"], "allowed_mentions": NO_PINGS}
    if reply.get("view") is not None:
        out["view"] = reply["view"]
    return out


def button_label(item: discord.ui.Item[Any], default: str) -> str:
    """The label of the button a persistent item was rebuilt from."""
    return getattr(item, "label", None) or default


class Expired(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"archivist:(?!(?:more|show|page|recent|delete|vote):|cancel$).*",
):
    """Buttons of an older version of the bot: say so instead of failing silently."""

    def __init__(self, custom_id: str) -> None:
        super().__init__(discord.ui.Button(label="expired", custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ):  # type: ignore[override]
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)

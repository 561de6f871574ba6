"""The one error handler: a short ephemeral message for the user, the traceback for the log."""

from __future__ import annotations

import logging
import math
import secrets
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from archivist.errors import ArchivistError, ArticleNotFound, DiskFull, FeedNotFound, user_text

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")


ROLE_ID_HELP = (
    "turn on Developer Mode in Discord (User Settings > Advanced), then right-click the role "
    "in Server Settings > Roles and choose Copy Role ID"
)


class NotAdmin(app_commands.CheckFailure):
    def __init__(self, role: discord.Role | None = None) -> None:
        extra = f" or the {role.mention} role" if role is not None else ""
        super().__init__(f"Only members with the Manage Server permission{extra} can do this.")


class UserError(app_commands.AppCommandError):
    """A refusal whose message is meant for the user as is (bad input, limits)."""


def admin_role_id(setting: str | None) -> int | None:
    """The role id `ARCHIVIST_ADMIN_ROLE` names, or None.

    Only an id: any member with Manage Roles can create a role with a given name, so a name
    would hand the admin commands to them.
    """
    value = (setting or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def warn_if_role_name(setting: str | None) -> None:
    if setting and admin_role_id(setting) is None:
        log.warning(
            "ARCHIVIST_ADMIN_ROLE “%s” is ignored: it must be the role's id, not its name (%s)",
            setting,
            ROLE_ID_HELP,
        )


def is_admin(interaction: discord.Interaction, role_id: int | None) -> bool:
    """Manage Server (from the interaction's member permissions) or the configured role's id."""
    if interaction.guild is None:
        return False
    if interaction.permissions.manage_guild or interaction.permissions.administrator:
        return True
    roles = getattr(interaction.user, "roles", [])
    # @everyone's id is the server's: that setting would make every member an admin
    return role_id is not None and any(r.id == role_id and not r.is_default() for r in roles)


async def require_admin(interaction: discord.Interaction) -> bool:
    """An app_commands check: server owners can override default_permissions, so check here too."""
    settings = getattr(interaction.client, "settings", None)
    role_id = admin_role_id(getattr(settings, "admin_role", None))
    server_settings = getattr(getattr(interaction.client, "archive", None), "server_settings", None)
    if server_settings is not None and interaction.guild_id is not None:
        # the role /settings picked replaces ARCHIVIST_ADMIN_ROLE in its server; a server's
        # first look reads SQLite, so off the event loop like every other store read
        bot: ArchivistBot = interaction.client  # type: ignore[assignment]
        chosen = await bot.offload(server_settings, str(interaction.guild_id))
        role_id = chosen.admin_role_id or role_id
    if not is_admin(interaction, role_id):
        role = interaction.guild.get_role(role_id) if interaction.guild and role_id else None
        raise NotAdmin(role)
    return True


# The core's messages name no command; in Discord, where to look next.
HINTS: dict[type[ArchivistError], str] = {
    ArticleNotFound: "/recent lists the articles.",
    FeedNotFound: "/feed list shows the feeds.",
}


def retry_in(seconds: float) -> str:
    """When a cooldown ends, as a member reads it: never "in 0 s"."""
    if seconds < 1:
        return "in a moment"
    return f"in {math.ceil(seconds)} s"


DISK_FULL = (
    "The bot's disk is full, so nothing of this was saved. Its host needs to free some space;"
    " try again later."
)


def archivist_message(error: ArchivistError) -> str:
    if isinstance(error, DiskFull):  # the path is the host's business, not the member's
        log.error("%s", error)
        return DISK_FULL
    hint = next((h for kind, h in HINTS.items() if isinstance(error, kind)), "")
    return f"{user_text(error)} {hint}".strip()


def user_message(error: BaseException) -> str | None:
    """The message to show for errors the user can act on; None for bugs."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error.original if hasattr(error, "original") else error
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: you can use this again {retry_in(error.retry_after)}."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in servers, not in direct messages: use it in a server."
    if isinstance(error, ArchivistError):
        return archivist_message(error)
    if isinstance(error, app_commands.CheckFailure | UserError):
        text = str(error)
        return text[:1].upper() + text[1:]
    return None


def new_error_id() -> str:
    """A short id that ties a member's "something went wrong" to its one traceback in the log."""
    return secrets.token_hex(4)


def something_went_wrong(error_id: str) -> str:
    return f"Something went wrong on my side (error {error_id}, logged); try again in a moment."


def log_unexpected(what: str, error: BaseException, guild_id: int | None = None) -> str:
    """Log a bug's traceback once, with a new error id; the member's message to show with it."""
    error_id = new_error_id()
    log.error(
        "unexpected error in %s (error %s)",
        what,
        error_id,
        exc_info=error,
        extra={"error_id": error_id, "guild_id": guild_id, "outcome": "error"},
    )
    return something_went_wrong(error_id)


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    message = user_message(error)
    command = interaction.command.qualified_name if interaction.command else "a component"
    if message is None:
        interaction.extras["outcome"] = "error"
        message = log_unexpected(command, error, interaction.guild_id)
    else:
        interaction.extras["outcome"] = "refused"
        # the class only: a refusal's text can quote what the member typed
        log.info("refused %s: %s", command, type(error).__name__)
        log.debug("refused %s: %s", command, message)
    try:
        if interaction.response.is_done():
            await _clear_public_thinking(interaction)
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about the error", exc_info=True)


async def _clear_public_thinking(interaction: discord.Interaction) -> None:
    """Discord shows the first followup after a defer in the deferred message, with the defer's
    visibility whatever the followup asks: an error after a public "thinking..." would be shown
    to the whole channel. Deleting that message first lets the error go to its member alone."""
    if interaction.response.type != discord.InteractionResponseType.deferred_channel_message:
        return
    try:
        original = await interaction.original_response()
        if original.flags.loading and not original.flags.ephemeral:
            await interaction.delete_original_response()
    except Exception:  # noqa: BLE001 - best effort: the member must still get the message
        log.warning("could not remove the public placeholder before an error", exc_info=True)

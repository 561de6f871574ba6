"""The one error handler: a short ephemeral message for the user, the traceback for the log."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from archivist.errors import ArchivistError

log = logging.getLogger("archivist.bot")


class NotAdmin(app_commands.CheckFailure):
    def __init__(self, role: str | None) -> None:
        extra = f" or the “{role}” role" if role else ""
        super().__init__(f"Only members with the Manage Server permission{extra} can do this.")


class UserError(app_commands.AppCommandError):
    """A refusal whose message is meant for the user as is (bad input, limits)."""


def is_admin(interaction: discord.Interaction, admin_role: str | None) -> bool:
    """Manage Server (from the interaction's member permissions) or the configured role."""
    if interaction.guild is None:
        return False
    if interaction.permissions.manage_guild or interaction.permissions.administrator:
        return True
    roles = getattr(interaction.user, "roles", [])
    return bool(admin_role) and any(r.name == admin_role for r in roles)


def require_admin(interaction: discord.Interaction) -> bool:
    """An app_commands check: server owners can override default_permissions, so check here too."""
    role = getattr(interaction.client, "settings", None)
    role = getattr(role, "admin_role", None)
    if not is_admin(interaction, role):
        raise NotAdmin(role)
    return True


def user_message(error: BaseException) -> str | None:
    """The message to show for errors the user can act on; None for bugs."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error.original if hasattr(error, "original") else error
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: you can use this again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in servers, not in direct messages."
    if isinstance(error, app_commands.CheckFailure | UserError | ArchivistError):
        return str(error)
    return None


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    message = user_message(error)
    if message is None:
        command = interaction.command.qualified_name if interaction.command else "a component"
        log.error("error in %s", command, exc_info=error)
        message = "Something went wrong on my side; it has been logged."
    else:
        log.info("refused %s: %s", interaction.data and interaction.data.get("name"), message)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about the error", exc_info=True)

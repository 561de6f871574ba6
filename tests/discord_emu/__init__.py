"""A local emulator of Discord's HTTP API and gateway, for testing the bot end to end."""

from .emulator import DiscordEmulator, Interaction, Recorded
from .payloads import ADMINISTRATOR, MANAGE_GUILD, MEMBER_DEFAULT, Guild
from .validation import validate_message

__all__ = [
    "ADMINISTRATOR",
    "MANAGE_GUILD",
    "MEMBER_DEFAULT",
    "DiscordEmulator",
    "Guild",
    "Interaction",
    "Recorded",
    "validate_message",
]

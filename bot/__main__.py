"""`python -m bot`: the same as `archivist bot`."""

from __future__ import annotations

from archivist.config import load_settings
from bot.app import run


def main() -> None:
    run(load_settings())  # it sets up logging (ARCHIVIST_LOG_LEVEL, ARCHIVIST_LOG_FORMAT)


if __name__ == "__main__":
    main()

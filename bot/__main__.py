"""`python -m bot`: the same as `archivist bot`."""

from __future__ import annotations

import logging

from archivist.config import load_settings
from bot.app import run


def main() -> None:
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run(settings)


if __name__ == "__main__":
    main()

"""RSS and Atom feeds."""

from __future__ import annotations

from archivist.feeds.polling import *  # noqa: F403

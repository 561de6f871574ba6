"""`archivist` on the fake embedder, for tests that run the command in a process of its own
(test_crash_safety.py kills it mid-write): the store is what is tested, not the model.

    python tests/crash_ingest.py --data-dir DIR ingest PATH --json
"""

from __future__ import annotations

import sys

from archivist.archive import Archive
from archivist.cli import main
from archivist.config import Settings
from archivist.embedding import HashingEmbedder


def fake_archive(settings: Settings) -> Archive:
    return Archive(settings.data_dir, limits=settings.limits, embedder=HashingEmbedder())


if __name__ == "__main__":
    main(sys.argv[1:], archive_factory=fake_archive)

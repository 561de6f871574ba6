"""The `archivist` command: parse, call `Archive`, print text or JSON.

Exit codes: 0 success; 1 an input or operation failed (others stored); 2 usage errors.

`app` holds the group, the settings and the archive factory; the commands are grouped by what
they act on (`articles`, `maintenance`, `feeds`, `running`, `migrate`); `output` prints the
core's values.
Tests run any command line on a fake embedder with `main(argv, archive_factory=...)`, or with
click's runner and `obj=` the factory.
"""

from __future__ import annotations

from archivist.cli import articles, feeds, maintenance, migrate, running
from archivist.cli.app import DEFAULT_COLLECTION, ArchiveFactory, Context, cli, main, open_archive

__all__ = [
    "DEFAULT_COLLECTION",
    "ArchiveFactory",
    "Context",
    "articles",
    "cli",
    "feeds",
    "main",
    "maintenance",
    "migrate",
    "open_archive",
    "running",
]

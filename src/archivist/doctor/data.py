"""Checks of the data folder (writable, room on its disk) and of the store in it."""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import tempfile
from pathlib import Path

from archivist.config import Settings
from archivist.doctor.report import FAIL, OK, WARN, Check, checked_store, one_line
from archivist.errors import ArchivistError

MIN_FREE_BYTES = 1024**3


def check_data_dir(path: Path) -> Check:
    user = _user()
    if path.exists() and not path.is_dir():
        return Check(
            "data dir",
            FAIL,
            f"{path} is a file, not a folder",
            "move that file away, or point ARCHIVIST_DATA (or --data-dir) at a folder",
        )
    if not path.exists():
        parent = _existing_parent(path)
        if not parent.is_dir():
            return Check(
                "data dir",
                FAIL,
                f"{path} cannot be created: {parent} is a file",
                "point ARCHIVIST_DATA (or --data-dir) at a folder",
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            return Check(
                "data dir",
                FAIL,
                f"{path} does not exist and {user} cannot create it in {parent}",
                f"mkdir -p {path} && chown {user} {path}",
            )
        return Check("data dir", OK, f"{path} does not exist yet: created at the first start")
    for folder in (path, path / "store"):
        if folder.is_dir() and (problem := _write_problem(folder)):
            return Check(
                "data dir",
                FAIL,
                f"{folder} is not writable by {user} ({problem})",
                f"chown -R {user} {path} (the user the bot runs as), or use another data folder",
            )
    return Check("data dir", OK, f"{path} is writable by {user}")


def _write_problem(folder: Path) -> str | None:
    try:
        fd, name = tempfile.mkstemp(prefix=".doctor-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(name)
    return None


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def check_disk(path: Path) -> Check:
    parent = _existing_parent(path)
    try:
        free = shutil.disk_usage(parent).free
    except OSError as exc:
        return Check("disk", WARN, f"free space unknown ({exc.strerror})", "check `df -h`")
    text = f"{free / 1024**3:.1f} GB free on the disk of {parent}"
    if free < MIN_FREE_BYTES:
        return Check(
            "disk",
            WARN,
            text + " (under 1 GB: uploads fail when it is full)",
            "free some space, or move the data to a larger disk (docs/deploy.md)",
        )
    return Check("disk", OK, text)


def check_store(settings: Settings, embedder, data_usable: bool) -> Check:
    from archivist.archive import DB_NAME

    if not data_usable:
        return Check("store", WARN, "not checked: the data folder is unusable", "see data dir")
    if not (settings.store_dir / DB_NAME).exists():
        return Check("store", OK, "no archive yet: created at the first start")
    repair = (
        f"stop the bot, run `archivist --data-dir {settings.data_dir} check --repair`, start it"
    )
    try:
        return checked_store(settings, embedder, repair)
    except ArchivistError as exc:
        return Check("store", FAIL, str(exc), "see the message; docs/deploy.md has backups")
    except (sqlite3.DatabaseError, OSError) as exc:
        return Check(
            "store",
            FAIL,
            f"{settings.store_dir} cannot be read ({one_line(exc)})",
            "stop the bot and restore the latest backup (docs/deploy.md, Backups)",
        )

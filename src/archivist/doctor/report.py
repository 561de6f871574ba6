"""The doctor's findings: one `Check` per thing looked at, and the report printed from them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import click

from archivist.errors import library_reason

if TYPE_CHECKING:
    from archivist.config import Settings
    from archivist.maintenance import CheckReport

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    name: str
    status: str  # OK, WARN or FAIL
    detail: str
    fix: str | None = None

    def line(self) -> str:
        text = f"{self.status:<5} {self.name:<9} {self.detail}"
        return text + (f". Fix: {self.fix}" if self.fix and self.status != OK else "")


def print_report(checks: list[Check], as_json: bool) -> None:
    """One line per check and the counts, or one JSON object (`checks`, `ok`)."""
    if as_json:
        ok = all(c.status != FAIL for c in checks)
        click.echo(json.dumps({"checks": [asdict(c) for c in checks], "ok": ok}))
        return
    for c in checks:
        click.echo(c.line())
    counts = {s: sum(c.status == s for c in checks) for s in (OK, WARN, FAIL)}
    click.echo(f"{counts[OK]} ok, {counts[WARN]} warn, {counts[FAIL]} FAIL")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line of at most 200 characters, for a check's detail."""
    return library_reason(exc, 200)


def checked_store(settings: Settings, embedder: Any, repair: str) -> Check:
    """The doctor's `store` line on either store: `archivist check` on the archive `settings`
    describe, opened as the bot opens it (what opening or reading it raises, raised)."""
    from archivist.archive import Archive
    from archivist.maintenance import check

    if embedder is None:
        return Check("store", WARN, "not checked: the model does not load", "see the model line")
    archive = Archive(
        settings.data_dir,
        embedder=embedder,
        limits=settings.limits,
        database_url=settings.database_url,
    )
    try:
        report = check(archive)
    finally:
        archive.close()
    return store_verdict(report, repair)


def store_verdict(report: CheckReport, repair: str) -> Check:
    """The doctor's `store` line from `archivist check`'s report, on either store."""
    if not report.ok:
        shown = "; ".join(report.problems[:3])
        more = f" and {len(report.problems) - 3} more" if len(report.problems) > 3 else ""
        return Check("store", FAIL, shown + more, repair)
    articles = sum(c["articles"] for c in report.collections.values())
    passages = sum(c["passages"] for c in report.collections.values())
    return Check(
        "store",
        OK,
        f"{articles} articles, {passages} passages in {len(report.collections)} collections; "
        "`archivist check` passes",
    )

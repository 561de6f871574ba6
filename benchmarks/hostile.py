"""Hostile inputs (issue 17): each one's time, peak memory and outcome, in a fresh process.

Every input of tests/hostile_corpus.py at the sizes the issue measured: files through
`Archive.add_bytes` (the fake embedder: what is measured is reading and storing, not the
model), URLs through `archivist.fetch.read_url(url, limits, allow_private=True)` against the
local hostile server (127.0.0.1 only). Each runs in its own subprocess; the table gives its wall
time, the peak RSS of the process (where fetching happens) and of its reader workers
(`RUSAGE_CHILDREN`, as readers run in worker processes), and the one-line outcome. A process over
its time budget is killed, and says so. Then each reader on realistic inputs of 1x, 10x and 100x
size, with the time ratio per step (linear is about 10x).

    python benchmarks/hostile.py                 # everything, printed
    python benchmarks/hostile.py --write         # and the section in docs/hostile.md replaced
    python benchmarks/hostile.py --only bomb.pdf,drip-body --no-linearity
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

DOC = ROOT / "docs" / "hostile.md"
START = "<!-- hostile:start (written by benchmarks/hostile.py --write) -->"
END = "<!-- hostile:end -->"
RSS_BUDGET_MB = 600
STORE_MARGIN_S = 10.0  # chunking and storing what was read, on top of the read budget
KILL_GRACE_S = 30.0  # a process this far over its budget is killed
MEMORY_CAP = 4 * 2**30  # address space of a measured process: a runaway cannot take the machine
SCALES = (1, 10, 100)


# ---- the measured process ----------------------------------------------------------------------
def child_file(path: str, name: str) -> dict:
    from archivist.archive import Archive
    from archivist.embedding import HashingEmbedder
    from archivist.maintenance import check

    data = Path(path).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Archive(Path(tmp) / "archive", embedder=HashingEmbedder())
        before = peak_rss_kb()
        started = time.perf_counter()
        report = archive.add_bytes(name, data, collection="bench")
        seconds = time.perf_counter() - started
        stats = archive.stats(collection="bench")
        unchanged = (
            stats.articles == 0 and stats.passages == 0 and check(archive).ok
            if not report.added
            else None
        )
        archive.close()
    return {
        "seconds": seconds,
        "rss_before_kb": before,
        "outcome": describe(report),
        "unchanged": unchanged,
    }


def child_url(url: str) -> dict:
    from archivist.config import Limits
    from archivist.errors import ReadError
    from archivist.fetch import read_url

    before = peak_rss_kb()
    started = time.perf_counter()
    try:
        result = read_url(url, Limits(), allow_private=True)
        outcome = f"read {len(result.articles)} article(s)"
    except ReadError as exc:
        outcome = f"refused: {exc.reason}"
    return {"seconds": time.perf_counter() - started, "rss_before_kb": before, "outcome": outcome}


def child_linearity(reader: str, paths: list[str]) -> dict:
    """One reader on inputs of growing size, in this process (no worker: the reader alone)."""
    from archivist.config import Limits
    from archivist.errors import ReadError
    from archivist.readers import read_here

    limits = Limits()
    name = f"input.{reader}"
    rows = []
    for index, path in enumerate(paths):
        data = Path(path).read_bytes()
        if index == 0:
            read_here(name, data, limits)  # imports and caches, not measured
        # short reads are repeated and their median kept: a ratio of two single short runs
        # would be mostly noise
        times: list[float] = []
        outcome = ""
        while not enough(times):
            started = time.perf_counter()
            try:
                result = read_here(name, data, limits)
                outcome = f"{len(result.articles)} article(s)"
            except ReadError as exc:
                outcome = f"refused: {exc.reason}"
            times.append(time.perf_counter() - started)
        rows.append(
            {
                "size": len(data),
                "seconds": statistics.median(times),
                "rss_kb": peak_rss_kb(),
                "outcome": outcome,
            }
        )
    return {"rows": rows}


def enough(times: list[float]) -> bool:
    if times and times[0] >= 1.0:
        return True  # a long read: once is enough
    return len(times) >= 300 or (len(times) >= 3 and sum(times) >= 1.0)


def peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). Not `ru_maxrss`: Linux carries that across exec
    from the forking parent, so a child would report the benchmark's own peak."""
    for text in Path("/proc/self/status").read_text().splitlines():
        if text.startswith("VmHWM:"):
            return int(text.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def describe(report) -> str:
    parts = []
    if report.added:
        parts.append(f"added {len(report.added)}")
    if report.duplicates:
        parts.append(f"{len(report.duplicates)} duplicate(s)")
    if report.failed:
        first = report.failed[0]
        what = "refused:" if not report.added else f"{len(report.failed)} failed, e.g."
        where = first["path"].split("!", 1)[1] if "!" in first["path"] else ""
        parts.append(f"{what} {where + ': ' if where else ''}{first['error']}")
    return "; ".join(parts) or "nothing"


def run_child(argv: list[str]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    kind, args = argv[0], argv[1:]
    try:
        if kind == "file":
            out = child_file(*args)
        elif kind == "url":
            out = child_url(*args)
        else:
            out = child_linearity(args[0], args[1:])
    except MemoryError:
        out = {"outcome": f"crashed: MemoryError (over the {MEMORY_CAP >> 30} GiB cap)"}
    except Exception as exc:  # noqa: BLE001 - the table shows it; a traceback is itself a finding
        out = {"outcome": f"crashed: {type(exc).__name__}: {exc}"[:300]}
    try:  # the reader workers end here, so that RUSAGE_CHILDREN counts them
        from archivist import sandbox

        sandbox.pool().close()
    except Exception:  # noqa: BLE001 - no sandbox (an older tree): nothing to close
        pass
    out["rss_self_kb"] = peak_rss_kb()
    out["rss_children_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("RESULT " + json.dumps(out), flush=True)


# ---- the parent: inputs, processes, the table -------------------------------------------------
def measure(args: list[str], timeout_s: float) -> dict:
    """Run a measured process; a process over `timeout_s` is killed and reported so."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        stdout, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)  # the process and its reader workers
        process.communicate()
        return {
            "outcome": f"killed after {timeout_s:.0f} s (over its budget)",
            "seconds": time.perf_counter() - started,
        }
    for line in stdout.decode(errors="replace").splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"outcome": f"crashed (exit {process.returncode}, no result)"}


def file_rows(only: set[str] | None, full: bool) -> list[dict]:
    from hostile_corpus import FILES, file_case

    from archivist.config import Limits

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in FILES:
            if only and name not in only:
                continue
            case = file_case(name, full)
            path = Path(tmp) / name
            path.write_bytes(case.data)
            budget = Limits().read_budget(len(case.data))[0] + STORE_MARGIN_S
            result = measure(["file", str(path), name], budget + KILL_GRACE_S)
            path.unlink()
            rows.append(row(name, case.expect.note, len(case.data), budget, result))
            print(line(rows[-1]), flush=True)
    return rows


def url_rows(only: set[str] | None, full: bool) -> list[dict]:
    from hostile_corpus import URLS, hostile_server

    from archivist.config import Limits

    limits = Limits()
    budget = (
        limits.fetch_deadline_s + limits.read_budget(limits.upload_max_bytes)[0] + STORE_MARGIN_S
    )
    rows = []
    with hostile_server(full=full, drip_interval=1.0, lifetime_s=3600) as server:
        for case in URLS:
            if only and case.name not in only:
                continue
            result = measure(["url", case.url(server.base)], budget + KILL_GRACE_S)
            rows.append(row(case.name, case.expect.note, None, budget, result))
            print(line(rows[-1]), flush=True)
    return rows


def row(name: str, note: str, size: int | None, budget: float, result: dict) -> dict:
    rss_self = result.get("rss_self_kb", 0) / 1024
    rss_children = result.get("rss_children_kb", 0) / 1024
    seconds = result.get("seconds")
    ok = (
        seconds is not None
        and seconds <= budget
        and max(rss_self, rss_children) < RSS_BUDGET_MB
        and not result["outcome"].startswith(("killed", "crashed"))
        and result.get("unchanged") is not False
    )
    return {
        "input": name,
        "note": note,
        "size": size,
        "seconds": seconds,
        "budget": budget,
        "rss_self": rss_self,
        "rss_workers": rss_children,
        "outcome": " ".join(result["outcome"].split()),
        "unchanged": result.get("unchanged"),
        "ok": ok,
    }


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit, scale in (("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def line(r: dict) -> str:
    seconds = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
    return (
        f"{'ok ' if r['ok'] else 'BAD'} {r['input']:24} {human_size(r['size']):>9} "
        f"{seconds:>7} s  {r['rss_self']:6.0f} / {r['rss_workers']:4.0f} MB  {r['outcome'][:110]}"
    )


# ---- linearity ---------------------------------------------------------------------------------
def linearity_rows(only: set[str] | None) -> list[dict]:
    from hostile_inputs import linear_input  # tests/ is on the path only once this module runs

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for reader in ("txt", "json", "jsonl", "html", "pdf", "docx", "zip"):
            if only and reader not in only:
                continue
            paths = []
            for scale in SCALES:
                path = Path(tmp) / f"{reader}-{scale}.{reader}"
                path.write_bytes(linear_input(reader, scale))
                paths.append(str(path))
            result = measure(["read", reader, *paths], 900)
            rows.append({"reader": reader, **result})
            print(linearity_line(rows[-1]), flush=True)
    return rows


def linearity_line(r: dict) -> str:
    if "rows" not in r:
        return f"{r['reader']:6} {r['outcome']}"
    cells = []
    previous = None
    for scale, step in zip(SCALES, r["rows"], strict=True):
        ratio = f" (x{step['seconds'] / previous:.1f})" if previous else ""
        cells.append(f"{scale}x {human_size(step['size'])} {step['seconds']:.3f} s{ratio}")
        previous = step["seconds"]
    return f"{r['reader']:6} " + " | ".join(cells)


# ---- the document -----------------------------------------------------------------------------
def machine() -> list[str]:
    cpu = platform.machine()
    for text in Path("/proc/cpuinfo").read_text().splitlines():
        if text.startswith("model name"):
            cpu = text.split(":", 1)[1].strip()
            break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"Machine: {cpu}, nproc {os.cpu_count()}, Python {platform.python_version()}",
        f"Date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; load average {load}",
    ]


def markdown(header: list[str], files: list[dict], urls: list[dict], linear: list[dict]) -> str:
    out = [START, "", *[f"{h}  " for h in header], ""]
    if files or urls:
        out += [
            "| input | what it is | size | time (s) | budget (s) | peak RSS process / "
            "workers (MB) | outcome | unchanged | within budget |",
            "|---|---|---:|---:|---:|---:|---|---|---|",
        ]
        for r in files + urls:
            seconds = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
            unchanged = {True: "yes", False: "**no**", None: "-"}[r["unchanged"]]
            outcome = r["outcome"].replace("|", "\\|")
            out.append(
                f"| `{r['input']}` | {r['note']} | {human_size(r['size'])} | {seconds} | "
                f"{r['budget']:.0f} | {r['rss_self']:.0f} / {r['rss_workers']:.0f} | {outcome} | "
                f"{unchanged} | {'yes' if r['ok'] else '**no**'} |"
            )
        out.append("")
    if linear:
        out += [
            "| reader | 1x | 10x (ratio) | 100x (ratio) | peak RSS at 100x (MB) "
            "| outcome at 100x |",
            "|---|---|---|---|---:|---|",
        ]
        for r in linear:
            if "rows" not in r:
                out.append(f"| {r['reader']} | {r['outcome']} | | | | |")
                continue
            cells, previous = [], None
            for step in r["rows"]:
                ratio = f" (x{step['seconds'] / previous:.1f})" if previous else ""
                cells.append(f"{human_size(step['size'])}: {step['seconds']:.3f} s{ratio}")
                previous = step["seconds"]
            last = r["rows"][-1]
            out.append(
                f"| {r['reader']} | {' | '.join(cells)} | {last['rss_kb'] / 1024:.0f} | "
                f"{last['outcome']} |"
            )
        out.append("")
    out.append(END)
    return "\n".join(out)


def write_section(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "## Hostile inputs\n\n" + START + "\n" + END + "\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + START + "\n" + END + "\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + section + tail)
    print(f"wrote {DOC.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--write", action="store_true", help="replace the section in docs/hostile.md"
    )
    parser.add_argument("--only", help="comma-separated input names (files, URLs or readers)")
    parser.add_argument("--small", action="store_true", help="the tests' sizes, not the issue's")
    parser.add_argument("--no-inputs", action="store_true", help="only the linearity")
    parser.add_argument("--no-linearity", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    header = machine()
    print("\n".join(header), flush=True)
    files = [] if args.no_inputs else file_rows(only, full=not args.small)
    urls = [] if args.no_inputs else url_rows(only, full=not args.small)
    linear = [] if args.no_linearity else linearity_rows(only)
    bad = [r["input"] for r in files + urls if not r["ok"]]
    print(f"{len(files) + len(urls) - len(bad)} of {len(files) + len(urls)} inputs within budget")
    if bad:
        print("over budget or unclear: " + ", ".join(bad))
    if args.write:
        write_section(markdown(header, files, urls, linear))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2:])
    else:
        main()

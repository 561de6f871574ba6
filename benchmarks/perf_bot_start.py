"""How long `archivist bot` takes to be ready, with a large archive (issue 5).

Starts the local Discord emulator (tests/discord_emu) in this process, then `archivist bot` as a
separate process pointed at it (DISCORD_API_BASE / DISCORD_GATEWAY_URL), on a data directory
built by `perf_ask.py build --size N` (its 1M-passage index is opened, memory-mapped, at
start). Timed from the process start: the gateway session identified, the commands synced, and
the first `/ask` answered (in a server whose own collection is small: the emulator's server ids
are not the benchmark archive's collection name). Then SIGTERM, and how long a clean stop takes.

    python benchmarks/perf_bot_start.py --size 1000000 [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time

from perf_common import ROOT, machine, percentiles

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


async def once(data_dir: str) -> dict:
    from discord_emu.emulator import DiscordEmulator

    emu = await DiscordEmulator().start()
    guild = emu.add_guild("Alpha")
    member = emu.add_user("max")
    env = {
        **os.environ,
        "DISCORD_TOKEN": emu.token,
        "DISCORD_API_BASE": emu.api_base,
        "DISCORD_GATEWAY_URL": emu.gateway_url,
        "ARCHIVIST_LOG_LEVEL": "WARNING",
    }
    exe = ROOT / ".venv" / "bin" / "archivist"
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(exe), "--data-dir", data_dir, "bot"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    out: dict = {}
    try:
        await emu.wait_until(lambda: any(s.identified for s in emu.sessions), 120)
        out["identified_s"] = time.monotonic() - started
        await emu.wait_until(lambda: emu.commands.get(None), 120)
        out["commands_synced_s"] = time.monotonic() - started
        rec = await emu.send_interaction(
            "ask", {"question": "When will the library open on Sundays?"}, guild=guild, user=member
        )
        await emu.wait_until(lambda: rec.original and not rec.original.get("flags", 0) & 128, 60)
        out["first_answer_s"] = time.monotonic() - started
        out["first_answer_text"] = json.dumps(rec.original)[:120]
    finally:
        stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            out["exit_code"] = await asyncio.to_thread(proc.wait, 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out["exit_code"] = "killed"
        out["stop_s"] = time.monotonic() - stop
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        out["stderr_tail"] = err[-300:]
        await emu.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from perf_archives import archive_dir

    directory = archive_dir(args.size)
    if not (directory / "store").exists():
        print(f"skipped: {directory} is missing; run perf_ask.py build --size {args.size}")
        return
    runs = [asyncio.run(once(str(directory))) for _ in range(args.repeats)]
    summary = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "size": args.size,
        **{
            key: {k: round(v, 2) for k, v in percentiles([r[key] for r in runs]).items()}
            for key in ("identified_s", "commands_synced_s", "first_answer_s", "stop_s")
        },
        "exit_codes": [r["exit_code"] for r in runs],
        "load_average": os.getloadavg()[0],
        "first_run": runs[0],
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

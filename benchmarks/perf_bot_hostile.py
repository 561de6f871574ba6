"""Questions while hostile input is being read (issue 17): 20 concurrent /ask within 1 s.

The real discord.py client runs against the local Discord emulator, with the real model and a
real archive of Reuters articles (read from ``../shared/data``, never copied). While an admin's
``/upload`` of a URL on a local server that sends one byte every 0.2 s and an upload of the
100-page PDF bomb (tests/hostile_corpus.py) are being read, ``--users`` members each run
``/ask`` at the same moment, in ``--waves`` waves. Each ask is timed from the interaction's
creation to the bot's final answer, as a member would see it.

    python benchmarks/perf_bot_hostile.py               # 2,000 passages, 20 users, 3 waves
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from perf_bot_load import upload_file
from perf_common import ROOT, machine, percentiles

sys.path.insert(0, str(ROOT / "tests"))

TARGET_S = 1.0


async def scenario(args: argparse.Namespace, seed: bytes, questions: list[str]) -> dict:
    from discord_emu.harness import running_bot
    from discord_emu.payloads import MANAGE_GUILD, MEMBER_DEFAULT
    from hostile_corpus import file_case, hostile_server

    from archivist.archive import Archive
    from archivist.config import Limits
    from archivist.embedding import default_embedder

    bomb = file_case("bomb.pdf", full=True).data
    lines = file_case("lines.pdf", full=True).data  # read, in about 1.5 s of a worker's time
    limits = Limits(upload_max_bytes=max(len(seed), len(bomb)) + 1024)
    with tempfile.TemporaryDirectory(prefix="archivist-hostile-") as tmp:
        archive = Archive(tmp, embedder=default_embedder(), limits=limits)
        archive.embedder.encode(["warm up"])
        async with running_bot(
            Path(tmp),
            archive=archive,
            upload_max_bytes=limits.upload_max_bytes,
            allow_private_urls=True,
            ask_cooldown=(1000, 60.0),
            upload_cooldown=(1000, 60.0),
        ) as h:
            emu, guild = h.emu, h.guild
            seeded = await h.command(
                "upload", {"file": ("reuters.jsonl", seed, "application/jsonl")}, admin=True
            )
            await h.wait_final(seeded, "Added", timeout=600)
            drip = contextlib.ExitStack()
            url = drip.enter_context(hostile_server(drip_interval=0.2)).base + "/drip-body"
            admin = {"guild": guild, "user": h.admin, "permissions": MEMBER_DEFAULT | MANAGE_GUILD}
            slow = await emu.send_interaction("upload", {"url": url}, **admin)
            pdfs = []
            users = [emu.add_user(f"reader{i}") for i in range(args.users)]
            asks: list[float] = []
            busy_during = []
            for wave in range(args.waves):
                # a PDF bomb and a PDF of 20,000 lines start with each wave
                for name, data in (("bomb.pdf", bomb), ("lines.pdf", lines)):
                    pdfs.append(
                        await emu.send_interaction(
                            "upload", {"file": (name, data, "application/pdf")}, **admin
                        )
                    )
                await asyncio.sleep(0.3)  # their reads under way

                async def one(user: dict, question: str) -> float:
                    t0 = time.monotonic()
                    rec = await emu.send_interaction(
                        "ask", {"question": question[:300]}, guild=guild, user=user
                    )
                    await h.wait_done(rec, timeout=60)
                    return time.monotonic() - t0

                asks += await asyncio.gather(
                    *(
                        one(u, questions[(wave * len(users) + i) % len(questions)])
                        for i, u in enumerate(users)
                    )
                )
                busy_during.append({"slow_url": done(slow), "pdfs": [done(p) for p in pdfs[-2:]]})
                await asyncio.sleep(1.0)
            drip.close()  # the slow page ends: its upload reports
            uploads = [slow, *pdfs]
            await emu.wait_until(lambda: all(done(u) for u in uploads), 180)
    return {
        "asks": len(asks),
        "answer_s": {k: round(v, 3) for k, v in percentiles(asks).items()},
        "answer_max_s": round(max(asks), 3),
        "within_target": sum(a <= TARGET_S for a in asks),
        "inputs_done_when_the_wave_was_answered": busy_during,
        "pdf_outcomes": sorted({_outcome(p) for p in pdfs}),
        "load_average": os.getloadavg()[0],
    }


def done(upload) -> bool:
    from discord_emu.harness import message_text

    text = message_text(upload.original or {})
    return "Added" in text or "Nothing was added" in text


def _outcome(upload) -> str:
    from discord_emu.harness import message_text

    return message_text(upload.original or {}).replace("\n", " ")[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=2_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--waves", type=int, default=3)
    args = parser.parse_args()
    seed, questions, articles, passages = upload_file(args.passages)
    print(f"archive: {articles} Reuters articles, {passages} passages", flush=True)
    result = asyncio.run(scenario(args, seed, questions))
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        **result,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

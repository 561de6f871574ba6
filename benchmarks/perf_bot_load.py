"""The bot under load (issue 5): concurrent /ask while a large upload is being stored.

The real discord.py client runs against the local Discord emulator (tests/discord_emu), with the
real model (ONNX Runtime) and a real archive in a temporary directory. An admin uploads a JSONL
file of Reuters articles (``../shared/data/reuters-21578``, read from there, never copied) that
chunks into about ``--passages`` passages; while it is being embedded and stored, ``--users``
different members each run ``/ask`` at the same moment, in ``--waves`` waves spread over the
upload. Each ask is timed from the interaction's creation to the bot's final answer (the
deferred reply edited with the hits), as a member would see it; the acknowledgement (Discord's
3-second rule) and the gateway heartbeats are checked too.

    python benchmarks/perf_bot_load.py                     # 20k passages, 20 users, 3 waves
    python benchmarks/perf_bot_load.py --passages 2000     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from perf_common import DATA, ROOT, machine, need, percentiles

sys.path.insert(0, str(ROOT / "tests"))

TARGET_S = 2.0
HEARTBEAT_S = 2.0  # Discord asks for ~41 s; a short interval makes a blocked loop show


def upload_file(passages: int) -> tuple[bytes, list[str], int, int]:
    """The first Reuters articles that chunk into `passages` passages, as JSONL bytes; some of
    their titles as questions; the article and passage counts."""
    from quality_data import news_articles

    from archivist.chunking import chunk_article
    from archivist.embedding import count_model_tokens

    lines, titles, total = [], [], 0
    for _, record, article in news_articles(need(DATA / "reuters-21578" / "articles.jsonl")):
        lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        titles.append(article.title)
        total += len(chunk_article(article, count_model_tokens))
        if total >= passages:
            break
    step = max(1, len(titles) // 200)
    questions = [f"What happened: {t.lower()}?" for t in titles[::step]]
    return "".join(lines).encode("utf-8"), questions, len(lines), total


async def scenario(args: argparse.Namespace, data: bytes, questions: list[str]) -> dict:
    from discord_emu.harness import running_bot
    from discord_emu.payloads import MANAGE_GUILD, MEMBER_DEFAULT

    from archivist.archive import Archive
    from archivist.config import Limits
    from archivist.embedding import default_embedder

    limits = Limits(upload_max_bytes=len(data) + 1024)
    with tempfile.TemporaryDirectory(prefix="archivist-load-") as tmp:
        archive = Archive(tmp, embedder=default_embedder(), limits=limits)
        archive.embedder.encode(["warm up"])
        async with running_bot(
            Path(tmp),
            archive=archive,
            upload_max_bytes=limits.upload_max_bytes,
            heartbeat_interval=HEARTBEAT_S,
        ) as h:
            emu, guild = h.emu, h.guild
            users = [emu.add_user(f"reader{i}") for i in range(args.users)]
            started = time.monotonic()
            upload = await emu.send_interaction(
                "upload",
                {"file": ("reuters.jsonl", data, "application/jsonl")},
                guild=guild,
                user=h.admin,
                permissions=MEMBER_DEFAULT | MANAGE_GUILD,
            )

            def stored() -> int:
                return archive.store.stats(guild.id)["passages"]

            asks: list[dict] = []
            qi = 0
            for wave in range(args.waves):
                # spread the waves over the upload: when 1/(w+1), 2/(w+1), ... of it is stored
                goal = args.passages * (wave + 1) // (args.waves + 1)
                while await asyncio.to_thread(stored) < goal:
                    if upload.original and "Added" in json.dumps(upload.original):
                        break
                    await asyncio.sleep(0.2)
                at = await asyncio.to_thread(stored)

                async def one(user: dict, question: str, wave: int = wave, at: int = at) -> dict:
                    t0 = time.monotonic()
                    rec = await emu.send_interaction(
                        "ask", {"question": question[:300]}, guild=guild, user=user
                    )
                    await h.wait_done(rec, timeout=60)
                    done = time.monotonic()
                    return {
                        "wave": wave,
                        "stored_passages": at,
                        "answer_s": done - t0,
                        "ack_s": (rec.acked_at or done) - rec.created_at,
                        "hits": "Show article" in json.dumps(rec.original),
                    }

                batch = []
                for user in users:
                    batch.append(one(user, questions[qi % len(questions)]))
                    qi += 1
                asks += await asyncio.gather(*batch)
            await h.wait_final(upload, "Added", timeout=args.timeout)
            took = time.monotonic() - started
            beats = sorted(b.received_at for b in emu.heartbeats() if b.received_at >= started)
            gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
            total = await asyncio.to_thread(stored)
    answer = [a["answer_s"] for a in asks]
    return {
        "articles_passages": total,
        "upload_s": round(took, 1),
        "passages_per_s": round(total / took, 1),
        "asks": len(asks),
        "asks_with_hits": sum(a["hits"] for a in asks),
        "answer_s": {k: round(v, 3) for k, v in percentiles(answer).items()},
        "answer_max_s": round(max(answer), 3),
        "within_target": sum(a <= TARGET_S for a in answer),
        "ack_max_s": round(max(a["ack_s"] for a in asks), 3),
        "per_wave": [
            {
                "stored_passages": min(a["stored_passages"] for a in asks if a["wave"] == w),
                "max_s": round(max(a["answer_s"] for a in asks if a["wave"] == w), 3),
            }
            for w in range(args.waves)
        ],
        "heartbeat_interval_s": HEARTBEAT_S,
        "heartbeat_max_gap_s": round(max(gaps), 2) if gaps else None,
        "load_average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3600.0, help="for the whole upload")
    args = parser.parse_args()
    data, questions, articles, passages = upload_file(args.passages)
    print(
        f"upload: {articles} Reuters articles, {passages} passages, {len(data) / 1e6:.1f} MB",
        flush=True,
    )
    result = asyncio.run(scenario(args, data, questions))
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "articles": articles,
        **result,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

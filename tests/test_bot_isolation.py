"""Untrusted input has its own threads: however many slow pages an admin asks for, questions
from every server are still answered."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager

from discord_emu.harness import article, message_text, running_bot
from discord_emu.payloads import MANAGE_GUILD, MEMBER_DEFAULT

SLOW_UPLOADS = 8  # more than every thread the bot had for all its work before the split


@contextmanager
def dripping_server(seconds: float = 30.0):
    """127.0.0.1: answers each request one byte every 0.2 s, for at most `seconds`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    listener.settimeout(0.2)
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
        end = time.monotonic() + seconds
        try:
            conn.recv(4096)
            for byte in head + b"x" * 100_000:
                if stop.is_set() or time.monotonic() > end:
                    break
                conn.sendall(bytes([byte]))
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/page"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_questions_are_answered_while_slow_pages_are_being_read(tmp_path):
    async def scenario():
        async with running_bot(
            tmp_path,
            allow_private_urls=True,
            ask_cooldown=(100, 60.0),
            upload_cooldown=(100, 60.0),
        ) as h:
            # the server stops first, so the bot's shutdown need not wait for the slow reads
            with dripping_server() as url:
                await h.seed([article(t) for t in ("harbour", "library", "wind")])
                uploads = [
                    await h.emu.send_interaction(
                        "upload",
                        {"url": f"{url}?{n}"},
                        guild=h.guild,
                        user=h.admin,
                        permissions=MEMBER_DEFAULT | MANAGE_GUILD,
                    )
                    for n in range(SLOW_UPLOADS)
                ]
                await asyncio.sleep(0.5)  # every slow fetch has started
                asks = await asyncio.gather(
                    *(
                        h.command("ask", {"question": "When will the library open?"}, timeout=15)
                        for _ in range(20)
                    )
                )
                assert all("Library hours" in message_text(a.original) for a in asks)
                # the slow pages were still being read while the questions were answered
                assert all("Added" not in message_text(u.original or {}) for u in uploads)

    asyncio.run(scenario())

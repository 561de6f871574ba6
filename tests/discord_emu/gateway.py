"""The gateway side of the emulator: one websocket session per shard.

HELLO -> (client) HEARTBEAT + IDENTIFY -> READY -> GUILD_CREATE per guild, then dispatches.
Compression follows the `compress` query parameter discord.py puts in the URL: `zlib-stream`
(one zlib context per connection, each message ending in a Z_SYNC_FLUSH), `zstd-stream` when the
`zstandard` module is here to produce it, plain text frames otherwise (discord.py accepts both).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .emulator import DiscordEmulator

log = logging.getLogger("discord_emu.gateway")

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_HELLO, OP_HEARTBEAT_ACK = 10, 11


@dataclass
class Heartbeat:
    received_at: float  # time.monotonic()
    seq: int | None
    acked_at: float


@dataclass
class GatewaySession:
    ws: web.WebSocketResponse
    query: dict[str, str]
    shard: tuple[int, int] = (0, 1)
    intents: int = 0
    identified: bool = False
    seq: int = 0
    session_id: str = ""
    hello_at: float = 0.0
    heartbeats: list[Heartbeat] = field(default_factory=list)
    _compressor: Any = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def setup_compression(self) -> None:
        kind = self.query.get("compress")
        if kind == "zlib-stream":
            self._compressor = ("zlib", zlib.compressobj())
        elif kind == "zstd-stream":
            try:
                import zstandard
            except ImportError:  # discord.py also reads plain text frames
                self._compressor = None
            else:
                self._compressor = ("zstd", zstandard.ZstdCompressor().compressobj())

    async def send(self, payload: dict) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:  # compressed streams must not interleave
            if self.ws.closed:
                return
            if self._compressor is None:
                await self.ws.send_str(text)
                return
            kind, comp = self._compressor
            raw = text.encode()
            if kind == "zlib":
                data = comp.compress(raw) + comp.flush(zlib.Z_SYNC_FLUSH)
            else:
                import zstandard

                data = comp.compress(raw) + comp.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: dict) -> None:
        self.seq += 1
        await self.send({"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data})


async def handle_gateway(emu: DiscordEmulator, request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0)
    await ws.prepare(request)
    session = GatewaySession(ws=ws, query=dict(request.query))
    emu.gateway_queries.append(dict(request.query))
    if request.query.get("encoding", "json") != "json":
        await ws.close(code=4002, message=b"only json encoding is emulated")
        return ws
    session.setup_compression()
    emu.sessions.append(session)
    session.hello_at = time.monotonic()
    await session.send({"op": OP_HELLO, "d": {"heartbeat_interval": emu.heartbeat_interval_ms}})
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"binary frames are not expected")
                break
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == OP_HEARTBEAT:
                received = time.monotonic()
                await session.send({"op": OP_HEARTBEAT_ACK})
                session.heartbeats.append(Heartbeat(received, payload.get("d"), time.monotonic()))
            elif op == OP_IDENTIFY:
                await _identify(emu, session, payload.get("d") or {})
            elif op == OP_RESUME:
                await session.send({"op": 9, "d": False})  # sessions are not resumable here
            else:
                log.debug("gateway op %s ignored", op)
            emu._notify()
    finally:
        if session in emu.sessions:
            emu.sessions.remove(session)
        emu.closed_sessions.append(session)
    return ws


async def _identify(emu: DiscordEmulator, session: GatewaySession, d: dict) -> None:
    if session.identified:
        await session.ws.close(code=4005, message=b"Already authenticated.")
        return
    if d.get("token") != emu.token:
        await session.ws.close(code=4004, message=b"Authentication failed.")
        return
    if "intents" not in d:
        await session.ws.close(code=4013, message=b"Invalid intent(s).")
        return
    shard = tuple(d.get("shard") or (0, 1))
    if shard[1] != emu.shard_count or not 0 <= shard[0] < shard[1]:
        await session.ws.close(code=4010, message=b"Invalid shard.")
        return
    session.shard = (int(shard[0]), int(shard[1]))
    session.intents = int(d["intents"])
    session.identified = True
    session.session_id = f"emu-session-{len(emu.closed_sessions) + len(emu.sessions)}"
    emu.identify_payloads.append({k: v for k, v in d.items() if k != "token"})
    guilds = [g for g in emu.guilds.values() if emu.shard_of(g.id) == session.shard[0]]
    await session.dispatch(
        "READY",
        {
            "v": 10,
            "user": emu.bot_user,
            "guilds": [{"id": g.id, "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "resume_gateway_url": emu.gateway_url,
            "shard": list(session.shard),
            "application": {"id": emu.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        },
    )
    for g in guilds:
        await session.dispatch("GUILD_CREATE", g.to_gateway())

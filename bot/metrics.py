"""`/healthz` and `/metrics` (Prometheus text) for the operator, served only when
ARCHIVIST_METRICS_ADDR is set.

Each bot has its own registry, so two bots in one process (tests, shards) never share counts.
Labels are function names, outcomes and error classes: never a question, a title or a token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from archivist.config import split_addr
from archivist.doctor.database import HEALTH_TIMEOUT_S, store_answers
from archivist.errors import READ_FAILURE_KINDS, ArchivistError, ReadError, library_reason
from archivist.models import Failed, IngestReport

if TYPE_CHECKING:
    from bot.app import ArchivistBot

log = logging.getLogger("archivist.bot")

# Discord drops an interaction not acknowledged within 3 s; past this, a slow network makes it
# a near miss worth counting.
LATE_ACK_S = 2.5
# Intake calls whose IngestReport is a feed's poll, not a member's upload.
FEED_CALLS = frozenset({"poll"})
# A failed input the core reported without its kind (not a read's failure): counted all the same.
UNKNOWN_KIND = "other"
# Question latencies from a cached hit to a cold model on a slow disk.
ASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
FLOAT32_BYTES = 4


class Metrics:
    """The bot's counters, and the gauges read from the bot and the archive at scrape time."""

    def __init__(self, bot: ArchivistBot) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.answers = Counter(
            "archivist_questions", "Questions replied to, by outcome", ["outcome"], registry=r
        )
        self.calls = Histogram(
            "archivist_call_seconds",
            "Time of the bot's blocking calls (ask: a question), by function",
            ["function"],
            buckets=ASK_BUCKETS,
            registry=r,
        )
        self.uploads = Counter("archivist_uploads", "Uploads stored, by kind", ["via"], registry=r)
        self.added = Counter(
            "archivist_articles_added", "Articles added, by kind of input", ["via"], registry=r
        )
        self.read_failures = Counter(
            "archivist_read_failures",
            "Inputs that could not be read, by reason: " + ", ".join(READ_FAILURE_KINDS),
            ["reason"],
            registry=r,
        )
        for kind in (*READ_FAILURE_KINDS, UNKNOWN_KIND):  # at 0 from the start: rates need it
            self.read_failures.labels(kind)
        self.errors = Counter(
            "archivist_command_errors",
            "Commands that ended in an error: refused (the member's input) or unexpected (a bug)",
            ["kind"],
            registry=r,
        )
        self.late_acks = Counter(
            "archivist_interactions_late",
            f"Interactions not acknowledged within {LATE_ACK_S} s",
            registry=r,
        )
        r.register(_ScrapeTime(bot))

    def answered(self, answer: Any) -> None:
        """Count one reply to a question (`answer` an archivist Answer)."""
        self.answers.labels("answered" if answer.answered else "declined").inc()

    def call_done(self, function: str, seconds: float, result: Any) -> None:
        self.calls.labels(function).observe(seconds)
        if isinstance(result, IngestReport):
            self.added.labels(function).inc(len(result.added))
            for failure in result.failed:
                self.read_failures.labels(failure_kind(failure)).inc()
            if function not in FEED_CALLS:
                self.uploads.labels(function).inc()

    def read_failed(self, error: ReadError) -> None:
        self.read_failures.labels(error.kind).inc()

    def command_failed(self, unexpected: bool) -> None:
        self.errors.labels("unexpected" if unexpected else "refused").inc()

    def render(self) -> bytes:
        """The Prometheus text; reads the archive, so call it off the event loop."""
        return generate_latest(self.registry)


def failure_kind(failure: Failed) -> str:
    """The kind of one failed input of a report; one the core could not name is `other`."""
    kind = failure.kind
    return kind if kind is not None and kind in READ_FAILURE_KINDS else UNKNOWN_KIND


class _ScrapeTime(Collector):
    """Gauges read when scraped (in a thread): nothing to keep in step between scrapes."""

    def __init__(self, bot: ArchivistBot) -> None:
        self.bot = bot

    def describe(self) -> list[GaugeMetricFamily]:
        # without it the registry calls collect() when the bot is built: an archive read there
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        latency = self.bot.latency
        if latency == latency and latency != float("inf"):  # NaN/inf before the first heartbeat
            yield GaugeMetricFamily(
                "archivist_gateway_latency_seconds", "Gateway heartbeat latency", value=latency
            )
        archive = self.bot.archive
        try:
            collections = archive.store.collections()
            stats = archive.stats()
            feeds = _feed_states(archive)
        except Exception:  # noqa: BLE001 - a broken store shows as /healthz 503, not a 500 here
            log.warning("metrics: could not read the archive", exc_info=True)
            return
        yield GaugeMetricFamily(
            "archivist_collections", "Collections (servers) with an archive", value=len(collections)
        )
        yield GaugeMetricFamily(
            "archivist_index_vectors", "Vectors in the open indexes", value=stats.indexed
        )
        yield from _index_gauges(archive, stats.indexed)
        family = GaugeMetricFamily("archivist_feeds", "Feeds by state", labels=["state"])
        for state, n in feeds.items():
            family.add_metric([state], n)
        yield family


def _index_gauges(archive: Any, vectors: int) -> Iterator[GaugeMetricFamily]:
    """The open indexes' memory as the IndexCache counts it: a bot of many servers keeps
    only the recently used ones open, so every stored vector would overstate it. A store
    that searches its own vectors (PostgreSQL) keeps the estimate over every vector."""
    from archivist.index_cache import IndexCache

    if not isinstance(archive.indexes, IndexCache):
        memory = vectors * archive.embedder.dim * FLOAT32_BYTES
        yield GaugeMetricFamily(
            "archivist_index_memory_bytes", "Memory the vectors take (float32)", value=memory
        )
        return
    use = archive.indexes.use()
    yield GaugeMetricFamily(
        "archivist_index_memory_bytes", "Memory the open indexes take", value=use.memory_bytes
    )
    yield GaugeMetricFamily(
        "archivist_index_open", "Collections whose index is open", value=use.open
    )


def _feed_states(archive: Any) -> dict[str, int]:
    from archivist.feeds import FeedTable

    states = {"polled": 0, "failing": 0, "disabled": 0, "total": 0}
    for feed in FeedTable(archive.store).feeds():
        states["total"] += 1
        states["polled"] += feed.last_polled_at is not None
        states["failing"] += feed.failures > 0 and not feed.disabled
        states["disabled"] += feed.disabled
    return states


def archive_opens(archive: Any) -> None:
    """Raise, with a one-line reason, unless the archive's database is there and answers
    (either store: `archivist.doctor.store_answers`)."""
    store_answers(archive.store, HEALTH_TIMEOUT_S)


# ---- the server ---------------------------------------------------------------------------------


class MetricsServer:
    """aiohttp on the bot's own loop: a scrape never needs a thread of its own to wait on."""

    def __init__(self, bot: ArchivistBot, addr: str) -> None:
        parsed = split_addr(addr)
        if parsed is None:  # Settings checked it; a Settings built by hand may not have
            raise ValueError(f"metrics address must be host:port, got {addr!r}")
        self.bot = bot
        self.host, self.port = parsed
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise ArchivistError(
                f"ARCHIVIST_METRICS_ADDR {self.host}:{self.port}: cannot listen there "
                f"({exc.strerror or exc}); free the port or choose another"
            ) from None
        if self.port == 0:  # the port the system chose
            self.port = self.runner.addresses[0][1]
        log.info("health and metrics on http://%s:%d/", self.host, self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        if not self.bot.is_ready():
            return web.Response(status=503, text="waiting for the Discord gateway\n")
        try:
            # the check's own waits are bounded too; this bounds the answer, whatever hangs
            await asyncio.wait_for(
                asyncio.to_thread(archive_opens, self.bot.archive), HEALTH_TIMEOUT_S + 1
            )
        except TimeoutError:
            reason = f"no answer within {HEALTH_TIMEOUT_S + 1:g} s"
            return web.Response(status=503, text=f"the archive does not open: {reason}\n")
        except Exception as exc:  # noqa: BLE001 - the reason is the answer
            reason = library_reason(exc, 300)
            return web.Response(status=503, text=f"the archive does not open: {reason}\n")
        return web.Response(text="ok\n")

    async def metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.to_thread(self.bot.metrics.render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

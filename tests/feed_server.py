"""A local HTTP server on 127.0.0.1 serving RSS and Atom feeds and their item pages, for tests.

`server.routes` maps a path to (status, content type, body) and may change between polls.
Every page is synthetic text, never a real article.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape

TOPICS = {
    "ferry": ("Ferry timetable changes", "evening ferry leaves half an hour earlier from June"),
    "library": ("Library opens on Sundays", "city library will open on Sundays from March"),
    "wind": ("Wind farm approved", "twelve offshore wind turbines will be built north of the bay"),
    "bridge": ("Bridge reopens", "old stone bridge reopened to cyclists after the repairs"),
    "school": ("Free school lunches", "every primary school pupil will get a free hot lunch"),
}


def page(topic: str) -> bytes:
    title, lead = TOPICS[topic]
    paragraphs = "".join(
        f"<p>The {lead}, officials said in update {n}, adding that residents were consulted "
        f"and that the plan for the {topic} had been discussed at three public meetings.</p>"
        for n in range(1, 5)
    )
    return (
        f"<html><head><title>{title} - Harbour Gazette</title>"
        '<meta property="og:site_name" content="Harbour Gazette"></head>'
        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    ).encode()


def long_summary(topic: str) -> str:
    """A summary long enough to be kept when the item's page cannot be read."""
    _, lead = TOPICS[topic]
    return " ".join(
        f"<p>The {lead}; this is sentence {n} of the summary the feed itself carries.</p>"
        for n in range(1, 8)
    )


@dataclass
class Item:
    topic: str
    path: str  # the item's link, relative to the server
    summary: str = "A short teaser."
    content: str | None = None  # content:encoded (RSS) or content (Atom)
    date: str = "2024-05-06"


def rss(base: str, title: str, items: list[Item]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{escape(title)}</title><link>{base}/</link>",
        "<description>Local news</description>",
    ]
    for item in items:
        out.append(
            f"<item><title>{escape(TOPICS[item.topic][0])}</title>"
            f"<link>{base}{item.path}</link><guid>{base}{item.path}</guid>"
            f"<pubDate>Mon, 06 May 2024 10:00:00 GMT</pubDate>"
            f"<description>{escape(item.summary)}</description>"
            + (f"<content:encoded>{escape(item.content)}</content:encoded>" if item.content else "")
            + "</item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out).encode()


def atom(base: str, title: str, items: list[Item]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(title)}</title><id>urn:test:{escape(title)}</id>",
        "<updated>2024-05-06T10:00:00Z</updated>",
    ]
    for item in items:
        out.append(
            f"<entry><title>{escape(TOPICS[item.topic][0])}</title>"
            f'<link rel="alternate" href="{base}{item.path}"/>'
            f"<id>urn:test:{item.topic}</id><updated>{item.date}T10:00:00Z</updated>"
            f'<summary type="html">{escape(item.summary)}</summary>'
            + (f'<content type="html">{escape(item.content)}</content>' if item.content else "")
            + "</entry>"
        )
    out.append("</feed>")
    return "\n".join(out).encode()


@dataclass
class FeedServer:
    base: str
    routes: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def serve_pages(self, *topics: str) -> None:
        for topic in topics:
            self.routes[f"/news/{topic}"] = (200, "text/html; charset=utf-8", page(topic))

    def set_rss(self, path: str, title: str, items: list[Item]) -> str:
        self.routes[path] = (200, "application/rss+xml", rss(self.base, title, items))
        return self.base + path

    def set_atom(self, path: str, title: str, items: list[Item]) -> str:
        self.routes[path] = (200, "application/atom+xml", atom(self.base, title, items))
        return self.base + path


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    state: dict[str, FeedServer] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            server = state["server"]
            server.hits[self.path] = server.hits.get(self.path, 0) + 1
            status, ctype, body = server.routes.get(self.path, (404, "text/plain", b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["server"] = FeedServer(f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()

"""RSS and Atom: feed bytes -> the feed's title and items (with feedparser), and an item's text.

Never handed a URL or a string: feedparser would fetch a URL or open a path itself, outside the
safe fetcher. External entities are not resolved (feedparser turns them off in its SAX parser).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from archivist.errors import FeedError
from archivist.models import Paragraph

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 100
MAX_TITLE_CHARS = 300
# feedparser's time grows faster than the number of items (100,000 tiny items in 5 MB took
# minutes); real feeds list tens to hundreds, so more than this is refused before parsing
MAX_FEED_ITEMS = 2_000
_ITEM_TAG = re.compile(rb"<(?:[\w.-]{1,40}:)?(?:item|entry)\b", re.IGNORECASE)


@dataclass(frozen=True)
class FeedItem:
    key: str  # the entry's id (guid), else its link, else a hash of its text
    link: str | None
    title: str | None
    date: str | None
    text: str | None  # the entry's longest content or summary (HTML or plain text)
    text_is_html: bool = True


@dataclass(frozen=True)
class ParsedFeed:
    url: str
    title: str | None
    items: tuple[FeedItem, ...]


# Linear on hostile pages: a tag ends at the next `<` as well as at `>` (so unclosed `<link`s
# never rescan the rest of the page), a name only starts after a non-name character and
# nothing backtracks (possessive quantifiers), so each byte is looked at a bounded number of times.
_LINK_TAG = re.compile(rb"<link\b[^<>]*+", re.IGNORECASE)
_ATTR = re.compile(rb"""(?<![\w-])([\w-]++)\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s"'<>]++))""")
_FEED_TYPES = (b"application/rss+xml", b"application/atom+xml", b"application/feed+xml")
DISCOVER_MAX_BYTES = 512 * 1024  # a page's <head> is far smaller; the rest is never scanned


def looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head


def discover_feed_link(data: bytes, page_url: str) -> str | None:
    """The feed a web page announces (`<link rel="alternate" type="application/rss+xml">`)."""
    for tag in _LINK_TAG.finditer(data, 0, DISCOVER_MAX_BYTES):
        attrs = {
            m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or b"").strip()
            for m in _ATTR.finditer(tag.group())
        }
        if (
            b"alternate" in attrs.get(b"rel", b"").lower().split()
            and (attrs.get(b"type", b"").lower() in _FEED_TYPES)
            and attrs.get(b"href")
        ):
            return urljoin(page_url, attrs[b"href"].decode("utf-8", "replace"))
    return None


def parse_feed(data: bytes, url: str) -> ParsedFeed:
    """RSS or Atom bytes -> the feed's title and items. Raises FeedError when it is neither."""
    import feedparser

    items_listed = sum(1 for _ in _ITEM_TAG.finditer(data))
    if items_listed > MAX_FEED_ITEMS:
        raise FeedError(
            url,
            f"lists {items_listed:,} items, over the limit of {MAX_FEED_ITEMS:,} a feed; "
            "follow a feed of recent items instead",
        )
    # A stream, never a string: feedparser would open a string that looks like a URL or a path.
    try:
        parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-location": url})
    except Exception:  # noqa: BLE001 - its loose parser raises on hostile escapes
        log.warning("feedparser failed on %s", url, exc_info=True)
        reason = "is not a well-formed RSS or Atom feed (the parser stopped on malformed content)"
        raise FeedError(url, reason) from None
    if not parsed.get("version") and not parsed.entries:
        if looks_like_html(data):
            raise FeedError(url, "is a web page, not an RSS or Atom feed (and names no feed)")
        raise FeedError(url, "is not an RSS or Atom feed")
    items = []
    for entry in parsed.entries:
        link = _http_url(entry.get("link"))
        title = clean_text(entry.get("title"), MAX_TITLE_CHARS)
        texts = [
            (c.get("value") or "", c.get("type", "text/html")) for c in entry.get("content", [])
        ]
        if entry.get("summary"):
            detail = entry.get("summary_detail") or {}
            texts.append((entry["summary"], detail.get("type", "text/html")))
        text, text_type = max(texts, key=lambda t: len(t[0]), default=("", "text/html"))
        key = entry.get("id") or link
        if not key:
            digest = hashlib.sha1(f"{title}\n{text}".encode("utf-8", "replace")).hexdigest()
            key = "sha1:" + digest
        items.append(
            FeedItem(
                key=str(key)[:2000],
                link=link,
                title=title,
                date=_entry_date(entry),
                text=text or None,
                text_is_html="html" in (text_type or ""),
            )
        )
    title = clean_text(parsed.feed.get("title"), MAX_NAME_CHARS)
    return ParsedFeed(url=url, title=title, items=tuple(items))


def clean_text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:limit] or None


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An unexpected exception as a short line for a user (its message, never its class)."""
    text = " ".join(str(exc).split())
    return (text[:limit] + "…" if len(text) > limit else text) or "no details given"


def _http_url(value: Any) -> str | None:
    # No parsing here: a malformed link (`http://[::1`) is the item's failure when fetched,
    # never the whole feed's.
    if isinstance(value, str) and value.strip().lower().startswith(("http://", "https://")):
        return value.strip()
    return None


def _entry_date(entry: Any) -> str | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(field)
        if parsed:
            try:
                return time.strftime("%Y-%m-%d", parsed)
            except (TypeError, ValueError):
                continue
    return None


_BLOCKS = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "tr",
    "figure",
    "figcaption",
    "section",
    "article",
    "header",
    "footer",
    "hr",
}


def text_paragraphs(text: str, is_html: bool) -> list[Paragraph]:
    """A feed entry's content (sanitized HTML or plain text) -> paragraphs."""
    if is_html:
        from lxml import etree
        from lxml import html as lxml_html

        try:
            root = lxml_html.fragment_fromstring(text, create_parent="div")
        except (etree.ParserError, ValueError):
            root = None
        if root is not None:
            for el in root.iter():
                tag = el.tag if isinstance(el.tag, str) else ""
                if tag in ("script", "style"):
                    el.text = ""
                elif tag in _BLOCKS:
                    el.text = "\n\n" + (el.text or "")
                    el.tail = "\n\n" + (el.tail or "")
                elif tag == "br":
                    el.tail = "\n" + (el.tail or "")
            text = root.text_content()
    blocks = (" ".join(b.split()) for b in re.split(r"\n\s*\n", text))
    return [Paragraph(text=b) for b in blocks if b]

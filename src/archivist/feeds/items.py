"""One feed item -> one article: its page (fetched safely and read as HTML), else the feed's own
text for it when that is long enough to answer from; or, in one line, why neither."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from archivist.config import Limits
from archivist.errors import ReadError
from archivist.feeds.parser import FeedItem, one_line, text_paragraphs
from archivist.models import Article, Paragraph
from archivist.store.feeds import Feed

log = logging.getLogger(__name__)

FALLBACK_MIN_WORDS = 50  # a feed summary shorter than this is a teaser, not worth answering from
PREFER_FEED_TEXT_RATIO = 1.5  # the feed's text wins when this much longer than the page's


def unexpected_error(what: str, exc: Exception, *, address: bool = False) -> str:
    """An error nothing foresaw, as one line for a user; its traceback goes to the log, once.
    `address`: it came from fetching a URL, where a ValueError means a malformed address."""
    log.warning("%s failed", what, exc_info=exc)
    if address and isinstance(exc, ValueError):  # urlsplit's and IDNA's among them
        return f"is not a valid web address ({one_line(exc)})"
    return f"could not be read (an unexpected error: {one_line(exc)})"


def read_item(
    item: FeedItem, feed: Feed, limits: Limits, allow_private: bool
) -> tuple[Article | None, str | None]:
    """The item's article from its page, else from the feed's own text; or why neither."""
    fallback = _feed_text_article(item, feed)
    page_error = "the item has no link to fetch"
    if item.link:
        page, page_error = _read_page(item.link, feed, limits, allow_private)
        if page is not None:
            if fallback is not None and len(fallback.text.split()) > (
                PREFER_FEED_TEXT_RATIO * len(page.text.split())
            ):
                return fallback, None  # the page held a teaser; the feed the whole text
            return dataclasses.replace(
                page,
                title=item.title or page.title,
                source=feed.name,
                url=item.link,
                date=item.date or page.date,
            ), None
    if fallback is not None:
        log.info("feed %d: %s: %s; kept the feed's own text", feed.id, item.link, page_error)
        return fallback, None
    words = _words(text_paragraphs(item.text, item.text_is_html)) if item.text else 0
    if words:
        return (
            None,
            f"{page_error}; the feed's summary ({words} words) is too short to keep instead",
        )
    return None, f"{page_error}; the feed gives no text to keep instead"


def _read_page(
    link: str, feed: Feed, limits: Limits, allow_private: bool
) -> tuple[Article | None, str]:
    """The one article an item's link holds, or why there is none."""
    from archivist.fetch import read_url

    try:
        result = read_url(link, limits, allow_private=allow_private)
    except ReadError as exc:
        return None, exc.reason
    except Exception as exc:  # noqa: BLE001 - a malformed link (http://xn--/) is this item's
        return None, unexpected_error(f"feed {feed.id}: {link}", exc, address=True)
    if len(result.articles) > 1:  # a ZIP or JSON Lines file: not one item's article
        return None, (
            f"links to a bundle of {len(result.articles)} articles (a ZIP or JSON file), "
            "not one article; a feed item stores at most one"
        )
    if result.articles:
        return result.articles[0][1], ""
    return None, (result.failures[0].error if result.failures else "no article in the page")


def _feed_text_article(item: FeedItem, feed: Feed) -> Article | None:
    if not item.text:
        return None
    paragraphs = text_paragraphs(item.text, item.text_is_html)
    if _words(paragraphs) < FALLBACK_MIN_WORDS:
        return None
    title = item.title or paragraphs[0].text[:120]
    return Article(
        title=title, paragraphs=tuple(paragraphs), source=feed.name, date=item.date, url=item.link
    )


def _words(paragraphs: Sequence[Paragraph]) -> int:
    return sum(len(p.text.split()) for p in paragraphs)

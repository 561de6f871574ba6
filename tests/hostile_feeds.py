"""The hostile RSS and Atom feeds of the corpus (tests/hostile_corpus.py), and `FEEDS`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from hostile_blocks import EITHER, PARTIAL, Case, Expect, paragraph, seeded


# ---- feeds -------------------------------------------------------------------------------------
def article_page(title: str, seed: str, paragraphs: int = 4) -> bytes:
    rng = seeded(seed)
    body = "".join(f"<p>{paragraph(rng)}</p>" for _ in range(paragraphs))
    return (
        f"<html><head><title>{title} - Harbour Gazette</title></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def rss(title: str, items: list[tuple[str, str, str]]) -> bytes:
    """RSS 2.0 with items (title, link, description), each inserted as is (not escaped)."""
    parts = [
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        "<link>http://127.0.0.1/</link><description>Local news</description>"
    ]
    for n, (item_title, link, text) in enumerate(items):
        parts.append(
            f"<item><title>{item_title}</title><link>{link}</link><guid>item-{n}</guid>"
            "<pubDate>Mon, 06 May 2024 10:00:00 GMT</pubDate>"
            f"<description>{text}</description></item>"
        )
    return ("".join(parts) + "</channel></rss>").encode()


def _summary(seed: str) -> str:
    return " ".join(paragraph(seeded(seed)) for _ in range(2))


def _idna_feed(base: str) -> bytes:
    return rss(
        "Bad links",
        [
            ("Ferry timetable changes", f"{base}/news/ferry", _summary("ferry")),
            ("A link with an empty IDNA label", "http://xn--/", "Short."),
            ("A link with an open bracket", "http://[::1", "Short."),
            ("Bridge reopens", f"{base}/news/bridge", _summary("bridge")),
        ],
    )


def _entity_feed(base: str) -> bytes:
    return rss(
        "Bad entities",
        [
            ("School lunches", f"{base}/news/school", _summary("school")),
            ("Out of range &#x110000; here", f"{base}/news/library", "&#99999999999; and &#xD800;"),
        ],
    )


def _zip_item_feed(base: str) -> bytes:
    return rss(
        "A bundle",
        [
            ("A ZIP of many articles", f"{base}/bundle.zip", "Short."),
            ("Wind farm approved", f"{base}/news/wind", _summary("wind")),
        ],
    )


def _many_items_feed(base: str) -> bytes:
    # no links: each item is its own text, so a poll costs no fetch per item
    pool = [_summary(f"item {n}") for n in range(20)]
    items = [(f"Item {n}", "", f"Item {n}. {pool[n % 20]}") for n in range(5_000)]
    return rss("Many items", items)


def _deep_feed(base: str) -> bytes:
    deep = "&lt;div&gt;" * 20_000 + "deep" + "&lt;/div&gt;" * 20_000
    return rss("Deep", [("Deep item", f"{base}/news/market", deep)])


FeedMaker = Callable[[str], bytes]

FEEDS: dict[str, tuple[FeedMaker, Expect]] = {
    "idna.rss": (
        _idna_feed,
        Expect(PARTIAL, note="item links http://xn--/ and http://[::1 (item 2)"),
    ),
    "entity.rss": (_entity_feed, Expect(EITHER, note="character references out of range (item 2)")),
    "zip-item.rss": (_zip_item_feed, Expect(PARTIAL, note="an item linking to a ZIP (item 9)")),
    "many-items.rss": (_many_items_feed, Expect(EITHER, note="5,000 items")),
    "deep.rss": (_deep_feed, Expect(EITHER, note="an item's HTML nested 20,000 deep")),
}


def feed_case(name: str, base: str = "http://127.0.0.1:9") -> Case:
    maker, expect = FEEDS[name]
    return Case(name, maker(base), expect)


def feed_cases(base: str = "http://127.0.0.1:9") -> Iterator[Case]:
    for name in FEEDS:
        yield feed_case(name, base)

"""Web pages (`.html`, `.htm`, `.xhtml`): the article body and its metadata, with trafilatura.

The body comes from trafilatura in precision mode (less navigation and teasers than its default),
falling back to its balanced mode when precision mode keeps too little of the page. Sub-headings
become the heading of the paragraphs that follow. Comments are never part of the body. A page too
small for trafilatura, or too big for it (`MAX_EXTRACT_ELEMENTS`), is read from its own headings
and paragraphs; a page of more than `MAX_TAGS` tags is refused before it is parsed.

Metadata comes from what publishers declare (`og:` tags, JSON-LD, `<link rel=canonical>`), then
from trafilatura's guesses. A declared headline (`og:title`, JSON-LD `headline`) is kept as the
publisher wrote it; a title taken from `<title>`, the browser tab's label, loses the site's name
("Headline - Site"): that name is the article's `source`. `benchmarks/html_extraction.py`
measures all this on 181 real news pages.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.models import Article, Paragraph, ReadResult
from archivist.readers.decode import collapse_space

log = logging.getLogger(__name__)

EXTENSIONS = (".html", ".htm", ".xhtml")

# libxml2's HTML parser stops nesting elements at 256 levels; a page that reaches that depth is
# either hostile or broken (real pages stay under 60).
PARSER_MAX_DEPTH = 255
# Precision mode sometimes keeps only a teaser; below this share of balanced mode's text it is
# not trusted. Tuned on one half of the benchmark pages (see benchmarks/html_extraction.py).
PRECISION_MIN_SHARE = 0.5
# The parsed tree costs a few hundred bytes an element (2 MB of "<p>a</p>" take 94 MB), so a
# page with more tags (counted as its "<") than this is refused before it is parsed: about
# 200,000 elements, a hundred times the largest of the 181 benchmark news pages.
MAX_TAGS = 400_000
# trafilatura's XPath queries grow faster than linearly with the page's elements (10,000 tiny
# paragraphs take 2.5 s, 20,000 6 s, 40,000 16 s); real news pages have a few thousand (the
# largest of the 181 benchmark pages: 1,600). A bigger page is read from its own headings and
# paragraphs, which takes linear time.
MAX_EXTRACT_ELEMENTS = 10_000
MAX_TITLE_CHARS = 300
MAX_GUESSED_SITE_WORDS = 4
MAX_FIELD_CHARS = 500

# what the fallback reads as headings and paragraphs, and what it leaves out
_BLOCK_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre"}
_SKIP_TAGS = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "template"}
_SEPARATOR = re.compile(r"\s+(?:[|\-–—·•»:]|::|\|\|)\s+")
_SITE_PREFIX = re.compile(r"^(?P<site>[^:|]{2,60}?)(?::\s+|\s+[|\-–—]\s+)(?P<rest>\S.*)$")
_ARTICLE_TYPES = re.compile(r"(Article|BlogPosting|Report)$")


def read(origin: str, data: bytes, limits: Limits) -> ReadResult:
    return ReadResult(articles=[(origin, parse_html(data, origin=origin, limits=limits))])


def parse_html(
    data: bytes | str, *, origin: str, url: str | None = None, limits: Limits | None = None
) -> Article:
    """One article from a web page. `url` is where it was fetched from, if it was."""
    limits = limits or Limits()
    tags = data.count(b"<") if isinstance(data, bytes) else data.count("<")
    if tags > MAX_TAGS:
        raise InputTooLarge(
            origin, f"the page has {tags:,} tags, over the limit of {MAX_TAGS:,} for one article"
        )
    tree = _load(data, origin)
    meta = _page_metadata(tree)
    page_url = meta.get("url") or url
    document = _extract(tree, url=page_url) if _small_enough(tree) else None
    paragraphs: list[Paragraph] = []
    if document is not None and document.body is not None:
        paragraphs = _paragraphs_from_body(document.body)
    if not paragraphs:
        paragraphs = _fallback_paragraphs(tree)
    if not paragraphs:
        if _depth(tree) >= PARSER_MAX_DEPTH:
            raise ReadError(
                origin, f"the page is nested too deeply (over {PARSER_MAX_DEPTH} levels) to read"
            )
        if tree.xpath("//script") and not _visible_text(tree):
            raise ReadError(
                origin, "the page has no text, only scripts (it is built by JavaScript)"
            )
        raise ReadError(origin, "no article text found in the page")

    host = urlsplit(page_url).hostname if page_url else None
    guessed_site = _clean_field(getattr(document, "sitename", None))
    if guessed_site and len(guessed_site.split()) > MAX_GUESSED_SITE_WORDS:
        guessed_site = None  # trafilatura's guess was the second half of a long <title>
    site = meta.get("site") or guessed_site
    title = _choose_title(tree, meta, document, meta.get("site"), guessed_site, host)
    paragraphs = _drop_title(paragraphs, title)
    if not paragraphs:
        raise ReadError(origin, "no article text found in the page")
    if len(paragraphs) > limits.max_paragraphs_per_article:
        raise ReadError(
            origin,
            f"{len(paragraphs)} paragraphs, over the limit of {limits.max_paragraphs_per_article}",
        )
    if not title:
        title = paragraphs[0].heading or _title_from_text(paragraphs[0].text)
    date = _clean_field(getattr(document, "date", None)) or meta.get("date")
    return Article(
        title=title,
        paragraphs=tuple(paragraphs),
        source=site or _host_label(host),
        date=date,
        url=page_url if page_url and page_url.startswith(("http://", "https://")) else None,
    )


# --- parsing ---------------------------------------------------------------------------------


def _load(data: bytes | str, origin: str) -> Any:
    from trafilatura.utils import load_html

    tree = load_html(data)
    if tree is None:
        # trafilatura refuses a bare fragment ("<p>x</p>"); users do save those as .html
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        tree = load_html(f"<html><body><div>{text}</div></body></html>")
    if tree is None:
        raise ReadError(origin, "not an HTML page (the markup could not be parsed)")
    return tree


def _depth(tree: Any) -> int:
    from lxml import etree

    depth = deepest = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _small_enough(tree: Any) -> bool:
    """Whether trafilatura may read the page (see MAX_EXTRACT_ELEMENTS)."""
    if next(islice(tree.iter(), MAX_EXTRACT_ELEMENTS, None), None) is None:
        return True
    log.info("a page of over %d elements is read without trafilatura", MAX_EXTRACT_ELEMENTS)
    return False


def _visible_text(tree: Any) -> str:
    body = tree.find("body")
    if body is None:
        return ""
    parts = [
        t
        for el in body.iter()
        if isinstance(el.tag, str) and el.tag not in ("script", "style", "noscript", "template")
        for t in (el.text,)
        if t and t.strip()
    ]
    return " ".join(parts)


def _extract(tree: Any, url: str | None) -> Any:
    """trafilatura in precision mode, or balanced mode when precision keeps too little."""
    from trafilatura import bare_extraction

    def run(**options: Any) -> Any:
        try:
            return bare_extraction(
                copy.deepcopy(tree),  # trafilatura prunes the tree it is given
                url=url,
                include_comments=False,
                with_metadata=True,
                **options,
            )
        except RecursionError:
            return None

    precise = run(favor_precision=True)
    balanced = run()
    if precise is None or not precise.text:
        return balanced
    if balanced is not None and balanced.text:
        if len(precise.text) < PRECISION_MIN_SHARE * len(balanced.text):
            return balanced
    return precise


def _norm(text: str) -> str:
    return collapse_space(text)


def _paragraphs_from_body(body: Any) -> list[Paragraph]:
    paragraphs: list[Paragraph] = []
    heading: str | None = None
    for element in body:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "head":
            heading = _norm("".join(element.itertext())) or heading
            continue
        if tag == "list":
            texts = [_norm("".join(item.itertext())) for item in element.iter("item")]
        elif tag == "table":
            texts = [
                " | ".join(c for c in (_norm("".join(cell.itertext())) for cell in row) if c)
                for row in element.iter("row")
            ]
        else:
            texts = [_norm("".join(element.itertext()))]
        paragraphs.extend(Paragraph(text=t, heading=heading) for t in texts if t)
    return paragraphs


def _fallback_paragraphs(tree: Any) -> list[Paragraph]:
    """A page too small (or too big) for trafilatura: its headings and paragraphs, in order."""
    body = tree.find("body")
    if body is None:
        return []
    paragraphs: list[Paragraph] = []
    heading: str | None = None
    for el in _text_blocks(body):
        text = _norm(el.text_content())
        if not text:
            continue
        if el.tag in ("h2", "h3", "h4", "h5", "h6"):
            heading = text
        elif el.tag != "h1":
            paragraphs.append(Paragraph(text=text, heading=heading))
    return paragraphs


def _text_blocks(body: Any) -> Iterator[Any]:
    """The outermost headings and paragraphs under `body` in document order, outside
    navigation, scripts and the like.

    One walk of the tree that does not enter what it yields: a paragraph's text is read once,
    not again for every list item or quote it is nested in (else 200 nested quotes around 2 MB
    of text would make 200 paragraphs of 2 MB).
    """
    pending = list(reversed(body))
    while pending:
        element = pending.pop()
        tag = element.tag if isinstance(element.tag, str) else ""  # comments have no name
        if tag in _BLOCK_TAGS:
            yield element
        elif tag and tag not in _SKIP_TAGS:
            pending.extend(reversed(element))


def _drop_title(paragraphs: list[Paragraph], title: str | None) -> list[Paragraph]:
    """The headline repeated as the body's first line is the title, not a passage."""
    title_key = _squash(title or "")
    # _squash goes character by character: a first paragraph far longer than any title is not
    # the title, and is not squashed
    first = paragraphs[0].text if paragraphs else ""
    if title_key and len(first) <= 2 * MAX_TITLE_CHARS and _squash(first) == title_key:
        return paragraphs[1:]
    return paragraphs


# --- metadata --------------------------------------------------------------------------------


def _clean_field(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = _norm(value.replace("\x00", ""))
    return value[:MAX_FIELD_CHARS] or None


def _meta(tree: Any, *names: str) -> list[str]:
    values = []
    for name in names:
        for attr in ("property", "name", "itemprop"):
            for v in tree.xpath(f"//meta[@{attr}=$n]/@content", n=name):
                if (cleaned := _clean_field(v)) is not None:
                    values.append(cleaned)
    return values


def _json_ld_objects(tree: Any) -> list[dict]:
    objects: list[dict] = []

    def walk(value: Any, depth: int = 0) -> None:
        if depth > 20:
            return
        if isinstance(value, dict):
            objects.append(value)
            for v in value.values():
                walk(v, depth + 1)
        elif isinstance(value, list):
            for v in value:
                walk(v, depth + 1)

    for script in tree.xpath('//script[@type="application/ld+json"]/text()')[:20]:
        try:
            walk(json.loads(script))
        except (ValueError, RecursionError):
            continue
    return objects


def _is_article(obj: dict) -> bool:
    types = obj.get("@type")
    types = types if isinstance(types, list) else [types]
    return any(isinstance(t, str) and _ARTICLE_TYPES.search(t) for t in types)


def _page_metadata(tree: Any) -> dict[str, str]:
    meta: dict[str, str] = {}
    articles = [o for o in _json_ld_objects(tree) if _is_article(o)]
    ld_headline = next((h for o in articles if (h := _clean_field(o.get("headline")))), None)
    ld_publisher = None
    for o in articles:
        publisher = o.get("publisher")
        if isinstance(publisher, dict) and (name := _clean_field(publisher.get("name"))):
            ld_publisher = name
            break
    ld_date = next((d for o in articles if (d := _clean_field(o.get("datePublished")))), None)

    titles = _meta(tree, "og:title") + ([ld_headline] if ld_headline else [])
    titles += _meta(tree, "twitter:title")
    if titles:
        meta["title"] = titles[0]
    sites = _meta(tree, "og:site_name") + ([ld_publisher] if ld_publisher else [])
    sites += _meta(tree, "application-name")
    if sites:
        meta["site"] = sites[0]
    dates = _meta(tree, "article:published_time", "datePublished") + ([ld_date] if ld_date else [])
    if dates:
        meta["date"] = dates[0]
    urls = [
        u.strip()
        for u in tree.xpath('//link[@rel="canonical"]/@href') + _meta(tree, "og:url")
        if u and u.strip().startswith(("http://", "https://"))
    ]
    if urls:
        meta["url"] = urls[0][:2000]
    return meta


def _squash(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _host_label(host: str | None) -> str | None:
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def _site_keys(declared: str | None, guessed: str | None, host: str | None) -> dict[str, bool]:
    """Squashed site names -> whether a longer name may start with it ("Vortex Cannon
    Entertainment" for vortexcannon.org). Only when the page declares no site name: a declared
    one is matched exactly, so "Take C.A.R.E. - comwrap auf der DMEXCO" keeps its second half."""
    loose = declared is None
    keys = {_squash(name): False for name in (declared, guessed) if name}
    if host:
        label = _host_label(host) or ""
        keys.setdefault(_squash(label), loose)
        keys.setdefault(_squash(label.split(".")[0]), loose)
    return {k: v for k, v in keys.items() if len(k) >= 3}


def _is_site(segment: str, keys: dict[str, bool]) -> bool:
    squashed = _squash(segment)
    if len(squashed) < 3:
        return False
    return any(
        squashed == key or (loose and len(squashed) >= 4 and squashed.startswith(key))
        for key, loose in keys.items()
    )


def strip_site_name(
    title: str, declared: str | None, guessed: str | None = None, host: str | None = None
) -> str:
    """`Headline - Site Name` (or `Site: Headline`) -> `Headline`; other titles unchanged."""
    keys = _site_keys(declared, guessed, host)
    if not keys:
        return title
    for match in _SEPARATOR.finditer(title):
        head, tail = title[: match.start()].strip(), title[match.end() :].strip()
        if head and _is_site(tail, keys):
            return head
    prefix = _SITE_PREFIX.match(title)
    if prefix and _is_site(prefix["site"], keys):
        return prefix["rest"].strip()
    return title


def _choose_title(
    tree: Any,
    meta: dict[str, str],
    document: Any,
    declared_site: str | None,
    guessed_site: str | None,
    host: str | None,
) -> str | None:
    h1s = [t for h in tree.iter("h1") if (t := _norm(h.text_content()))]
    # cut before the site name is looked for: that looks at every separator in the title
    html_title = next(
        (t[:MAX_FIELD_CHARS] for el in tree.iter("title") if (t := _norm(el.text_content()))),
        None,
    )
    if meta.get("title"):
        # the publisher's declared headline, as written (a site name in it included)
        return meta["title"][:MAX_TITLE_CHARS]
    raw = html_title or _clean_field(getattr(document, "title", None))
    if not raw:
        return h1s[0][:MAX_TITLE_CHARS] if h1s else None
    # <title> is the browser tab's label: "Headline - Site" there loses the site's name
    title = strip_site_name(raw, declared_site, guessed_site, host)
    if title == raw and raw == html_title:
        # "Headline | Section | Site" with no site name declared: the page's own <h1> says
        # where the headline ends
        for h1 in h1s:
            if 8 <= len(h1) < len(raw) and raw.startswith(h1) and _SEPARATOR.match(raw[len(h1) :]):
                return h1[:MAX_TITLE_CHARS]
    return title[:MAX_TITLE_CHARS]


def _title_from_text(text: str) -> str:
    words = text.split(maxsplit=12)  # the 13th item, if any, is the rest of the text
    return " ".join(words[:12]) + ("…" if len(words) > 12 else "")

"""An article page by page, and the list of recent articles."""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from archivist.models import StoredArticle
from bot.render.answers import ADD_ARTICLES
from bot.render.text import (
    ARTICLE_PAGE_CHARS,
    COLOR,
    COLOR_MUTED,
    DESCRIPTION_MAX,
    FOOTER_MAX,
    TITLE_MAX,
    cut,
    cut_escaped,
    safe_url,
    when,
    whole_lines,
)

# ---- articles --------------------------------------------------------------------------------


def article_pages(article: StoredArticle) -> list[str]:
    """The article's text (escaped, headings underlined) in pages that fit an embed."""
    blocks: list[str] = []
    last_heading = None
    for p in article.passages:
        if p.heading and p.heading != last_heading:
            blocks.append(f"__{cut_escaped(p.heading, 200)}__")
            last_heading = p.heading
        blocks.append(cut_escaped(p.text, ARTICLE_PAGE_CHARS))
    pages: list[str] = []
    current = ""
    for block in blocks:
        if current and len(current) + 2 + len(block) > ARTICLE_PAGE_CHARS:
            pages.append(current)
            current = ""
        current = f"{current}\n\n{block}" if current else block
    if current or not pages:
        pages.append(current or "*(no text)*")
    return pages


def article_embed(article: StoredArticle, page: int, pages: list[str]) -> discord.Embed:
    page = max(0, min(page, len(pages) - 1))
    embed = discord.Embed(
        title=cut_escaped(article.title, TITLE_MAX),
        url=safe_url(article.url),
        description=pages[page],
        colour=COLOR,
    )
    for name, value in (
        ("Source", cut_escaped(article.source or "", 200)),
        ("Date", when(article.date)),
        ("Category", cut_escaped(article.category or "", 200)),
    ):
        if value:
            embed.add_field(name=name, value=value, inline=True)
    footer = f"id {article.id} · added {article.added_at[:10]}"
    if len(pages) > 1:
        footer += f" · page {page + 1}/{len(pages)}"
    embed.set_footer(text=cut(footer, FOOTER_MAX))
    return embed


def recent_embed(
    articles: Sequence[StoredArticle], *, offset: int, count: int, total: int, source: str | None
) -> discord.Embed:
    if not articles:
        if source:
            return discord.Embed(
                title=f"No articles from “{cut_escaped(source, 200)}”",
                description="Leave out `source` to see every article.",
                colour=COLOR_MUTED,
            )
        return discord.Embed(title="No articles yet", description=ADD_ARTICLES, colour=COLOR_MUTED)
    lines = []
    for i, a in enumerate(articles, start=offset + 1):
        title = cut_escaped(a.title, 150)
        link = safe_url(a.url)
        title = f"[{title}]({link})" if link else title
        meta = " · ".join(p for p in (cut_escaped(a.source or "", 100), when(a.date)) if p)
        lines.append(
            f"**{i}.** {title}\n{meta + ' · ' if meta else ''}`{a.id}`"
        )  # ids: word characters and . : @ / + -
    description = whole_lines(lines, DESCRIPTION_MAX)
    pages = max(1, -(-total // count))
    footer = f"Page {offset // count + 1}/{pages} · {total} articles"
    if source:
        footer += f" · source: {source}"
    embed = discord.Embed(title="Newest articles", description=description, colour=COLOR)
    embed.set_footer(text=cut(footer, FOOTER_MAX))
    return embed


def parse_recent_source(message: discord.Message | None) -> str | None:
    if message is None or not message.embeds or not message.embeds[0].footer.text:
        return None
    m = re.search(r" · source: (.+)$", message.embeds[0].footer.text)
    return m.group(1) if m else None

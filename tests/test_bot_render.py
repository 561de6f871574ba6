"""render: cutting, escaping and links, without Discord."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from archivist.models import Answer, ArchiveStats, Failed, Hit, IngestReport, StoredArticle
from bot import render


def _hit(passage: str, highlight: str | None, **kw) -> Hit:
    base = dict(
        article_id="abc123",
        title="T",
        source="S",
        date="2024-05-01",
        url=None,
        passage=passage,
        heading=None,
        position=0,
        score=1.0,
        highlight=highlight,
    )
    return Hit(**(base | kw))


def test_cut_prefers_sentence_then_word_boundary():
    text = "First sentence is here. Second one follows right after. Third never fits at all."
    assert render.cut(text, 200) == text
    assert render.cut(text, 60) == "First sentence is here. Second one follows right after. …"
    assert render.cut("alpha beta gamma delta", 15) == "alpha beta…"
    assert len(render.cut("x" * 50, 10)) == 10


def test_escape_round_trips_and_neutralises_markdown():
    raw = "**bold** _it_ `code` > quote # h [l](u) <@&1> \\"
    escaped = render.escape(raw)
    assert "**" not in escaped.replace("\\*", "")
    assert render.unescape(escaped) == raw
    content = render.question_content("what *is* <@1>?", "A_B")
    assert render.parse_question_content(content) == ("what *is* <@1>?", "A_B")


def test_safe_url_only_http():
    assert render.safe_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    assert render.safe_url("javascript:alert(1)") is None
    assert render.safe_url("http://exa mple.org") is None
    assert render.safe_url(None) is None


def test_highlight_stays_bold_and_visible_when_cut():
    before = " ".join(f"Filler sentence {i}." for i in range(200))
    hit = _hit(before + " The answer is forty two. More text after.", "The answer is forty two.")
    md = render.passage_markdown(hit, 300)
    assert len(md) <= 300
    assert "**The answer is forty two.**" in md and md.startswith("…")


def test_answer_embeds_fit_the_6000_budget():
    long = " ".join(f"Sentence number {i} talks about *things*." for i in range(400))
    hits = tuple(
        _hit(long, f"Sentence number {i} talks about *things*.", title="x" * 300) for i in range(5)
    )
    embeds = render.answer_embeds(Answer("q", True, hits))
    assert len(embeds) == 5
    assert render.embeds_size(embeds) <= 6000
    assert all(len(e.title) <= 256 and len(e.description) <= 4096 for e in embeds)


# ---- hostile stored fields (issue #17) -------------------------------------------------------

# Discord's markdown (simple-markdown): a backslash escapes any punctuation mark; a masked link is
# `[text](href)`, its href may hold balanced parentheses and backslash escapes.
_LINK = re.compile(
    r"\[((?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*)\]"
    r"\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['\"]([\s\S]*?)['\"])?\s*\)"
)


def masked_links(markdown: str) -> list[tuple[str, str]]:
    """(text, href) of every masked link Discord would render in `markdown`."""
    links, i = [], 0
    while i < len(markdown):
        if markdown[i] == "\\" and i + 1 < len(markdown) and not markdown[i + 1].isalnum():
            i += 2
        elif markdown[i] == "[" and (m := _LINK.match(markdown, i)):
            links.append((m.group(1), m.group(2)))
            i = m.end()
        else:
            i += 1
    return links


def _stored(title: str, url: str | None, source: str = "Gazette") -> StoredArticle:
    return StoredArticle(
        id="abc123",
        collection="1",
        title=title,
        source=source,
        date="2024-05-01",
        url=url,
        category=None,
        agency=None,
        added_at="2024-05-02T10:00:00",
        added_by=None,
        passage_count=1,
    )


HOSTILE_URLS = [
    "https://news.example/a)[Login](https://evil.example/login",
    "https://news.example/a)[Click me](https://evil.example/login",
    "https://news.example/a> [x](https://evil.example)",
    "https://news.example/a b](https://evil.example)",
    "https://news.example/`a`||spoiler||<https://evil.example>",
    "https://news.example/a\\)(https://evil.example)",
    'https://news.example/a "title" [x](https://evil.example)',
]


def test_recent_links_only_the_stored_url_whatever_its_characters():
    for url in HOSTILE_URLS:
        embed = render.recent_embed(
            [_stored("Harbour ferry", url)], offset=0, count=10, total=1, source=None
        )
        links = masked_links(embed.description or "")
        assert [text for text, _ in links] == ["Harbour ferry"], (url, embed.description)
        href = links[0][1]
        assert urlsplit(href).hostname == "news.example"
        assert not set(href) & set(' ()[]<>`|\\"'), href


def test_recent_title_and_source_cannot_open_a_link():
    title = "x](https://evil.example) [Official notice](https://evil.example/login) @everyone"
    source = "[Gazette](https://evil.example) <@&123> @here"
    embed = render.recent_embed(
        [_stored(title, "https://news.example/a", source=source)],
        offset=0,
        count=10,
        total=1,
        source=None,
    )
    links = masked_links(embed.description or "")
    assert all(urlsplit(href).hostname == "news.example" for _, href in links), links
    assert "\\@everyone" in embed.description and "\\@here" in embed.description
    assert "<@&123>" not in embed.description
    unlinked = render.recent_embed(
        [_stored(title, None, source=source)], offset=0, count=10, total=1, source=None
    )
    assert masked_links(unlinked.description or "") == []


def test_only_http_urls_are_linked_anywhere():
    for url in (
        "javascript:alert(1)",
        "data:text/html,x",
        "http://[::1]/",
        "https://a\u202eb.org/",
    ):
        assert render.safe_url(url) is None, url
        embed = render.recent_embed([_stored("T", url)], offset=0, count=10, total=1, source=None)
        assert masked_links(embed.description or "") == []


def test_answer_and_article_embeds_encode_a_hostile_url():
    url = HOSTILE_URLS[0]
    hit = _hit("The ferry sails at noon.", None, url=url, title="[x](https://evil.example)")
    embed = render.hit_embed(hit, 1, 500)
    assert embed.url == render.safe_url(url) and ")" not in (embed.url or "")
    assert masked_links(embed.title or "") == []
    page = render.article_embed(_stored("[x](https://evil.example)", url), 0, ["text"])
    assert page.url == embed.url and masked_links(page.title or "") == []


def test_upload_report_failures_are_one_escaped_line_each():
    report = IngestReport(
        failed=[Failed("a.json\n[x](https://evil.example)", "bad\nline 2\r\nline 3")]
    )
    field = render.upload_embed(report).fields[0]
    assert field.value is not None and field.value.count("\n") == 0
    assert masked_links(field.value) == []
    assert "bad line 2 line 3" in field.value


def test_stats_show_this_servers_figures_only():
    stats = ArchiveStats(
        articles=3,
        passages=9,
        sources=1,
        last_added_at=None,
        indexed=9,
        index_bytes=2048,
        db_bytes=10**9,
        model="fake",
    )
    embed = render.stats_embed(stats, "Harbour")
    names = [f.name for f in embed.fields]
    assert "Articles" in names and "Index size" in names
    assert not any("all servers" in n or "Database" in n for n in names), names


def test_empty_replies_name_the_next_step():
    answer = Answer(question="q", answered=False, hits=())
    for embed in (
        render.answer_embeds(answer)[0],
        render.no_articles_embed(),
        render.recent_embed([], offset=0, count=5, total=0, source=None),
        render.recent_embed([], offset=0, count=5, total=0, source="Coast"),
        render.upload_embed(IngestReport()),
    ):
        text = embed.description or ""
        assert text[:1].isupper() and "'" not in text, text
        assert "/" in text or "`source`" in text or "upload" in text, text


def test_help_names_every_command_what_is_stored_and_the_links():
    embed = render.help_embed(logs_questions=True, links=[("Guide", "https://example.org/guide")])
    text = " ".join([embed.description or ""] + [f"{f.name} {f.value}" for f in embed.fields])
    for command in ("/ask", "/recent", "/article", "/stats", "/upload", "/delete", "/feed add"):
        assert command in text, command
    for shipped in ("/channel watch|unwatch|list", "Search the archive", "`since`", "`private"):
        assert shipped in text, shipped
    assert "questions asked here" in text
    assert "[Guide](https://example.org/guide)" in text
    assert render.embeds_size([embed]) <= render.EMBEDS_TOTAL_MAX
    assert all(len(f.value or "") <= render.FIELD_VALUE_MAX for f in embed.fields)
    quiet = render.help_embed(logs_questions=False)
    assert "a question is answered and not kept" in " ".join(f.value or "" for f in quiet.fields)
    assert "/help" in render.WELCOME


def test_article_dates_read_as_a_day_and_how_long_ago():
    assert render.when("2024-05-01") == "2024-05-01 (<t:1714521600:R>)"
    assert render.when("2024-05-01T13:45:00+02:00") == "2024-05-01 (<t:1714521600:R>)"
    assert render.when("spring 2024") == "spring 2024"  # not a day: shown as stored
    assert render.when(None) is None
    stored = _stored("T", None, "S")
    listing = render.recent_embed([stored], offset=0, count=5, total=1, source=None)
    assert "2024-05-01 (<t:1714521600:R>)" in (listing.description or "")


def test_since_is_shown_with_the_question_and_an_empty_period_names_the_next_step():
    content = render.question_content("ferry?", None, "week")
    assert content == "**Q:** ferry?\n**Since:** the past week"
    assert render.parse_question_content(content) == ("ferry?", None)
    assert render.question_content("ferry?", None, "any") == "**Q:** ferry?"
    embed = render.nothing_since_embed("day")
    assert embed.title == "Nothing from the past day" and "`any`" in (embed.description or "")

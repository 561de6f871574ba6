"""render: cutting, escaping and links, without Discord."""

from __future__ import annotations

from archivist.models import Answer, Hit
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

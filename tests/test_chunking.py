from __future__ import annotations

from archivist.chunking import MIN_WORDS, chunk_article, split_sentences
from archivist.embedding import count_model_tokens
from archivist.models import Article, Paragraph


def words(n: int, word: str = "word") -> str:
    return " ".join(f"{word}{i}" for i in range(n)) + "."


def test_short_paragraphs_merge_with_the_next_under_the_same_heading():
    article = Article(
        "T",
        (
            Paragraph("Short one."),
            Paragraph(words(40)),
            Paragraph("Tiny.", heading="H"),
            Paragraph(words(30), heading="H"),
        ),
    )
    passages = chunk_article(article, count_model_tokens)
    assert [p.text.split()[0] for p in passages] == ["Short", "Tiny."]
    assert [p.heading for p in passages] == [None, "H"]
    assert [p.position for p in passages] == [0, 1]


def test_trailing_short_paragraph_joins_the_previous():
    article = Article("T", (Paragraph(words(40)), Paragraph("The end.")))
    [passage] = chunk_article(article, count_model_tokens)
    assert passage.text.endswith("The end.")


def test_long_paragraph_split_at_sentences_within_the_window():
    sentences = [
        f"Sentence number {i} talks about the harbour and its many ferries." for i in range(80)
    ]
    article = Article("A title of some length", (Paragraph(" ".join(sentences)),))
    passages = chunk_article(article, count_model_tokens)
    assert len(passages) > 2
    for p in passages:
        assert p.text.endswith("ferries.")
        assert count_model_tokens(article.title) + count_model_tokens(p.text) + 2 <= 256
    assert " ".join(p.text for p in passages) == " ".join(sentences)


def test_huge_single_line_is_split_without_losing_words():
    text = " ".join(["lorem"] * 5000)
    passages = chunk_article(Article("T", (Paragraph(text),)), count_model_tokens)
    assert sum(len(p.text.split()) for p in passages) == 5000
    assert all(count_model_tokens(p.text) <= 256 for p in passages)


def test_split_sentences_keeps_abbreviations():
    text = "Mr. Smith went to Washington. The U.S. economy grew 3.5% in May. “Fine,” he said! Next?"
    assert split_sentences(text) == [
        "Mr. Smith went to Washington.",
        "The U.S. economy grew 3.5% in May.",
        "“Fine,” he said!",
        "Next?",
    ]
    assert MIN_WORDS > 5

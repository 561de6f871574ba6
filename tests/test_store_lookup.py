"""Archive.suggest_articles and Archive.sources: what autocomplete offers while a member types."""

from __future__ import annotations

from archivist.models import Article, Paragraph
from archivist.store import ArticleHint, SourceCount


def art(title: str, source: str | None = None, *, id: str | None = None) -> Article:
    text = f"{title}: the council said more on this at its meeting about {title.lower()}."
    return Article(title=title, paragraphs=(Paragraph(text),), source=source, id=id)


def add(archive, *articles: Article, collection: str = "A") -> None:
    archive.add_articles([(f"x{i}", a) for i, a in enumerate(articles)], collection=collection)


def titles(hints: list[ArticleHint]) -> list[str]:
    return [h.title for h in hints]


def test_a_typed_word_finds_the_titles_with_a_word_starting_with_it(fake_archive):
    add(fake_archive, art("Harbour ferry resumes"), art("Budget passed"), art("Ferryman retires"))
    assert titles(fake_archive.suggest_articles("A", "ferr")) == [
        "Ferryman retires",
        "Harbour ferry resumes",
    ]
    # inside a word is not the start of one
    assert fake_archive.suggest_articles("A", "erry") == []


def test_every_typed_word_must_start_a_title_word_in_any_case(fake_archive):
    add(fake_archive, art("Harbour ferry resumes"), art("Ferry fares rise"))
    assert titles(fake_archive.suggest_articles("A", "FERRY har")) == ["Harbour ferry resumes"]


def test_words_outside_ascii_are_matched_whatever_their_case(fake_archive):
    add(fake_archive, art("Ärzte streiken"), art("Bäcker öffnen"))
    assert titles(fake_archive.suggest_articles("A", "ärz")) == ["Ärzte streiken"]


def test_an_id_prefix_finds_its_article_first(fake_archive):
    add(fake_archive, art("Museum reopens", id="mus-2024-1"), art("Mustard prices", id="food-7"))
    hints = fake_archive.suggest_articles("A", "mus-20")
    assert [h.id for h in hints] == ["mus-2024-1"]
    assert hints[0] == ArticleHint("mus-2024-1", "Museum reopens", None, None)


def test_nothing_typed_offers_the_newest_first_up_to_the_limit(fake_archive):
    add(fake_archive, *[art(f"Report number {n}") for n in range(30)])
    hints = fake_archive.suggest_articles("A", "")
    assert len(hints) == 25
    assert hints[0].title == "Report number 29" and hints[-1].title == "Report number 5"
    assert titles(fake_archive.suggest_articles("A", "  ", limit=2)) == [
        "Report number 29",
        "Report number 28",
    ]


def test_like_wildcards_typed_by_a_member_match_only_themselves(fake_archive):
    add(fake_archive, art("Budget passed"), art("Growth of 5% expected"))
    assert fake_archive.suggest_articles("A", "%") == []
    assert fake_archive.suggest_articles("A", "_") == []


def test_suggestions_keep_to_their_collection(fake_archive):
    add(fake_archive, art("Harbour ferry resumes", "Gazette"), collection="A")
    add(fake_archive, art("Ferry fares rise", "Courier"), collection="B")
    assert titles(fake_archive.suggest_articles("B", "ferry")) == ["Ferry fares rise"]
    assert fake_archive.sources("B") == [SourceCount("Courier", 1)]


def test_sources_most_articles_first_filtered_by_the_start_of_a_word(fake_archive):
    add(
        fake_archive,
        art("One", "Test Gazette"),
        art("Two", "Daily Courier"),
        art("Three", "Daily Courier"),
        art("Four", "daily courier"),
        art("Five", "Harbour Times"),
        art("Six"),
    )
    assert fake_archive.sources("A") == [
        SourceCount("Daily Courier", 3),
        SourceCount("Harbour Times", 1),
        SourceCount("Test Gazette", 1),
    ]
    assert [s.name for s in fake_archive.sources("A", "gaz")] == ["Test Gazette"]
    assert [s.name for s in fake_archive.sources("A", "da")] == ["Daily Courier"]
    assert fake_archive.sources("A", "ette") == []
    assert len(fake_archive.sources("A", limit=1)) == 1

from __future__ import annotations

import pytest
from conftest import SEED, SHARED_DATA, need

from archivist.errors import ReadError, UnsupportedFormat
from archivist.readers import read_bytes, read_path
from archivist.readers.text import parse_text


def _article(path):
    result = read_path(need(path))
    assert not result.failures
    [(origin, article)] = result.articles
    return article


def test_seed_layout_field_by_field():
    article = _article(SEED)
    assert article.title == "Lavrov sees China as a partner against the West"
    assert article.category == "diplomacy"
    assert article.source == "site-3"
    assert article.agency == "dpa"
    texts = [p.text for p in article.paragraphs]
    # metadata lines are never passages
    for line in ("photo", "©", "dpa", "source site-3", "diplomacy"):
        assert not any(t == line or t.startswith(line) for t in texts), line
    assert not any(t.endswith("photo") for t in texts)
    assert texts[0].startswith("China is Russia’s most important ally.")
    assert texts[-1].endswith("said spokeswoman Mao Ning.")
    assert len(texts) == 7
    # sub-headings are the heading of the paragraphs that follow, not passages
    headings = [p.heading for p in article.paragraphs]
    assert headings[:3] == [None, None, None]
    assert headings[3:5] == ["Relations between both countries at an all-time high"] * 2
    assert headings[5:] == ["Putin possibly in Beijing in May"] * 2
    assert "Putin possibly in Beijing in May" not in texts


def test_bbc_simple_layout():
    article = _article(SHARED_DATA / "bbc-news" / "txt" / "business" / "001.txt")
    assert article.title == "Ad sales boost Time Warner profit"
    assert article.paragraphs[0].text.startswith("Quarterly profits at US media giant TimeWarner")
    assert all(p.heading is None for p in article.paragraphs)
    assert article.source is None and article.category is None


def test_bbc_cp1252_file_is_decoded():
    path = need(SHARED_DATA / "bbc-news" / "txt" / "sport" / "199.txt")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    article = _article(path)
    assert article.title == "Chelsea sack Mutu"
    assert "\ufffd" not in article.text
    assert any(ch in article.text for ch in "£’–é") or article.text.isascii() is False


def test_simple_layout_fixture_lists_are_not_headings():
    text = (
        "Cup draw made\n\nThe draw for the next round was made on Monday, with several ties.\n\n"
        "Arsenal v Wolves\n\nChelsea v Leeds\n\nOldham v Bolton\n\n"
        "The matches will be played over the weekend of 19 February, officials said today.\n"
    )
    article = parse_text(text)
    texts = [p.text for p in article.paragraphs]
    assert "Arsenal v Wolves" in texts and "Oldham v Bolton" in texts
    assert all(p.heading is None for p in article.paragraphs)


def test_paragraph_ending_in_photo_word_is_kept():
    text = (
        "Title here\n\nFirst paragraph of the story.\n\n"
        "The mayor then posed for a photo\n\nLast one."
    )
    article = parse_text(text)
    assert "The mayor then posed for a photo" in [p.text for p in article.paragraphs] or any(
        p.heading == "The mayor then posed for a photo" for p in article.paragraphs
    )


def test_nul_bytes_and_bom_stripped():
    data = b"\xef\xbb\xbfA title\x00\n\nSome body text\x00 here."
    [(_, article)] = read_bytes("x.txt", data).articles
    assert article.title == "A title"
    assert article.paragraphs[0].text == "Some body text here."


def test_markdown_headings():
    text = "# Big news\n\nIntro paragraph here.\n\n## Details\n\nThe details paragraph."
    article = parse_text(text)
    assert article.title == "Big news"
    assert article.paragraphs[1].heading == "Details"


@pytest.mark.parametrize("data", [b"", b"\x00\x00", b"   \n\n  "])
def test_empty_files_rejected_with_reason(data):
    with pytest.raises(ReadError, match="empty"):
        read_bytes("empty.txt", data)


def test_title_only_rejected():
    with pytest.raises(ReadError, match="no article text"):
        read_bytes("t.txt", b"Just a title\n")


def test_unsupported_extension_names_file():
    with pytest.raises(UnsupportedFormat, match=r"photo\.png.*unsupported format '\.png'"):
        read_bytes("photo.png", b"\x89PNG....")

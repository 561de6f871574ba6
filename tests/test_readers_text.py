from __future__ import annotations

import tracemalloc
import unicodedata

import pytest
from conftest import SEED, SHARED_DATA, need
from hypothesis import given, settings
from hypothesis import strategies as st

from archivist.config import Limits
from archivist.errors import ReadError, UnsupportedFormat
from archivist.readers import read_bytes, read_path
from archivist.readers import text as text_reader
from archivist.readers.decode import collapse_space, decode_text
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
    with pytest.raises(UnsupportedFormat, match=r"photo\.png.*unsupported format \.png"):
        read_bytes("photo.png", b"\x89PNG....")


# decode_text as it was before it stopped filtering character by character (issue #17): the
# oracle the new one must match
def generator_clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )
    return unicodedata.normalize("NFC", text)


def generator_decode(data: bytes) -> str:
    data = data.replace(b"\x00", b"")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return generator_clean(data.decode("utf-16"))
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8", "cp1252"):
        try:
            return generator_clean(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    return generator_clean(data.decode("latin-1"))


TRICKY = [
    "a",
    "é",
    "e\u0301",
    "中",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\x00",
    "\x01",
    "\x0b",
    "\x0c",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\xa0",
    "\u200b",
    "\ufeff",
    "😀",
    " ",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(TRICKY), max_size=40),
    st.sampled_from(["utf-8", "utf-16", "cp1252", "latin-1"]),
)
def test_decode_text_gives_what_the_character_filter_gave(pieces, encoding):
    data = "".join(pieces).encode(encoding, errors="ignore")
    assert decode_text(data) == generator_decode(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_decode_text_gives_what_the_character_filter_gave_on_any_bytes(data):
    assert decode_text(data) == generator_decode(data)


@pytest.mark.parametrize("unit", ["港口管理局周一批准了该计划。\n\n", "港\x01口\x7f局\x85"])
def test_decoding_cjk_text_holds_a_small_multiple_of_its_size(unit):
    # each character went through a generator as its own string: about 29 times the input
    data = (unit * 40_000).encode()
    tracemalloc.start()
    try:
        text = decode_text(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text.startswith("港口")
    assert peak < 6 * len(data)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("separator", ["\n", "\n\n"])
def test_a_headline_repeated_a_million_times_is_skipped_in_linear_time(separator):
    # the header was skipped by popping or slicing one line at a time: 200 KB took 5 s, 2 MB
    # did not finish in a minute
    text = ("Harbour news" + separator) * 300_000 + "\nThe harbour reopened on Monday."
    article = parse_text(text)
    assert article.title == "Harbour news"
    assert [p.text for p in article.paragraphs] == ["The harbour reopened on Monday."]


def test_blank_lines_cost_no_memory_of_their_own():
    # every line of the file was first put in a list (eight bytes a line at least) and then
    # copied: a file of mostly blank lines held ten times its size
    data = b"Harbour news\n\nThe harbour reopened.\n" + b"\n" * 2_000_000 + b"More news.\n"
    tracemalloc.start()
    try:
        [(_, article)] = text_reader.read("blank.txt", data, Limits()).articles
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [p.text for p in article.paragraphs] == ["The harbour reopened.", "More news."]
    assert peak < 3 * len(data)


def test_paragraphs_past_the_limit_are_counted_not_kept():
    data = b"Harbour news\n\n" + b"A b.\n\n" * 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ReadError) as info:
            text_reader.read("many.txt", data, Limits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value) == "many.txt: 200000 paragraphs, over the limit of 5000"
    assert peak < 35 * len(data)  # was 45 times: a paragraph object for each of them


SPACES = st.sampled_from([" ", "  ", "\t", " \t ", "\u00a0", "\u3000"])
WORDS = st.sampled_from(
    ["Harbour", "news", "The", "ferry", "left.", "“Quote”", "©", "photo", "dpa"]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.lists(WORDS, min_size=1, max_size=6), min_size=1, max_size=3),
        min_size=2,
        max_size=8,
    ),
    st.data(),
)
def test_white_space_inside_and_around_lines_changes_nothing(blocks, data):
    plain = "\n\n".join("\n".join(" ".join(line) for line in block) for block in blocks)
    messy = "\n \n\t\n".join(
        "\n".join(
            data.draw(SPACES) + data.draw(SPACES).join(line) + data.draw(SPACES) for line in block
        )
        for block in blocks
    )
    try:
        expected = parse_text(plain)
    except ReadError as exc:
        with pytest.raises(ReadError, match=exc.reason):
            parse_text(messy)
    else:
        assert parse_text(messy) == expected


PIECES = st.sampled_from(["a", "bc", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2028", "中"])


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, max_size=30), st.integers(min_value=0, max_value=20_000))
def test_collapse_space_is_split_and_join(pieces, repeat):
    short = "".join(pieces)
    assert collapse_space(short) == " ".join(short.split())
    # long enough to be collapsed slice by slice, cut at every kind of place
    long = short * (repeat // max(1, len(short))) + short
    assert collapse_space(long) == " ".join(long.split())


def test_a_huge_line_with_untidy_spaces_holds_a_small_multiple_of_its_size():
    # " ".join(line.split()) held every word as its own string: 15 times the file's size
    data = b"Harbour news\n\n" + b"word  " * 400_000
    tracemalloc.start()
    try:
        [(_, article)] = text_reader.read("line.txt", data, Limits()).articles
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert article.paragraphs[0].text == " ".join(["word"] * 400_000)
    assert peak < 6 * len(data)

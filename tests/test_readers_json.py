from __future__ import annotations

import json
import tracemalloc

import pytest
from conftest import SHARED_DATA, need

from archivist.config import Limits
from archivist.errors import ReadError
from archivist.readers import jsonfile, read_bytes, read_path
from archivist.readers.jsonfile import MAX_LINE_CHARS


def _jsonl(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_jsonl_ids_kept_and_broken_line_reported():
    good = {
        "id": "a-1",
        "title": "One",
        "paragraphs": ["First para.", "Second para."],
        "source": "Wire",
        "date": "2024-01-02",
        "url": "https://example.org/1",
    }
    other = {"title": "Two", "text": "Para one.\n\nPara two."}
    data = _jsonl(json.dumps(good), "{broken json", json.dumps(other), json.dumps([1, 2]))
    result = read_bytes("news.jsonl", data)
    assert [a.id for _, a in result.articles] == ["a-1", None]
    first = result.articles[0][1]
    assert (first.source, first.date, first.url) == ("Wire", "2024-01-02", "https://example.org/1")
    assert [p.text for p in result.articles[1][1].paragraphs] == ["Para one.", "Para two."]
    assert [f.origin for f in result.failures] == ["news.jsonl:2", "news.jsonl:4"]
    assert "not valid JSON" in result.failures[0].error
    assert "expected an object" in result.failures[1].error


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"paragraphs": ["x"]}, "missing 'title'"),
        ({"title": "T"}, "no body"),
        ({"title": "T", "paragraphs": "not a list"}, "must be a list"),
        ({"title": "T", "paragraphs": [1, 2]}, "must be a string"),
        ({"title": ["T"], "paragraphs": ["x"]}, "'title' must be a string"),
        ({"title": "T", "paragraphs": ["x"], "id": "has space"}, "field 'id'"),
    ],
)
def test_wrong_shapes_are_reported(record, reason):
    result = read_bytes("x.jsonl", _jsonl(json.dumps(record)))
    assert not result.articles
    assert reason in result.failures[0].error


def test_json_single_object_and_list():
    one = {"title": "T", "paragraphs": ["Body."]}
    [(origin, article)] = read_bytes("a.json", json.dumps(one).encode()).articles
    assert origin == "a.json" and article.title == "T"
    result = read_bytes("b.json", json.dumps([one, {"nope": 1}]).encode())
    assert len(result.articles) == 1 and result.failures[0].origin == "b.json[1]"
    with pytest.raises(ReadError, match=r"a\.json: missing 'title'"):
        read_bytes("a.json", b'{"paragraphs": ["x"]}')
    with pytest.raises(ReadError, match="not valid JSON"):
        read_bytes("c.json", b"{nope")


def test_shared_bbc_jsonl_reads_whole():
    result = read_path(need(SHARED_DATA / "bbc-news" / "articles.jsonl"))
    assert len(result.articles) == 2225 and not result.failures
    assert result.articles[0][1].id == "bbc-business-001"


def _good_record(n: int) -> str:
    return json.dumps({"title": f"Story {n}", "paragraphs": [f"Body of story {n}."]})


def test_a_deeply_nested_or_huge_number_line_fails_alone():
    data = _jsonl(
        _good_record(1),
        "[" * 100_000,
        _good_record(3),
        '{"title": "Big", "paragraphs": ["x"], "n": ' + "7" * 5_000 + "}",
        _good_record(5),
    )
    result = read_bytes("mixed.jsonl", data)
    assert [a.title for _, a in result.articles] == ["Story 1", "Story 3", "Story 5"]
    failures = {f.origin: f.error for f in result.failures}
    assert set(failures) == {"mixed.jsonl:2", "mixed.jsonl:4"}
    assert failures["mixed.jsonl:2"].startswith("JSON nested too deeply to read")
    assert failures["mixed.jsonl:4"] == "a number with more than 4,300 digits"


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"[" * 100_000, "a.json: JSON nested too deeply to read"),
        (
            b'{"title": "T", "paragraphs": ["x"], "n": ' + b"7" * 5_000 + b"}",
            "a.json: a number with more than 4,300 digits",
        ),
    ],
)
def test_a_single_json_document_too_deep_or_with_a_huge_number_says_so(data, reason):
    with pytest.raises(ReadError) as info:
        read_bytes("a.json", data)
    assert str(info.value).startswith(reason)
    assert "\n" not in str(info.value) and "sys." not in str(info.value)


def test_a_line_longer_than_any_article_is_refused_before_parsing():
    huge = json.dumps({"title": "Huge", "text": "word " * (MAX_LINE_CHARS // 5)})
    result = read_bytes("long.jsonl", _jsonl(_good_record(1), huge))
    assert [a.title for _, a in result.articles] == ["Story 1"]
    [failure] = result.failures
    assert failure.origin == "long.jsonl:2"
    assert f"over the limit of {MAX_LINE_CHARS:,}" in failure.error


def test_blank_and_white_space_lines_keep_line_numbers():
    data = _jsonl(
        "", "   ", _good_record(3), "\t", "", "{broken", "  " + _good_record(7) + "  ", ""
    )
    result = read_bytes("gaps.jsonl", data)
    assert [o for o, _ in result.articles] == ["gaps.jsonl:3", "gaps.jsonl:7"]
    assert [f.origin for f in result.failures] == ["gaps.jsonl:6"]


def test_many_short_blank_lines_cost_memory_linear_in_the_input():
    # each line of text.split() was its own string object: ~20 times the file's size
    data = _jsonl(_good_record(1)) + b"  \n" * 700_000
    tracemalloc.start()
    try:
        result = jsonfile.read("blank.jsonl", data, Limits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [a.title for _, a in result.articles] == ["Story 1"]
    assert peak < 4 * len(data)


def test_a_huge_untidy_string_field_holds_a_small_multiple_of_its_size():
    data = json.dumps({"title": "Huge", "text": "word \t" * 300_000}).encode()
    tracemalloc.start()
    try:
        result = jsonfile.read("huge.json", data, Limits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [(_, article)] = result.articles
    assert article.paragraphs[0].text == " ".join(["word"] * 300_000)
    assert peak < 6 * len(data)

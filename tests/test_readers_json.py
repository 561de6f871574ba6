from __future__ import annotations

import json

import pytest
from conftest import SHARED_DATA, need

from archivist.errors import ReadError
from archivist.readers import read_bytes, read_path


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

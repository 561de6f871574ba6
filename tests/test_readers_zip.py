"""The ZIP reader: every supported entry, failures reported, limits, bombs, hostile names."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.readers import read_bytes

ARTICLE = "Harbour channel to be dredged\n\nThe harbour authority approved the plan on Monday.\n"
HTML = (
    "<html><head><title>Ferry timetable changes</title></head><body><article>"
    "<h1>Ferry timetable changes</h1><p>The evening ferry leaves half an hour earlier from "
    "June, the operator said on Friday.</p></article></body></html>"
)


def make_zip(entries: dict[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_every_supported_entry_is_read_with_its_origin():
    record = {"title": "Bridge reopens", "paragraphs": ["The bridge reopened on Sunday."]}
    data = make_zip(
        {
            "a.txt": ARTICLE,
            "folder/b.html": HTML,
            "c.jsonl": json.dumps(record) + "\n{broken\n",
            "folder/": "",
        }
    )
    result = read_bytes("bundle.zip", data)
    origins = {origin: article.title for origin, article in result.articles}
    assert origins == {
        "bundle.zip!a.txt": "Harbour channel to be dredged",
        "bundle.zip!folder/b.html": "Ferry timetable changes",
        "bundle.zip!c.jsonl:1": "Bridge reopens",
    }
    assert [f.origin for f in result.failures] == ["bundle.zip!c.jsonl:2"]


def test_unsupported_and_empty_entries_are_reported_not_dropped():
    data = make_zip(
        {"a.txt": ARTICLE, "photo.jpg": b"\xff\xd8\xff", "empty.txt": b"", "__MACOSX/._a.txt": b"x"}
    )
    result = read_bytes("bundle.zip", data)
    assert [origin for origin, _ in result.articles] == ["bundle.zip!a.txt"]
    failures = {f.origin: f.error for f in result.failures}
    assert set(failures) == {"bundle.zip!photo.jpg", "bundle.zip!empty.txt"}
    assert "unsupported format" in failures["bundle.zip!photo.jpg"]
    assert [(s.origin, s.error) for s in result.skipped] == [
        ("bundle.zip!__MACOSX/._a.txt", "operating-system file, not an article")
    ]


def test_a_zip_of_only_clutter_is_refused_with_that_reason():
    data = make_zip({"__MACOSX/._a.txt": b"x", "folder/.DS_Store": b"\0\0"})
    with pytest.raises(ReadError, match="only operating-system files"):
        read_bytes("clutter.zip", data)


def test_traversal_names_are_only_labels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    data = make_zip({"../../x.txt": ARTICLE, "/etc/evil.txt": ARTICLE, "..\\..\\y.txt": ARTICLE})
    result = read_bytes("bundle.zip", data)
    assert sorted(origin for origin, _ in result.articles) == [
        "bundle.zip!../../x.txt",
        "bundle.zip!..\\..\\y.txt",
        "bundle.zip!/etc/evil.txt",
    ]
    assert sorted(os.listdir(tmp_path)) == before
    assert not (tmp_path.parent.parent / "x.txt").exists()


def test_nested_zips_are_read_until_too_deep():
    level3 = make_zip({"deep.txt": ARTICLE})
    level2 = make_zip({"l3.zip": level3, "two.txt": ARTICLE})
    level1 = make_zip({"l2.zip": level2})
    result = read_bytes("top.zip", make_zip({"l1.zip": level1}))
    assert [o for o, _ in result.articles] == ["top.zip!l1.zip!l2.zip!two.txt"]
    assert [f.origin for f in result.failures] == ["top.zip!l1.zip!l2.zip!l3.zip"]
    assert "nested" in result.failures[0].error


def test_zip_bomb_is_refused_by_ratio():
    data = make_zip({"bomb.txt": b"0" * 20_000_000})
    with pytest.raises(InputTooLarge, match="ZIP bomb"):
        read_bytes("bomb.zip", data)


def test_total_size_and_entry_count_limits():
    data = make_zip({f"{i}.txt": ARTICLE for i in range(5)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(InputTooLarge, match="5 entries"):
        read_bytes("many.zip", data, Limits(max_zip_entries=4))
    with pytest.raises(InputTooLarge, match="unpacks to"):
        read_bytes("big.zip", data, Limits(max_zip_total_bytes=100))


def test_lying_sizes_are_caught_while_inflating():
    data = bytearray(make_zip({"a.txt": ARTICLE * 50}))
    # shrink the declared uncompressed size in both headers: the CRC check then fails
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    result = read_bytes("liar.zip", bytes(data))
    assert not result.articles
    assert result.failures and result.failures[0].origin == "liar.zip!a.txt"


@pytest.mark.parametrize("data", [b"PK\x05\x06" + b"\x00" * 18, b"PK\x03\x04garbage", b"not a zip"])
def test_broken_or_empty_zip_gives_a_read_error(data):
    with pytest.raises(ReadError) as info:
        read_bytes("broken.zip", data)
    assert str(info.value).startswith("broken.zip: ")


def test_encrypted_entry_is_reported():
    data = bytearray(make_zip({"secret.txt": ARTICLE}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x1
    result = read_bytes("secret.zip", bytes(data))
    assert result.failures and "encrypted" in result.failures[0].error

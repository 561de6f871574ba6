"""The ZIP reader: every supported entry, failures reported, limits, bombs, hostile names."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

import pytest

from archivist.config import Limits
from archivist.errors import InputTooLarge, ReadError
from archivist.readers import read_bytes
from archivist.readers import zipfile as zip_reader

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


def _headers(data: bytearray, name: str) -> list[tuple[int, int]]:
    """(offset, where its uncompressed size is) of `name`'s local and central headers."""
    found = []
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        at = data.find(signature)
        while at >= 0 and data[at + name_at : at + name_at + len(name)] != name.encode():
            at = data.find(signature, at + 1)
        found.append((at, at + size_at))
    return found


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """The archive with `name`'s uncompressed size set to `size` in both its headers: a lie."""
    out = bytearray(data)
    for _, size_at in _headers(out, name):
        out[size_at : size_at + 4] = size.to_bytes(4, "little")
    return bytes(out)


def make_big_zip(name: str, size: int, compression: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        z.writestr("good.txt", ARTICLE, compress_type=zipfile.ZIP_DEFLATED)
        with z.open(name, "w") as entry:
            entry.write(b"Title\n\n")
            for _ in range(size // 1_000_000):
                entry.write(b"\0" * 1_000_000)
    return buffer.getvalue()


def peak_memory_of(fn):
    tracemalloc.start()
    try:
        value = fn()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_entry_without_an_extension_fails_alone_and_says_why():
    data = make_zip({"README": ARTICLE, "a.txt": ARTICLE, "notes/.hidden": ARTICLE})
    result = read_bytes("bundle.zip", data)
    assert [origin for origin, _ in result.articles] == ["bundle.zip!a.txt"]
    failures = {f.origin: f.error for f in result.failures}
    assert set(failures) == {"bundle.zip!README", "bundle.zip!notes/.hidden"}
    for error in failures.values():
        assert error.startswith("no file extension; supported: ")
        assert ".txt" in error and ".zip" in error and "'" not in error


@pytest.mark.parametrize(
    "compression, method", [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")]
)
def test_bzip2_and_lzma_entries_are_refused_before_inflating(compression, method):
    # zipfile inflates these a whole read at a time: with a header lying about the size, 241
    # bytes of bzip2 held 100 MB before the lie was noticed
    data = declare_size(make_big_zip("bomb.txt", 30_000_000, compression), "bomb.txt", 1_000)
    result, peak = peak_memory_of(lambda: zip_reader.read("bomb.zip", data, Limits()))
    assert [origin for origin, _ in result.articles] == ["bomb.zip!good.txt"]
    [failure] = result.failures
    assert failure.origin == "bomb.zip!bomb.txt"
    assert failure.error.startswith(f"compressed with {method}, which is not read")
    assert peak < 5_000_000


def test_a_header_lying_about_its_size_inflates_no_further_than_declared():
    data = declare_size(
        make_big_zip("liar.txt", 50_000_000, zipfile.ZIP_DEFLATED), "liar.txt", 1_000
    )
    result, peak = peak_memory_of(lambda: zip_reader.read("liar.zip", data, Limits()))
    assert [origin for origin, _ in result.articles] == ["liar.zip!good.txt"]
    assert [(f.origin, f.error) for f in result.failures] == [
        ("liar.zip!liar.txt", "damaged entry: its checksum does not match its content")
    ]
    assert peak < 5_000_000


def test_an_entry_with_corrupt_compressed_data_fails_alone():
    data = bytearray(make_zip({"a.txt": ARTICLE, "b.txt": ARTICLE * 20}))
    (local, _), _ = _headers(data, "b.txt")
    start = local + 30 + len("b.txt")
    data[start : start + 8] = b"\xff" * 8  # an invalid deflate block type
    result = read_bytes("corrupt.zip", bytes(data))
    assert [origin for origin, _ in result.articles] == ["corrupt.zip!a.txt"]
    assert [(f.origin, f.error) for f in result.failures] == [
        ("corrupt.zip!b.txt", "damaged entry: its compressed data is corrupt")
    ]


def test_entry_names_with_line_breaks_are_shown_on_one_line():
    data = make_zip({"line\nbreak": ARTICLE, "tab\tand\u2028sep.txt": ARTICLE})
    result = read_bytes("names.zip", data)
    assert [origin for origin, _ in result.articles] == ["names.zip!tab?and?sep.txt"]
    [failure] = result.failures
    assert failure.origin == "names.zip!line?break"
    assert failure.error.startswith("no file extension")


def test_the_articles_of_all_entries_count_against_one_limit():
    record = {"title": "T", "paragraphs": ["A paragraph."]}
    part = json.dumps([record] * 4)
    data = make_zip({"a.json": part, "b.json": part, "c.json": part})
    assert len(read_bytes("ok.zip", data, Limits(max_articles_per_file=12)).articles) == 12
    with pytest.raises(InputTooLarge) as info:
        read_bytes("many.zip", data, Limits(max_articles_per_file=10))
    assert str(info.value) == (
        "many.zip: more than 10 articles in the archive, over the limit for one file"
    )

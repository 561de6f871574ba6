"""A corpus of hostile inputs, made at test time: each gets a one-line error naming the file and
the reason (never a traceback), the good parts of bulk files are kept, nothing else changes."""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEED, need
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archivist.cli import cli
from archivist.errors import InvalidQuestion
from archivist.maintenance import check


def zip_bytes(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def hostile_files(folder: Path) -> dict[str, bytes]:
    rng = random.Random(7)
    files = {
        "random.txt": bytes(rng.randrange(256) for _ in range(4096)),
        "random.json": bytes(rng.randrange(256) for _ in range(4096)),
        "random.pdf": bytes(rng.randrange(256) for _ in range(4096)),
        "random.docx": bytes(rng.randrange(256) for _ in range(4096)),
        "random.zip": bytes(rng.randrange(256) for _ in range(4096)),
        "empty.txt": b"",
        "empty.html": b"",
        "nuls.txt": b"\x00" * 1000,
        "long-line.txt": b"A long line\n\n" + b"word " * 600_000,
        "utf16-no-bom.txt": "A title\n\nSome text.".encode("utf-16-le"),
        "nested.html": b"<html><body>" + b"<div>" * 100_000 + b"x" + b"</div>" * 100_000,
        "script-only.html": b"<html><head><script>"
        + b"var a=1;" * 5000
        + b"</script></head></html>",
        "broken.pdf": (
            b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer<<>>\n%%EOF"
        ),
        "bomb.zip": zip_bytes({"big.txt": b"A title\n\n" + b"a" * 300_000_000}),
        "slip.zip": zip_bytes({"../../x.txt": b"Escaped title\n\nA paragraph that is fine."}),
        "shape.json": json.dumps({"articles": "nope", "title": 5}).encode(),
        "list-of-numbers.json": b"[1, 2, 3]",
        "broken-lines.jsonl": b'{"title": "Kept", "paragraphs": ["A kept paragraph of text."]}\n'
        b'{broken\n[]\n"str"\n',
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "image.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        "noext": b"plain text without an extension",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_hostile_corpus(fake_archive, tmp_path):
    fake_archive.add_paths([need(SEED)], collection="g")
    before = fake_archive.stats(collection="g")
    folder = tmp_path / "hostile"
    folder.mkdir()
    files = hostile_files(folder)
    report = fake_archive.add_paths([folder], collection="g")
    failed = {re.split(r"[!:\[]", Path(f.path).name)[0]: f.error for f in report.failed}
    # everything but the good JSONL line (and the in-memory ZIP entry) is refused, with a reason
    kept = {a.title for a in report.added}
    # UTF-16 without a BOM is still readable once its NULs go
    assert kept <= {"Kept", "Escaped title", "A title"}, kept
    assert "Kept" in kept
    for name in files:
        if name in ("slip.zip", "utf16-no-bom.txt"):
            continue
        assert name in failed, f"{name} was neither stored nor reported"
        assert failed[name] and "\n" not in failed[name] and "Traceback" not in failed[name]
    assert "empty" in failed["empty.txt"]
    assert "unsupported" in failed["image.png"]
    assert not (tmp_path / "x.txt").exists() and not (folder.parent.parent / "x.txt").exists()
    after = fake_archive.stats(collection="g")
    assert after.articles == before.articles + len(kept)
    assert check(fake_archive).ok


@pytest.mark.slow
def test_hostile_corpus_through_the_cli_prints_no_traceback(tmp_path, real_embedder):
    folder = tmp_path / "hostile"
    folder.mkdir()
    hostile_files(folder)
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), "ingest", str(folder)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    failed_lines = [line for line in result.output.splitlines() if line.startswith("failed")]
    assert len(failed_lines) >= 18
    assert all(str(folder) in line for line in failed_lines)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=300))
def test_any_question_is_answered_or_refused_clearly(fake_archive, question):
    if not fake_archive.count(collection="g"):
        fake_archive.add_paths([need(SEED)], collection="g")
    try:
        answer = fake_archive.ask(question, collection="g")
    except InvalidQuestion as exc:
        assert str(exc)
    else:
        assert isinstance(answer.answered, bool)


@pytest.mark.parametrize(
    "question",
    [
        "x" * 10_000,
        "?!?!",
        "🙂🙂🙂",
        "Что сказал Лавров?",
        "拉夫罗夫说了什么",
        "NEAR(a b) AND c*",
        '"',
        "-",
        "a" * 2000,
        "\x00\x01\x02 what?",
    ],
)
def test_odd_questions(fake_archive, question):
    fake_archive.add_paths([need(SEED)], collection="g")
    try:
        fake_archive.ask(question, collection="g")
    except InvalidQuestion as exc:
        assert "question" in str(exc)

"""The CLI contract (JSON shapes and exit codes), through click's runner with the real model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, SEED, need

from archivist.cli import cli

pytestmark = pytest.mark.slow


@pytest.fixture
def run(tmp_path, real_embedder):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(
            cli, ["--data-dir", str(tmp_path / "d"), *args], input=input, catch_exceptions=False
        )

    return invoke


def test_ingest_json_shape_and_exit_codes(run, tmp_path):
    result = run("ingest", str(need(SEED)), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"added", "duplicates", "failed", "skipped"}
    assert len(out["added"]) == 1 and out["duplicates"] == [] and out["failed"] == []

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "Ok", "paragraphs": ["A fine paragraph of text."]}\n{oops\n')
    result = run("ingest", str(need(SEED)), str(bad), "--json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert len(out["added"]) == 1
    assert out["duplicates"] == [
        {
            "origin": str(need(SEED)),
            "title": "Lavrov sees China as a partner against the West",
            "existing_id": json.loads(run("list", "--json").output)[-1]["id"],
        }
    ]
    assert out["failed"] == [
        {
            "path": f"{bad}:2",
            "error": "not valid JSON (Expecting property name enclosed in double quotes)",
        }
    ]


def test_ingest_usage_errors_exit_2(run):
    assert run("ingest").exit_code == 2
    assert run("ingest", "--bogus", "x").exit_code == 2


def test_ingest_bad_file_message_no_traceback(run, tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG")
    result = run("ingest", str(bad))
    assert result.exit_code == 1
    assert f"failed     {bad}: unsupported format .png" in result.output
    assert "Traceback" not in result.output


def test_list_show_ask_delete_stats(run):
    run("ingest", str(SAMPLES))
    listed = json.loads(run("list", "--json", "--limit", "3").output)
    assert len(listed) == 3
    assert set(listed[0]) == {
        "id",
        "title",
        "source",
        "date",
        "category",
        "url",
        "added_at",
        "passages",
    }
    article_id = listed[0]["id"]
    shown = json.loads(run("show", article_id, "--json").output)
    assert set(shown) == {"id", "title", "source", "date", "category", "url", "passages"}
    assert set(shown["passages"][0]) == {"position", "heading", "text"}
    assert len(shown["passages"]) == listed[0]["passages"]

    result = run("ask", "When did the Ley Bridge in Harwick reopen?", "--k", "2", "--json")
    answer = json.loads(result.output)
    assert answer["answered"] is True and len(answer["hits"]) == 2
    assert {
        "article_id",
        "title",
        "source",
        "date",
        "url",
        "passage",
        "heading",
        "position",
        "score",
    } <= set(answer["hits"][0])
    assert "12 September 2026" in answer["hits"][0]["passage"]

    stats = json.loads(run("stats", "--json").output)
    assert stats["articles"] == 10 and stats["passages"] == stats["indexed"] > 10

    assert run("delete", article_id).exit_code == 0
    assert run("show", article_id).exit_code == 1
    missing = run("delete", article_id)
    assert missing.exit_code == 1 and "No article with id" in missing.output
    assert json.loads(run("stats", "--json").output)["articles"] == 9


def test_ask_questions_file_one_line_per_question(run, tmp_path):
    run("ingest", str(SAMPLES))
    questions = tmp_path / "q.txt"
    questions.write_text(
        "How high did the river Aller rise in Brenning?\n\nWho won the cup final?\n"
    )
    result = run("ask", "--questions", str(questions), "--json")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [r["question"] for r in lines] == [
        "How high did the river Aller rise in Brenning?",
        "",
        "Who won the cup final?",
    ]
    assert "error" in lines[1] and lines[1]["hits"] == []
    assert any("5.82 metres" in hit["passage"] for hit in lines[0]["hits"])


def test_ask_needs_question_xor_file(run):
    assert run("ask").exit_code == 2
    result = run("ask", "   ")
    assert result.exit_code == 1 and "The question is empty" in result.output


def test_chat_answers_then_quits(run):
    run("ingest", str(SAMPLES))
    result = run("chat", input="How much did the library renovation in Eastmere cost?\n\n")
    assert result.exit_code == 0
    assert "8.6 million" in result.output


def test_reindex(run):
    run("ingest", str(need(SEED)))
    result = run("reindex")
    assert result.exit_code == 0 and "Reindexed 6 passages" in result.output


def test_start_without_token_loads_samples_once_then_chats(tmp_path, real_embedder):
    data = tmp_path / "d"
    (data / "samples").mkdir(parents=True)
    (data / "samples" / "seed.txt").write_bytes(need(SEED).read_bytes())
    runner = CliRunner()
    first = runner.invoke(cli, ["--data-dir", str(data), "start"], input="\n")
    assert first.exit_code == 0, first.output
    assert "1 added" in first.output and "DISCORD_TOKEN is not set" in first.output
    second = runner.invoke(cli, ["--data-dir", str(data), "start"], input="\n")
    assert "Adding the sample" not in second.output

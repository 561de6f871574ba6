"""The CLI contract (JSON shapes, exit codes, texts) through click's runner, on the fake embedder
(the archive factory), and end to end with the real model on the samples (slow)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, SEED, need

from archivist.archive import Archive
from archivist.cli import cli, main
from archivist.config import Settings
from archivist.embedding import HashingEmbedder
from archivist.ranking import SearchConfig

SUMMARY_KEYS = {"id", "title", "source", "date", "category", "url", "added_at", "passages"}
HIT_KEYS = {"article_id", "title", "source", "date", "url", "passage", "heading", "position"}


def fake_archive(settings: Settings) -> Archive:
    # plain fusion: the shipped combiner's `answered` rule is calibrated on the real model's
    # cosines, which the fake's are not
    return Archive(
        settings.data_dir,
        limits=settings.limits,
        embedder=HashingEmbedder(),
        search_config=SearchConfig(mode="rrf"),
    )


def runner_for(data_dir, factory=fake_archive):
    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(
            cli, ["--data-dir", str(data_dir), *args], input=input, obj=factory
        )

    return invoke


@pytest.fixture
def run(tmp_path):
    return runner_for(tmp_path / "d")


def test_main_takes_an_archive_factory(tmp_path, capsys):
    made: list[Settings] = []

    def factory(settings: Settings) -> Archive:
        made.append(settings)
        return fake_archive(settings)

    with pytest.raises(SystemExit) as exit:
        main(["--data-dir", str(tmp_path / "d"), "stats", "--json"], archive_factory=factory)
    assert exit.value.code == 0
    assert json.loads(capsys.readouterr().out)["model"] == "hashing-test"
    assert [s.data_dir for s in made] == [tmp_path / "d"]


def test_help_and_usage_errors_open_no_archive(tmp_path):
    def refuse(settings: Settings) -> Archive:
        raise AssertionError("the archive was opened")

    run = runner_for(tmp_path / "d", refuse)
    assert run("--help").exit_code == 0 and "ingest" in run("--help").output
    assert run("ingest").exit_code == 2
    assert run("ingest", "--bogus", "x").exit_code == 2
    assert run("ask").exit_code == 2
    assert run("ask", "a question", "--questions", "-").exit_code == 2


def test_ingest_json_shape_and_exit_codes(run, tmp_path):
    result = run("ingest", str(need(SEED)), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"added", "duplicates", "failed", "skipped", "near_duplicates"}
    assert len(out["added"]) == 1 and out["duplicates"] == [] and out["failed"] == []

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "Ok", "paragraphs": ["A fine paragraph of text."]}\n{oops\n')
    result = run("ingest", str(need(SEED)), str(bad), "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
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


def test_ingest_report_as_text(run, tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG")
    result = run("ingest", str(need(SEED)), str(bad))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("added      ") and lines[0].endswith(
        "  Lavrov sees China as a partner against the West"
    )
    assert lines[-1] == "1 added, 0 duplicates, 1 failed"
    assert result.stderr.startswith(f"failed     {bad}: unsupported format .png")
    assert result.stderr.count("\n") == 1  # one line
    again = run("ingest", str(need(SEED)))
    assert again.exit_code == 0
    assert again.stdout.startswith(f"duplicate  {need(SEED)}  (already stored as ")
    assert "Traceback" not in result.output + again.output


def test_list_show_ask_delete_stats_shapes(run):
    assert run("list").output == (
        "The archive is empty: add articles with `archivist ingest PATH`.\n"
    )
    assert run("ingest", str(SAMPLES)).exit_code == 0
    listed = json.loads(run("list", "--json", "--limit", "3").output)
    assert len(listed) == 3 and set(listed[0]) == SUMMARY_KEYS
    article_id = listed[0]["id"]
    shown = json.loads(run("show", article_id, "--json").output)
    assert set(shown) == {"id", "title", "source", "date", "category", "url", "passages"}
    assert set(shown["passages"][0]) == {"position", "heading", "text"}
    assert len(shown["passages"]) == listed[0]["passages"]
    assert run("show", article_id).output.startswith(shown["title"] + "\n")

    answer = json.loads(run("ask", "When did the Ley Bridge reopen?", "--k", "2", "--json").output)
    assert {"question", "answered", "hits"} <= set(answer) and len(answer["hits"]) == 2
    assert HIT_KEYS | {"score"} <= set(answer["hits"][0])

    stats = json.loads(run("stats", "--json").output)
    assert stats["articles"] == 10 and stats["passages"] == stats["indexed"] > 10
    assert run("stats").output.splitlines()[0] == f"{'articles':15} 10"

    deleted = run("delete", article_id)
    assert deleted.exit_code == 0 and deleted.output == f"Deleted {article_id}  {shown['title']}\n"
    assert run("show", article_id).exit_code == 1
    missing = run("delete", article_id)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: No article with id ")
    assert missing.stderr.endswith(" `archivist list` shows the ids.\n")
    assert missing.stderr.count("\n") == 1 and article_id in missing.stderr
    assert json.loads(run("stats", "--json").output)["articles"] == 9


def test_ask_questions_file_one_line_per_question(run, tmp_path):
    run("ingest", str(SAMPLES))
    questions = tmp_path / "q.txt"
    questions.write_text("How high did the river Aller rise?\n\nWho won the cup final?\n")
    result = run("ask", "--questions", str(questions), "--json")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [r["question"] for r in lines] == [
        "How high did the river Aller rise?",
        "",
        "Who won the cup final?",
    ]
    assert set(lines[1]) == {"question", "answered", "hits", "error"}
    assert lines[1]["answered"] is False and lines[1]["hits"] == []
    assert lines[1]["error"].startswith("The question is empty")
    assert lines[0]["hits"] and lines[2]["hits"]


def test_an_empty_question_is_one_line_and_exit_1(run):
    result = run("ask", "   ")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: The question is empty")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


def test_chat_answers_then_leaves(run):
    run("ingest", str(SAMPLES))
    result = run("chat", input="How much did the library renovation in Eastmere cost?\nquit\n")
    assert result.exit_code == 0
    first, *answer = result.output.splitlines()
    assert first == (
        "Archivist: 10 articles, 53 passages. Ask a question; quit, an empty line or Ctrl-D leaves."
    )
    assert answer[0].startswith("? 1. ")  # the answer as text, after the prompt


def test_reindex(run):
    run("ingest", str(need(SEED)))
    passages = json.loads(run("stats", "--json").output)["passages"]
    result = run("reindex")
    assert result.exit_code == 0 and result.output == f"Reindexed {passages} passages.\n"


def test_start_without_token_loads_samples_once_then_chats(tmp_path):
    data = tmp_path / "d"
    (data / "samples").mkdir(parents=True)
    (data / "samples" / "seed.txt").write_bytes(need(SEED).read_bytes())
    run = runner_for(data)
    first = run("start", input="\n")
    assert first.exit_code == 0, first.output
    assert "1 added" in first.output and "DISCORD_TOKEN is not set" in first.output
    second = run("start", input="\n")
    assert second.exit_code == 0 and "Adding the sample" not in second.output


# -- the real model, end to end ----------------------------------------------------------------
@pytest.fixture
def run_real(tmp_path, real_embedder):
    """The installed command's own archive (no factory): the real model, shared per session."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(
            cli, ["--data-dir", str(tmp_path / "d"), *args], input=input, catch_exceptions=False
        )

    return invoke


@pytest.mark.slow
def test_real_model_ingest_and_ask_the_samples(run_real):
    assert run_real("ingest", str(SAMPLES), "--json").exit_code == 0
    result = run_real("ask", "When did the Ley Bridge in Harwick reopen?", "--k", "2", "--json")
    answer = json.loads(result.output)
    assert answer["answered"] is True and len(answer["hits"]) == 2
    assert HIT_KEYS | {"score"} <= set(answer["hits"][0])
    assert "12 September 2026" in answer["hits"][0]["passage"]
    assert json.loads(run_real("stats", "--json").output)["model"] == "all-MiniLM-L6-v2"


@pytest.mark.slow
def test_real_model_questions_file_and_chat(run_real, tmp_path):
    run_real("ingest", str(SAMPLES))
    questions = tmp_path / "q.txt"
    questions.write_text("How high did the river Aller rise in Brenning?\n")
    [line] = run_real("ask", "--questions", str(questions), "--json").output.splitlines()
    assert any("5.82 metres" in hit["passage"] for hit in json.loads(line)["hits"])
    chat = run_real("chat", input="How much did the library renovation in Eastmere cost?\n\n")
    assert chat.exit_code == 0 and "8.6 million" in chat.output

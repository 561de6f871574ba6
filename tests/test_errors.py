"""What a member or a terminal user reads: a sentence with a capital, the next step, no Python
quoting, never "0 s"; and `archivist chat` left with quit, exit or q."""

from __future__ import annotations

import re
import warnings

import pytest
from click.testing import CliRunner
from conftest import fake_model_archive
from discord import app_commands

from archivist.archive import Archive
from archivist.cli import cli
from archivist.errors import (
    ArticleNotFound,
    FeedNotFound,
    InvalidQuestion,
    ReadError,
    user_text,
)
from archivist.ranking import validate_question
from bot.errors import user_message


@pytest.fixture
def run(tmp_path, monkeypatch):
    """The CLI on a fast fake embedder; `asked` records every question the archive is asked."""
    asked: list[str] = []
    ask = Archive.ask

    def spy(self, question, *args, **kwargs):
        asked.append(question)
        return ask(self, question, *args, **kwargs)

    monkeypatch.setattr(Archive, "ask", spy)

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(
            cli,
            ["--data-dir", str(tmp_path / "d"), *args],
            input=input,
            catch_exceptions=False,
            obj=fake_model_archive,
        )

    invoke.asked = asked  # type: ignore[attr-defined]
    return invoke


def readable(text: str) -> bool:
    return (
        text[:1].isupper()
        and "'" not in text
        and re.search(r"\b0 s\b", text) is None
        and "\n" not in text
    )


@pytest.mark.parametrize("word", ["quit", "exit", "q", "QUIT", "  Exit  ", "Q "])
def test_chat_quit_words_leave_without_being_asked(run, word):
    result = run("chat", input=f"{word}\nwhen is the vote?\n")
    assert result.exit_code == 0
    assert run.asked == []


def test_chat_asks_a_question_that_only_starts_like_a_quit_word(run):
    result = run("chat", input="quitting time?\nq\n")
    assert result.exit_code == 0
    assert run.asked == ["quitting time?"]


def test_cli_unknown_article_names_the_id_and_the_next_step(run):
    result = run("show", "nope")
    assert result.exit_code == 1
    assert "No article with id “nope” here. `archivist list` shows the ids." in result.output


def test_cli_unknown_feed_names_the_next_step(run):
    result = run("feed", "remove", "nope")
    assert result.exit_code == 1
    assert "No feed “nope” is followed here" in result.output
    assert "`archivist feed list` shows the feeds." in result.output


def test_core_messages_read_well_without_naming_a_front_end():
    for error in (ArticleNotFound("nope"), FeedNotFound("nope"), FeedNotFound("x", ambiguous=True)):
        text = str(error)
        assert readable(text), text
        assert "/" not in text and "archivist " not in text


def test_a_long_or_multiline_id_is_shown_on_one_short_line():
    text = str(ArticleNotFound("a\nb" + "x" * 5000))
    assert "\n" not in text and len(text) < 200 and "…" in text


@pytest.mark.parametrize("question", ["", "   ", "?!?...", "x" * 10_000])
def test_invalid_questions_read_well(question):
    with pytest.raises(InvalidQuestion) as caught:
        validate_question(question, 2000)
    assert readable(str(caught.value)), str(caught.value)


def test_user_text_capitalises_but_keeps_a_read_errors_origin():
    from archivist.errors import ArchivistError

    assert user_text(ArchivistError("the archive is busy; try again shortly")).startswith("The ")
    assert user_text(ReadError("notes.txt", "no article text")) == "notes.txt: no article text"


def cooldown(seconds: float) -> app_commands.CommandOnCooldown:
    return app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), seconds)


@pytest.mark.parametrize("seconds", [0.0, 0.001, 0.4, 0.999])
def test_a_cooldown_under_a_second_is_in_a_moment(seconds):
    text = user_message(cooldown(seconds))
    assert text is not None and "in a moment" in text and readable(text), text


@pytest.mark.parametrize("seconds, shown", [(1.0, "1 s"), (1.2, "2 s"), (9.5, "10 s")])
def test_a_cooldown_rounds_up_to_whole_seconds(seconds, shown):
    text = user_message(cooldown(seconds))
    assert text is not None and f"in {shown}." in text and readable(text), text


def test_bot_adds_its_own_next_step():
    assert user_message(ArticleNotFound("nope")) == (
        "No article with id “nope” here. /recent lists the articles."
    )
    assert "/feed list shows the feeds." in (user_message(FeedNotFound("nope")) or "")


def test_bot_capitalises_a_core_message_written_in_lower_case():
    from archivist.errors import ArchivistError

    text = user_message(ArchivistError("the bot is shutting down; try again in a minute"))
    assert text == "The bot is shutting down; try again in a minute"


@pytest.mark.slow
def test_the_first_model_preparation_prints_one_line_and_no_warnings(tmp_path, capfd):
    """The ONNX export (as the first run makes it): one line on stderr, none of the exporter's
    TracerWarning/UserWarning noise."""
    from archivist.embedding import OnnxEmbedder

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")  # pytest would otherwise collect them out of sight
        embedder = OnnxEmbedder(root=tmp_path)
        embedder.encode(["x"])
    err = capfd.readouterr().err
    assert embedder.backend == "onnx", embedder.fallback_reason
    assert [f"{w.category.__name__}: {w.message}" for w in shown] == []
    assert "Warning" not in err, err
    assert err.strip() == "Preparing the model, once (about a minute)…"

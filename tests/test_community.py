"""Votes, the question log, insights and server settings through `Archive` (real SQLite, the fake
embedder): one vote per member per answer, nothing across servers, nothing logged while off."""

from __future__ import annotations

import pytest

from archivist.archive import Archive
from archivist.community import CommunityError, ServerSettings
from archivist.embedding import HashingEmbedder


def shares(archive: Archive, collection: str) -> dict[int, tuple[int, int, int, int]]:
    """days -> (asked, answered, votes, liked)."""
    periods = archive.insights(collection).periods
    return {p.days: (p.asked, p.answered, p.votes, p.liked) for p in periods}


def test_a_changed_vote_counts_once(fake_archive):
    answer = fake_archive.log_question("g1", "When does the ferry run?", answered=True)
    assert fake_archive.record_vote("g1", answer, "m1", -1) is None
    assert fake_archive.record_vote("g1", answer, "m1", 1) == -1
    assert fake_archive.record_vote("g1", answer, "m1", 1) == 1
    assert shares(fake_archive, "g1") == {7: (1, 1, 1, 1), 30: (1, 1, 1, 1)}
    # the 👎 was taken back: the question no longer needs a look
    assert fake_archive.insights("g1").questions == ()


def test_insights_list_unanswered_and_voted_down_most_asked_first(fake_archive):
    for _ in range(3):
        fake_archive.log_question("g1", "Who won the regatta?", answered=False)
    fake_archive.log_question("g1", "who won the  Regatta", answered=False)  # the same question
    disliked = fake_archive.log_question("g1", "When is the vote?", answered=True)
    fake_archive.record_vote("g1", disliked, "m1", -1)
    fake_archive.record_vote("g1", disliked, "m2", -1)
    liked = fake_archive.log_question("g1", "Where is the library?", answered=True)
    fake_archive.record_vote("g1", liked, "m1", 1)

    found = fake_archive.insights("g1", days=7)
    assert [(q.asked, q.unanswered, q.thumbs_down) for q in found.questions] == [
        (4, 4, 0),
        (1, 0, 2),
    ]
    assert found.questions[0].question == "who won the Regatta"  # as last worded
    assert found.questions[1].question == "When is the vote?"
    week = found.periods[0]
    assert (week.days, week.asked, week.answered, week.votes, week.liked) == (7, 6, 2, 3, 1)
    assert week.answered_share == pytest.approx(2 / 6)
    assert week.liked_share == pytest.approx(1 / 3)


def test_collections_never_mix(fake_archive):
    answer = fake_archive.log_question("g1", "Who won the regatta?", answered=False)
    fake_archive.record_vote("g1", answer, "m1", -1)
    fake_archive.record_vote("g2", answer, "m1", 1)  # the same id sent from another server
    fake_archive.update_server_settings("g1", question_logging=False, default_source="Gazette")

    assert [q.thumbs_down for q in fake_archive.insights("g1").questions] == [1]
    assert fake_archive.insights("g2").questions == ()
    assert shares(fake_archive, "g2")[30] == (0, 0, 1, 1)
    assert fake_archive.server_settings("g2") == ServerSettings()

    assert fake_archive.clear_insights("g2") == 1
    assert shares(fake_archive, "g1")[30] == (1, 0, 1, 0)


def test_logging_off_stores_no_question(fake_archive):
    fake_archive.update_server_settings("g1", question_logging=False)
    answer = fake_archive.log_question("g1", "Who won the regatta?", answered=False)
    fake_archive.record_vote("g1", answer, "m1", -1)  # votes still count
    assert fake_archive.insights("g1").questions == ()
    assert shares(fake_archive, "g1")[7] == (0, 0, 1, 0)
    fake_archive.update_server_settings("g1", question_logging=True)
    fake_archive.log_question("g1", "Who won the regatta?", answered=False)
    assert shares(fake_archive, "g1")[7][0] == 1


def test_clear_forgets_questions_and_votes(fake_archive):
    answer = fake_archive.log_question("g1", "Who won the regatta?", answered=False)
    fake_archive.record_vote("g1", answer, "m1", -1)
    assert fake_archive.clear_insights("g1") == 2
    assert fake_archive.insights("g1").questions == ()
    assert shares(fake_archive, "g1")[30] == (0, 0, 0, 0)


def test_settings_default_change_and_survive_a_reopen(tmp_path):
    archive = Archive(tmp_path, embedder=HashingEmbedder())
    assert archive.server_settings("g1") == ServerSettings(question_logging=True, threads=False)
    changed = archive.update_server_settings(
        "g1", admin_role_id=42, default_source="  Harbour   Gazette ", threads=True
    )
    assert changed == ServerSettings(42, "Harbour Gazette", True, True, None)
    archive.update_server_settings("g1", announce_channel_id=7, admin_role_id=None)
    archive.close()

    reopened = Archive(tmp_path, embedder=HashingEmbedder())
    assert reopened.server_settings("g1") == ServerSettings(None, "Harbour Gazette", True, True, 7)
    reopened.close()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"admin_role": 5}, "admin_role"),
        ({"admin_role_id": -3}, "admin_role_id"),
        ({"admin_role_id": True}, "admin_role_id"),
        ({"threads": "yes"}, "threads"),
        ({"default_source": "x" * 101}, "default_source"),
        ({"announce_channel_id": "12"}, "announce_channel_id"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_changes_nothing(fake_archive, changes, named):
    fake_archive.update_server_settings("g1", threads=True)
    with pytest.raises(CommunityError) as caught:
        fake_archive.update_server_settings("g1", question_logging=False, **changes)
    assert named in str(caught.value) and "\n" not in str(caught.value)
    assert fake_archive.server_settings("g1") == ServerSettings(threads=True)


@pytest.mark.parametrize(
    ("answer_id", "vote", "named"),
    [("NOT-AN-ID", 1, "NOT-AN-ID"), ("abc123", 0, "0"), ("abc123", 2, "2")],
)
def test_a_bad_vote_is_refused_and_nothing_stored(fake_archive, answer_id, vote, named):
    with pytest.raises(CommunityError, match=named):
        fake_archive.record_vote("g1", answer_id, "m1", vote)
    assert shares(fake_archive, "g1")[30] == (0, 0, 0, 0)


def test_bad_questions_and_windows_are_refused(fake_archive):
    with pytest.raises(CommunityError, match="empty question"):
        fake_archive.log_question("g1", "   ", answered=False)
    with pytest.raises(CommunityError, match="0"):
        fake_archive.insights("g1", days=0)
    assert shares(fake_archive, "g1")[30] == (0, 0, 0, 0)

"""The deliberation rules without I/O: ballots as bit masks, households, tallies, quorum, visibility, set-up."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.deliberation import (
    ABSTAIN,
    NO,
    YES,
    BallotProblem,
    BallotType,
    Panel,
    Rules,
    SetupProblem,
    Topic,
    TopicState,
    Track,
    Visibility,
    VoteUnit,
    ballot_problem,
    choices_of,
    household_key,
    mask_of,
    parse_options,
    parse_quorum,
    parse_review_day,
    percent,
    quorum_met,
    results_visible,
    setup_problem,
    tally,
    voter_key,
)

NOW = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")


def topic(state: TopicState = TopicState.OPEN, **rules: object) -> Topic:
    return Topic(id=1, track=Track.SMALL, state=state, community_id=1, title="t", background="",
                 rules=Rules(**rules).normalized(), options=["a", "b", "c", "d"], created_at=NOW,
                 opens_at=NOW, closes_at=NOW + timedelta(days=1))


@settings(deadline=None)
@given(st.sets(st.integers(min_value=1, max_value=10)))
def test_a_ballot_travels_as_a_bit_mask_and_back(choices: set[int]) -> None:
    assert set(choices_of(mask_of(choices))) == choices


def test_ballots_are_checked_against_the_topic() -> None:
    yes_no = topic()
    assert ballot_problem(yes_no, 1 << (NO - 1)) is None
    assert ballot_problem(yes_no, 0) is BallotProblem.EMPTY
    assert ballot_problem(yes_no, -4) is BallotProblem.EMPTY
    assert ballot_problem(yes_no, 1 << 3) is BallotProblem.UNKNOWN_OPTION
    assert ballot_problem(yes_no, mask_of({YES, NO})) is BallotProblem.TOO_MANY
    multi = topic(ballot_type=BallotType.MULTI, max_choices=2)
    assert ballot_problem(multi, mask_of({1, 4})) is None
    assert ballot_problem(multi, mask_of({1, 2, 4})) is BallotProblem.TOO_MANY
    assert ballot_problem(multi, 1 << 4) is BallotProblem.UNKNOWN_OPTION


def test_the_close_is_checked_at_the_moment_of_voting() -> None:
    open_topic = topic()
    assert open_topic.closes_at is not None
    assert open_topic.voting_open(open_topic.closes_at - timedelta(seconds=1))
    assert not open_topic.voting_open(open_topic.closes_at)
    assert not open_topic.voting_open(open_topic.closes_at + timedelta(seconds=1))
    assert not topic(TopicState.CLOSED).voting_open(NOW)


def test_a_household_is_one_flat_however_its_unit_was_typed() -> None:
    assert household_key(12, " 3-201 ") == household_key(12, "3 - 201") == "h12:3-201"
    assert household_key(12, "A-1") == household_key(12, "a-1")
    assert household_key(13, "3-201") != household_key(12, "3-201")
    assert household_key(12, None) is None and household_key(None, "3-201") is None
    assert voter_key(VoteUnit.HOUSEHOLD, 7, "h12:3-201") == "h12:3-201"
    assert voter_key(VoteUnit.HOUSEHOLD, 7, None) == "p7"  # a stakeholder without a home votes as a person
    assert voter_key(VoteUnit.PERSON, 7, "h12:3-201") == "p7"


def test_anonymous_topics_are_final_and_show_results_only_after_close() -> None:
    rules = Rules(anonymous=True, final=False, visibility=Visibility.ALWAYS).normalized()
    assert rules.final and rules.visibility is Visibility.AFTER_CLOSE
    secret = topic(anonymous=True)
    assert not secret.changeable
    assert not results_visible(secret, has_voted=True)
    assert results_visible(topic(TopicState.CLOSED, anonymous=True), has_voted=False)


@pytest.mark.parametrize(("visibility", "voted", "shown"), [
    (Visibility.ALWAYS, False, True), (Visibility.AFTER_VOTE, False, False), (Visibility.AFTER_VOTE, True, True),
    (Visibility.AFTER_CLOSE, True, False),
])
def test_results_visibility_modes(visibility: Visibility, voted: bool, shown: bool) -> None:
    assert results_visible(topic(visibility=visibility), has_voted=voted) is shown
    assert not results_visible(topic(TopicState.ANNOUNCED, visibility=Visibility.ALWAYS), has_voted=voted)


def test_quorum_is_a_share_of_the_eligible() -> None:
    assert not quorum_met(2, 5, 60)
    assert quorum_met(3, 5, 60)
    assert quorum_met(0, 0, 0)
    assert not quorum_met(0, 0, 50)
    assert percent(2, 3) == 67 and percent(1, 3) == 33 and percent(1, 2) == 50 and percent(0, 0) == 0


def test_tally_counts_percentages_turnout_quorum_and_panels() -> None:
    ballots = [(Panel.RESIDENT, (YES,)), (Panel.RESIDENT, (NO,)), (Panel.REPRESENTATIVE, (YES,)),
               (Panel.RESIDENT, (ABSTAIN,))]
    result = tally(topic(quorum_percent=60), eligible=10, voted=4, ballots=ballots)
    assert [(c.votes, c.percent) for c in result.counts] == [(2, 50), (1, 25), (1, 25)]
    assert result.turnout_percent == 40 and not result.quorum_met
    assert [(p.panel, p.ballots) for p in result.panels] == [(Panel.REPRESENTATIVE, 1)]
    secret = tally(topic(anonymous=True), eligible=10, voted=4, ballots=ballots)
    assert secret.panels == []  # a panel of one secret ballot would be that person's vote


def test_setting_up_refuses_what_cannot_work() -> None:
    base = {"track": Track.SMALL, "building_ids": [12], "rules": Rules(), "options": [], "opens_at": NOW,
            "closes_at": NOW + timedelta(days=1), "now": NOW}
    assert setup_problem(**base) is None  # type: ignore[arg-type]
    cases: list[tuple[dict[str, object], SetupProblem]] = [
        ({"building_ids": []}, SetupProblem.NO_BUILDINGS),
        ({"rules": Rules(ballot_type=BallotType.SINGLE), "options": ["only"]}, SetupProblem.TOO_FEW_OPTIONS),
        ({"rules": Rules(ballot_type=BallotType.SINGLE), "options": list("abcdefghijk")},
         SetupProblem.TOO_MANY_OPTIONS),
        ({"rules": Rules(ballot_type=BallotType.MULTI, max_choices=4), "options": ["a", "b", "c"]},
         SetupProblem.BAD_MAX_CHOICES),
        ({"closes_at": NOW + timedelta(minutes=30)}, SetupProblem.CLOSES_TOO_SOON),
        ({"closes_at": NOW + timedelta(days=61)}, SetupProblem.TOO_LONG),
    ]
    for change, problem in cases:
        assert setup_problem(**{**base, **change}) is problem  # type: ignore[arg-type]


def test_typed_options_quorum_and_review_day() -> None:
    assert parse_options("Blue\n\n  Green   light \nBlue") == ["Blue", "Green light"]
    assert parse_options("x" * 61) is None
    assert parse_quorum("60%") == 60 and parse_quorum(" 0 ") == 0 and parse_quorum("101") is None
    assert parse_quorum("sixty") is None
    review = parse_review_day("4-1", NOW, TZ, time(9, 0))
    assert review == datetime(2025, 4, 1, 9, 0, tzinfo=TZ)
    assert parse_review_day("3-3", NOW, TZ, time(9, 0)) == datetime(2026, 3, 3, 9, 0, tzinfo=TZ)
    assert parse_review_day("2025-3-1", NOW, TZ, time(9, 0)) is None
    assert parse_review_day("2-30", NOW, TZ, time(9, 0)) is None

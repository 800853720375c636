"""Deliberation on two tracks: the rules, with no I/O.

Small issues (一事一议) are decided by those concerned: the verified residents of the buildings a topic
concerns plus the stakeholders invited for it (property management, owners' committee). Big issues
(有事好商量) go to the community platform: the verified residents of the community (or the whole street)
plus the representatives, whose votes are also shown as a panel of their own.

Each topic runs before (announced: background, options, questions) → during (open: ballots) → after
(closed: results, outcome statement, follow-ups). A ballot is a set of option numbers; yes / no /
abstain are the options 1 / 2 / 3. One vote per person, or one per household (building + unit).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot.domain import meetings
from bot.domain.people import Person, Role

TITLE_MAX = 120
BACKGROUND_MAX = 2000
OPTION_MAX = 60
OPTIONS_MIN = 2
OPTIONS_MAX = 10  # a ballot travels as a bit mask in callback data: 10 options stay far below 64 bytes
QUESTION_MAX = 500
ANSWER_MAX = 1000
REASON_MAX = 300
OUTCOME_MAX = 800
FOLLOWUP_MAX = 1500
ATTACHMENTS_MAX = 5
QUORUM_PRESETS = (0, 30, 50, 60, 67, 75)
SHORTEST_VOTE = timedelta(hours=1)
LONGEST_VOTE = timedelta(days=60)
# An anonymous topic shows a panel (representatives, stakeholders) only when it holds at least this
# many ballots: a panel of one would be that person's ballot.
ANONYMOUS_PANEL_MIN = 3
YES, NO, ABSTAIN = 1, 2, 3
MANAGER_ROLES = frozenset({Role.ORGANIZER, Role.ADMIN})


class Track(StrEnum):
    SMALL = "small"  # 一事一议: the stakeholders concerned
    BIG = "big"  # 有事好商量: the community platform with representatives


class TopicState(StrEnum):
    PROPOSED = "proposed"  # a resident's proposal waiting for an organizer
    DECLINED = "declined"
    DRAFT = "draft"  # accepted or escalated, being set up
    ANNOUNCED = "announced"  # before: people informed, questions open, voting not yet
    OPEN = "open"  # during
    CLOSED = "closed"  # after
    CANCELLED = "cancelled"


# Where residents see a topic and may ask questions.
PUBLIC_STATES = frozenset({TopicState.ANNOUNCED, TopicState.OPEN, TopicState.CLOSED})
ASKING_STATES = frozenset({TopicState.ANNOUNCED, TopicState.OPEN})


class BallotType(StrEnum):
    YES_NO = "yes_no"  # yes / no / abstain
    SINGLE = "single"  # one option
    MULTI = "multi"  # up to k options


class VoteUnit(StrEnum):
    PERSON = "person"
    HOUSEHOLD = "household"


class Visibility(StrEnum):
    ALWAYS = "always"
    AFTER_VOTE = "after_vote"
    AFTER_CLOSE = "after_close"


class Panel(StrEnum):
    RESIDENT = "resident"
    REPRESENTATIVE = "representative"
    STAKEHOLDER = "stakeholder"


class Rules(BaseModel, frozen=True):
    """How a topic counts: fixed when it is published (anonymity: until the first ballot)."""

    ballot_type: BallotType = BallotType.YES_NO
    max_choices: int = 1
    vote_unit: VoteUnit = VoteUnit.PERSON
    anonymous: bool = False
    final: bool = False
    visibility: Visibility = Visibility.AFTER_CLOSE
    quorum_percent: int = 0

    def normalized(self) -> Rules:
        """Anonymous ballots are final and their results appear only after close; only 'multi' picks >1."""
        update: dict[str, object] = {}
        if self.anonymous:
            update.update(final=True, visibility=Visibility.AFTER_CLOSE)
        if self.ballot_type is not BallotType.MULTI:
            update["max_choices"] = 1
        return self.model_copy(update=update) if update else self


class Topic(BaseModel):
    id: int
    track: Track | None
    state: TopicState
    community_id: int | None
    title: str
    background: str
    rules: Rules
    options: list[str] = []
    building_ids: list[int] = []
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    proposed_by: int | None = None
    created_by: int | None = None
    decline_reason: str | None = None
    report_id: int | None = None
    created_at: datetime
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    outcome_decision: str | None = None
    outcome_actions: str | None = None
    outcome_responsible: str | None = None
    review_at: datetime | None = None
    outcome_at: datetime | None = None

    @property
    def option_count(self) -> int:
        return 3 if self.rules.ballot_type is BallotType.YES_NO else len(self.options)

    @property
    def changeable(self) -> bool:
        """May a cast ballot still be changed (until close)?"""
        return not (self.rules.final or self.rules.anonymous)

    def voting_open(self, now: datetime) -> bool:
        """Checked at the moment of voting: a tap one second after the close is refused, timer or not."""
        return (
            self.state is TopicState.OPEN
            and self.closes_at is not None
            and now < self.closes_at
            and (self.opens_at is None or self.opens_at <= now)
        )


# ---- ballots -----------------------------------------------------------------------------------------


def mask_of(choices: tuple[int, ...] | list[int] | set[int]) -> int:
    return sum(1 << (choice - 1) for choice in set(choices) if choice >= 1)


def choices_of(mask: int) -> tuple[int, ...]:
    return tuple(bit + 1 for bit in range(OPTIONS_MAX) if mask >> bit & 1)


def encode_choices(choices: tuple[int, ...]) -> str:
    return ",".join(str(c) for c in sorted(set(choices)))


def decode_choices(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


class BallotProblem(StrEnum):
    EMPTY = "empty"
    TOO_MANY = "too_many"
    UNKNOWN_OPTION = "unknown_option"


def ballot_problem(topic: Topic, mask: int) -> BallotProblem | None:
    """Is this bit mask a valid ballot for the topic? (Masks come from callback data: never trusted.)"""
    if mask <= 0:
        return BallotProblem.EMPTY
    if mask >= 1 << topic.option_count:
        return BallotProblem.UNKNOWN_OPTION
    if len(choices_of(mask)) > topic.rules.max_choices:
        return BallotProblem.TOO_MANY
    return None


# ---- eligibility ---------------------------------------------------------------------------------------


def household_key(building_id: int | None, unit: str | None) -> str | None:
    """`h12:3-201`: the same flat whatever spacing or case it was typed with; None without a home."""
    if building_id is None or not unit:
        return None
    flat = re.sub(r"\s+", "", unit).lower()
    return f"h{building_id}:{flat}" if flat else None


def voter_key(unit: VoteUnit, person_id: int, household: str | None) -> str:
    """The key one vote is counted under: the household on per-household topics (for residents of the
    buildings concerned), else the person."""
    if unit is VoteUnit.HOUSEHOLD and household is not None:
        return household
    return f"p{person_id}"


def manages(person: Person, community_id: int | None) -> bool:
    """Organizers of the community (or street-wide) and street admins run its topics."""
    return meetings.manages(person, community_id)


# ---- results -------------------------------------------------------------------------------------------


def percent(part: int, whole: int) -> int:
    """Whole percent, rounded half up; 0 of nothing is 0."""
    return 0 if whole <= 0 else (200 * part + whole) // (2 * whole)


def quorum_met(voted: int, eligible: int, quorum_percent: int) -> bool:
    """Turnout reaches the quorum share of the eligible (people or households)."""
    if quorum_percent <= 0:
        return True
    return eligible > 0 and voted * 100 >= quorum_percent * eligible


class Count(BaseModel, frozen=True):
    option: int
    votes: int
    percent: int


class PanelTally(BaseModel, frozen=True):
    panel: Panel
    ballots: int
    counts: list[Count]


class Tally(BaseModel, frozen=True):
    eligible: int
    voted: int
    turnout_percent: int
    quorum_percent: int
    quorum_met: bool
    ballots: int
    counts: list[Count]
    panels: list[PanelTally] = []


def _counts(option_count: int, ballots: list[tuple[int, ...]]) -> list[Count]:
    votes = [0] * option_count
    for choices in ballots:
        for choice in choices:
            if 1 <= choice <= option_count:
                votes[choice - 1] += 1
    return [Count(option=i + 1, votes=v, percent=percent(v, len(ballots))) for i, v in enumerate(votes)]


def tally(topic: Topic, *, eligible: int, voted: int, ballots: list[tuple[Panel, tuple[int, ...]]]) -> Tally:
    """Counts and percentages of ballots cast per option, turnout against the eligible, and the quorum;
    plus the representatives' and stakeholders' panels (hidden on anonymous topics while too small)."""
    panels = []
    for panel in (Panel.REPRESENTATIVE, Panel.STAKEHOLDER):
        mine = [choices for who, choices in ballots if who is panel]
        if mine and (not topic.rules.anonymous or len(mine) >= ANONYMOUS_PANEL_MIN):
            panels.append(PanelTally(panel=panel, ballots=len(mine), counts=_counts(topic.option_count, mine)))
    return Tally(
        eligible=eligible,
        voted=voted,
        turnout_percent=percent(voted, eligible),
        quorum_percent=topic.rules.quorum_percent,
        quorum_met=quorum_met(voted, eligible, topic.rules.quorum_percent),
        ballots=len(ballots),
        counts=_counts(topic.option_count, [choices for _, choices in ballots]),
        panels=panels,
    )


def results_visible(topic: Topic, *, has_voted: bool) -> bool:
    """Results after close; before that by the topic's mode — never for an anonymous topic. Otherwise
    only turnout shows."""
    if topic.state is TopicState.CLOSED:
        return True
    if topic.state is not TopicState.OPEN or topic.rules.anonymous:
        return False
    if topic.rules.visibility is Visibility.ALWAYS:
        return True
    return topic.rules.visibility is Visibility.AFTER_VOTE and has_voted


# ---- setting up ----------------------------------------------------------------------------------------


class SetupProblem(StrEnum):
    NO_BUILDINGS = "no_buildings"
    TOO_FEW_OPTIONS = "too_few_options"
    TOO_MANY_OPTIONS = "too_many_options"
    BAD_MAX_CHOICES = "bad_max_choices"
    BAD_QUORUM = "bad_quorum"
    CLOSES_TOO_SOON = "closes_too_soon"
    TOO_LONG = "too_long"


def setup_problem(
    *, track: Track, building_ids: list[int], rules: Rules, options: list[str], opens_at: datetime,
    closes_at: datetime, now: datetime,
) -> SetupProblem | None:
    if track is Track.SMALL and not building_ids:
        return SetupProblem.NO_BUILDINGS
    if rules.ballot_type is not BallotType.YES_NO:
        if len(options) < OPTIONS_MIN:
            return SetupProblem.TOO_FEW_OPTIONS
        if len(options) > OPTIONS_MAX:
            return SetupProblem.TOO_MANY_OPTIONS
    if rules.ballot_type is BallotType.MULTI and not 2 <= rules.max_choices <= len(options):
        return SetupProblem.BAD_MAX_CHOICES
    if not 0 <= rules.quorum_percent <= 100:
        return SetupProblem.BAD_QUORUM
    if closes_at - max(opens_at, now) < SHORTEST_VOTE:
        return SetupProblem.CLOSES_TOO_SOON
    if closes_at - opens_at > LONGEST_VOTE:
        return SetupProblem.TOO_LONG
    return None


def parse_options(text: str) -> list[str] | None:
    """One option a line; None when a line is too long. Blank lines are skipped, repeats kept once."""
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]
    options = list(dict.fromkeys(line for line in lines if line))
    if any(len(option) > OPTION_MAX for option in options):
        return None
    return options


def parse_quorum(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d{1,3})\s*[%％]?\s*", text)
    if not match or int(match[1]) > 100:
        return None
    return int(match[1])


_DAY = re.compile(r"^\s*(?:(?P<y>\d{4})[-/.年])?\s*(?P<m>\d{1,2})[-/.月]\s*(?P<d>\d{1,2})日?\s*$")


def parse_review_day(text: str, now: datetime, tz: ZoneInfo, at: time) -> datetime | None:
    """A review date (`2026-06-01`, `6-1`, `6月1日`) at `at` o'clock in the street's timezone; without a
    year, the next such day. None when unreadable or not after today."""
    match = _DAY.match(text)
    if not match:
        return None
    today = now.astimezone(tz).date()
    try:
        if match["y"]:
            day = date(int(match["y"]), int(match["m"]), int(match["d"]))
        else:
            day = date(today.year, int(match["m"]), int(match["d"]))
            if day <= today:
                day = date(today.year + 1, day.month, day.day)
    except ValueError:
        return None
    return datetime.combine(day, at, tzinfo=tz) if day > today else None

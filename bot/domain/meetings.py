"""Meetings: answers to a notice, who manages a meeting, and who attended.

Places, the waitlist, offers and the 24 h / 2 h reminders are the shared capacity rules
(bot.domain.capacity) under the event kind "meeting"; a "going" answer holds a seat there.

Attended, for the minutes: the organizer's mark when there is one (present or absent); a person
not marked counts as attended when they held a confirmed place ("going" with a place).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from bot.domain.capacity import EventKey, SeatState
from bot.domain.event_times import TimeProblem, event_time_problem
from bot.domain.people import Person, Role, ScopeKind

KIND = "meeting"  # the capacity event kind
TITLE_MAX = 80
AGENDA_MAX = 1500
PLACE_MAX = 120
MINUTES_MAX = 3500
MAX_CAPACITY = 2000
MAX_LENGTH = timedelta(hours=12)
MANAGER_ROLES = frozenset({Role.ORGANIZER, Role.ADMIN})


def event_key(meeting_id: int) -> EventKey:
    return EventKey(kind=KIND, event_id=meeting_id)


class Answer(StrEnum):
    GOING = "going"
    MAYBE = "maybe"
    NO = "no"


class Meeting(BaseModel):
    id: int
    title: str
    agenda: str
    place: str
    community_id: int | None
    topic_id: int | None
    sequence: int
    minutes: str | None
    minutes_at: datetime | None
    created_by: int | None
    created_at: datetime
    capacity: int | None
    starts_at: datetime
    ends_at: datetime
    open: bool

    @property
    def key(self) -> EventKey:
        return event_key(self.id)


class AnswerLine(BaseModel, frozen=True):
    """One person's answer as the organizer sees it (residents never see these)."""

    person_id: int
    name: str
    answer: Answer
    seat: SeatState | None  # for "going": confirmed, offered, waitlisted, or gone (lapsed/cancelled)
    marked: bool | None  # the organizer's attendance mark, None when not marked

    @property
    def attended(self) -> bool:
        return attended(self.marked, self.answer, self.seat)


def attended(marked: bool | None, answer: Answer, seat: SeatState | None) -> bool:
    if marked is not None:
        return marked
    return answer is Answer.GOING and seat is SeatState.CONFIRMED


def manages(person: Person, community_id: int | None) -> bool:
    """A street admin or a street-wide organizer manages every meeting; an organizer their community's."""
    for grant in person.roles:
        if grant.role is Role.ADMIN:
            return True
        if grant.role is Role.ORGANIZER and (
            grant.scope.kind is ScopeKind.STREET
            or (grant.scope.kind is ScopeKind.COMMUNITY and grant.scope.id == community_id)
        ):
            return True
    return False


def time_problem(starts_at: datetime, ends_at: datetime, now: datetime) -> TimeProblem | None:
    """A meeting lasts at most MAX_LENGTH."""
    return event_time_problem(starts_at, ends_at, now, longest=MAX_LENGTH)

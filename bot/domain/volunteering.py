"""Volunteering: activities with places, community projects (微创投), attendance, hours and points.

The rules here are pure: who may manage an activity, what the guided creation accepts, when check-in
and no-show marks are allowed, and how a service record is numbered. Places and the waitlist follow
bot/domain/capacity.py.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from bot.domain.capacity import EventKey, SeatState
from bot.domain.event_times import TimeProblem, event_time_problem
from bot.domain.people import Person, Role, Scope, ScopeKind

KIND = "opportunity"  # the EventKey kind of volunteer activities
MANAGER_ROLES = frozenset({Role.ADMIN, Role.ORGANIZER, Role.SECRETARY})
PROJECT_ROLES = frozenset({Role.ADMIN, Role.ORGANIZER})

TITLE_MAX = 80
TEXT_MAX = 1000
SHORT_MAX = 120
MAX_CAPACITY = 500
MAX_HOURS = 24.0
MAX_POINTS = 1000
MAX_LENGTH = timedelta(days=7)
CHECK_IN_EARLY = timedelta(hours=2)  # check-in opens this long before the start
CODE_DIGITS = 6


def event_key(opportunity_id: int) -> EventKey:
    return EventKey(kind=KIND, event_id=opportunity_id)


class ProjectStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"


class ServiceStatus(StrEnum):
    EXPECTED = "expected"  # signed up (a check-in code may have been shown)
    ATTENDED = "attended"  # checked in: hours pending verification
    NO_SHOW = "no_show"
    VERIFIED = "verified"  # hours verified, points granted


class CheckInMethod(StrEnum):
    ROSTER = "roster"
    CODE = "code"


class Skill(StrEnum):
    """Skills a volunteer offers and an activity asks for."""

    GENERAL = "general"
    ELDERLY = "elderly"
    CHILDREN = "children"
    CLEANING = "cleaning"
    MEDICAL = "medical"
    TECH = "tech"
    TRANSLATION = "translation"
    EVENTS = "events"


class Availability(StrEnum):
    WEEKDAYS = "weekdays"
    EVENINGS = "evenings"
    WEEKENDS = "weekends"


class Volunteer(BaseModel):
    person_id: int
    skills: list[Skill]
    availability: list[Availability]
    joined_at: datetime


class Project(BaseModel):
    id: int
    name: str
    organisation: str
    description: str
    community_id: int
    community_name: str = ""
    status: ProjectStatus


class Opportunity(BaseModel):
    """An activity as people read it: its own row joined with its places and times."""

    id: int
    title: str
    description: str
    scope: Scope
    community_id: int | None
    place: str
    skills: list[Skill]
    hours: float
    points: int
    project_id: int | None
    project_name: str | None = None
    created_by: int | None
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    open: bool

    @property
    def key(self) -> EventKey:
        return event_key(self.id)


class ServiceEntry(BaseModel):
    """One person's attendance at one activity: the line of /myhours and of the CSV."""

    seat_id: int
    opportunity_id: int
    title: str
    starts_at: datetime
    person_id: int
    person_name: str
    status: ServiceStatus
    method: CheckInMethod | None
    hours: float
    points: int
    checked_in_at: datetime | None
    verified_at: datetime | None
    verified_by_name: str | None = None


class RosterLine(BaseModel, frozen=True):
    """One person on an activity's roster: their place and, once marked, their attendance."""

    seat_id: int
    person_id: int
    name: str
    seat: SeatState
    service: ServiceStatus | None  # None until a code is shown or they are marked


class HoursSummary(BaseModel):
    verified_hours: float
    pending_hours: float
    points: int
    activities: int  # verified activities


def summarize(entries: list[ServiceEntry]) -> HoursSummary:
    verified = [e for e in entries if e.status is ServiceStatus.VERIFIED]
    return HoursSummary(
        verified_hours=sum(e.hours for e in verified),
        pending_hours=sum(e.hours for e in entries if e.status is ServiceStatus.ATTENDED),
        points=sum(e.points for e in verified),
        activities=len(verified),
    )


# ---- who may do what -----------------------------------------------------------------------------


def manages(person: Person, scope: Scope, community_id: int | None) -> bool:
    """May `person` manage an activity at `scope` (belonging to `community_id`)?

    A street admin manages everything; an organizer the activities of their community (its grids
    included); a grid team lead those of their grid.
    """
    for grant in person.roles:
        if grant.role is Role.ADMIN:
            return True
        if (grant.role is Role.ORGANIZER and grant.scope.kind is ScopeKind.COMMUNITY
                and scope.kind is not ScopeKind.STREET and grant.scope.id == community_id):
            return True
        if (grant.role is Role.SECRETARY and grant.scope.kind is ScopeKind.GRID
                and scope.kind is ScopeKind.GRID and grant.scope.id == scope.id):
            return True
    return False


def manages_projects_of(person: Person, community_id: int) -> bool:
    return any(
        g.role is Role.ADMIN or (g.role is Role.ORGANIZER and g.scope == Scope(kind=ScopeKind.COMMUNITY,
                                                                              id=community_id))
        for g in person.roles
    )


# ---- the guided creation's answers ------------------------------------------------------------------


def clean_text(text: str | None, limit: int, *, multiline: bool = False) -> str | None:
    """Trimmed text within `limit` characters, or None when empty or too long."""
    if text is None:
        return None
    value = text.strip() if multiline else re.sub(r"\s+", " ", text).strip()
    return value if 0 < len(value) <= limit else None


_DATE_TIME = re.compile(
    r"^\s*(?:(?P<y>\d{4})[-/.年])?\s*(?P<m>\d{1,2})[-/.月]\s*(?P<d>\d{1,2})日?\s*[ T]?\s*"
    r"(?P<H>\d{1,2})[:：点](?P<M>\d{2})?分?\s*$"
)
_TIME_ONLY = re.compile(r"^\s*(?P<H>\d{1,2})[:：点](?P<M>\d{2})?分?\s*$")


def parse_start(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """`2026-05-10 09:00`, `5-10 9:00`, `5/10 9:00` or `5月10日 9点`, in the street's timezone.

    Without a year: the next such date from today. None when unreadable.
    """
    match = _DATE_TIME.match(text)
    if not match:
        return None
    local_now = now.astimezone(tz)
    try:
        clock = time(int(match["H"]), int(match["M"] or 0))
        if match["y"]:
            day = date(int(match["y"]), int(match["m"]), int(match["d"]))
        else:
            day = date(local_now.year, int(match["m"]), int(match["d"]))
            if day < local_now.date():
                day = date(local_now.year + 1, day.month, day.day)
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=tz)


def parse_end(text: str, starts_at: datetime, now: datetime, tz: ZoneInfo) -> datetime | None:
    """An end time `17:00` (the start's day) or a full date and time like the start."""
    match = _TIME_ONLY.match(text)
    if match:
        try:
            clock = time(int(match["H"]), int(match["M"] or 0))
        except ValueError:
            return None
        return datetime.combine(starts_at.astimezone(tz).date(), clock, tzinfo=tz)
    return parse_start(text, now, tz)


def time_problem(starts_at: datetime, ends_at: datetime | None, now: datetime) -> TimeProblem | None:
    """An activity lasts at most MAX_LENGTH; the guided creation checks the start before the end is typed."""
    return event_time_problem(starts_at, ends_at, now, longest=MAX_LENGTH)


def parse_count(text: str | None, *, low: int, high: int) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    value = int(text.strip())
    return value if low <= value <= high else None


def parse_hours(text: str | None) -> float | None:
    """Hours credited, in half hours: `2`, `1.5`, `2.5小时`."""
    if text is None:
        return None
    match = re.match(r"^\s*(\d{1,2}(?:\.\d+)?)\s*(?:h|小时|小時|hours?)?\s*$", text, re.IGNORECASE)
    if not match:
        return None
    value = round(float(match[1]) * 2) / 2
    return value if 0 < value <= MAX_HOURS else None


# ---- attendance --------------------------------------------------------------------------------------


def check_in_open(now: datetime, starts_at: datetime) -> bool:
    return now >= starts_at - CHECK_IN_EARLY


def no_show_allowed(now: datetime, starts_at: datetime) -> bool:
    return now >= starts_at


def clean_code(text: str | None) -> str | None:
    """A check-in code as typed (spaces and dashes allowed): six digits, or None."""
    if text is None:
        return None
    digits = re.sub(r"[\s-]", "", text)
    return digits if len(digits) == CODE_DIGITS and digits.isdigit() else None


def record_number(record_id: int, issued_at: datetime) -> str:
    """The number printed on a service record: VR-<year>-<six digits>."""
    return f"VR-{issued_at.year}-{record_id:06d}"


def format_hours(hours: float) -> str:
    """2 → "2", 1.5 → "1.5"."""
    return f"{hours:g}"

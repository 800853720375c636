"""Reports and tasks: states, the state machine, categories and SLA arithmetic. Pure: no I/O.

A report is what a resident files; the same row seen by the grid worker is a task. Its state moves
only along `TRANSITIONS`; every move is recorded as an event by the service that makes it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.domain.worktime import WorkCalendar

DESCRIPTION_MAX = 1000
NOTE_MAX = 1000
COMMENT_MAX = 500
REASON_MAX = 300
PHOTOS_MAX = 3
DEFAULT_CATEGORY = "other"


class ReportState(StrEnum):
    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CLOSED_UNVERIFIED = "closed_unverified"
    REOPENED = "reopened"
    TRANSFERRED = "transferred"
    NOT_OURS = "not_ours"
    DUPLICATE = "duplicate"
    DELIBERATION = "deliberation"
    WITHDRAWN = "withdrawn"


class Outcome(StrEnum):
    """How a closed report ended; the resolution rate counts CONFIRMED_FIXED over all of them."""

    CONFIRMED_FIXED = "confirmed_fixed"
    UNVERIFIED = "unverified"
    NOT_OURS = "not_ours"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"


class Channel(StrEnum):
    """How a report reached the street office (staff file the last three on a resident's behalf)."""

    BOT = "bot"
    PHONE = "phone"
    WALK_IN = "walk_in"
    HOTLINE = "hotline_12345"


class FixedAnswer(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_SURE = "not_sure"


S = ReportState
TRANSITIONS: dict[ReportState, frozenset[ReportState]] = {
    S.SUBMITTED: frozenset({S.ASSIGNED, S.NOT_OURS, S.DUPLICATE, S.WITHDRAWN}),
    S.ASSIGNED: frozenset({S.ACCEPTED, S.ASSIGNED, S.TRANSFERRED, S.NOT_OURS, S.DUPLICATE, S.WITHDRAWN}),
    S.TRANSFERRED: frozenset({S.ASSIGNED, S.NOT_OURS, S.DUPLICATE, S.WITHDRAWN}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.ASSIGNED, S.NOT_OURS, S.DUPLICATE, S.DELIBERATION}),
    S.IN_PROGRESS: frozenset(
        {S.IN_PROGRESS, S.RESOLVED, S.ASSIGNED, S.NOT_OURS, S.DUPLICATE, S.DELIBERATION}
    ),
    S.REOPENED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.ASSIGNED, S.NOT_OURS, S.DELIBERATION}),
    S.DELIBERATION: frozenset({S.IN_PROGRESS, S.RESOLVED, S.ASSIGNED, S.NOT_OURS}),
    S.RESOLVED: frozenset({S.CLOSED, S.CLOSED_UNVERIFIED, S.REOPENED}),
    S.CLOSED: frozenset(),
    S.CLOSED_UNVERIFIED: frozenset(),
    S.NOT_OURS: frozenset(),
    S.DUPLICATE: frozenset(),
    S.WITHDRAWN: frozenset(),
}
# States in which the report is finished (closed_at set, an outcome recorded, a rating asked for).
CLOSED_STATES = frozenset(state for state, nexts in TRANSITIONS.items() if not nexts)
OPEN_STATES = frozenset(ReportState) - CLOSED_STATES
# Waiting for someone to sign for it: the sign-for clock runs.
AWAITING_ACCEPT = frozenset({S.ASSIGNED, S.TRANSFERRED})
# Signed for and being fixed: the fix clock runs.
BEING_FIXED = frozenset({S.ACCEPTED, S.IN_PROGRESS, S.REOPENED, S.DELIBERATION})
# A resident may withdraw until somebody signs for it.
WITHDRAWABLE = frozenset({S.SUBMITTED, S.ASSIGNED, S.TRANSFERRED})
CLOSE_OUTCOME: dict[ReportState, Outcome] = {
    S.CLOSED: Outcome.CONFIRMED_FIXED,
    S.CLOSED_UNVERIFIED: Outcome.UNVERIFIED,
    S.NOT_OURS: Outcome.NOT_OURS,
    S.DUPLICATE: Outcome.DUPLICATE,
    S.WITHDRAWN: Outcome.WITHDRAWN,
}


class IllegalTransition(ValueError):
    """A state change the machine does not allow (a stale button, a race): refused, nothing changes."""


def can_move(current: ReportState, target: ReportState) -> bool:
    return target in TRANSITIONS[current]


def check_move(current: ReportState, target: ReportState) -> None:
    if not can_move(current, target):
        raise IllegalTransition(f"{current.value} → {target.value}")


def public_number(year: int, sequence: int) -> str:
    """`R-2026-000123`: the number residents quote on the phone; per-year sequence."""
    return f"R-{year:04d}-{sequence:06d}"


class Category(BaseModel, frozen=True):
    """A kind of problem with its SLA: working hours to sign for and to fix (urgent: round the clock)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")
    names: dict[str, str]
    accept_by_hours: float = Field(gt=0, le=24 * 30)
    fix_by_hours: float = Field(gt=0, le=24 * 365)
    allows_urgent: bool = False
    needs_after_photo: bool = True

    @field_validator("names")
    @classmethod
    def _has_a_name(cls, names: dict[str, str]) -> dict[str, str]:
        if not any(name.strip() for name in names.values()):
            raise ValueError("a category needs a name in at least one language")
        return names

    def name(self, locale: str) -> str:
        """The name in `locale`, else Simplified Chinese, else English, else any."""
        for key in (locale, "zh_Hans", "en"):
            if self.names.get(key):
                return self.names[key]
        return next(name for name in self.names.values() if name)


class CategoryFileError(ValueError):
    """The categories file cannot be used; the message names the file and the problem."""


class Categories:
    """The street's categories in display order."""

    def __init__(self, categories: list[Category]) -> None:
        codes = [c.code for c in categories]
        if not categories:
            raise CategoryFileError("at least one category is needed")
        if len(set(codes)) != len(codes):
            raise CategoryFileError("two categories share a code")
        self.all = categories
        self._by_code = {c.code: c for c in categories}

    def get(self, code: str) -> Category | None:
        return self._by_code.get(code)

    def __getitem__(self, code: str) -> Category:
        """A category by code; a code no longer configured reads as the fallback category."""
        return self._by_code.get(code) or self._by_code.get(DEFAULT_CATEGORY) or self.all[-1]


def parse_categories(text: str, source: str = "categories") -> Categories:
    """A JSON list of categories (see bot/data/categories.json for the format)."""
    try:
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise CategoryFileError(f"{source}: expected a JSON list of categories")
        return Categories([Category.model_validate(item) for item in raw])
    except json.JSONDecodeError as exc:
        raise CategoryFileError(f"{source}: not valid JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CategoryFileError(f"{source}: {where}: {first['msg']}") from None
    except CategoryFileError as exc:
        raise CategoryFileError(f"{source}: {exc}") from None


def load_categories(path: Path | None) -> Categories:
    """The street's own file when CATEGORIES_FILE is set, else the bundled defaults."""
    if path is not None:
        return parse_categories(path.read_text(encoding="utf-8"), str(path))
    bundled = resources.files("bot") / "data" / "categories.json"
    return parse_categories(bundled.read_text(encoding="utf-8"), "bot/data/categories.json")


class Deadlines(BaseModel, frozen=True):
    """When the reminder, the deadline itself and hence the supervision notice fall due."""

    remind_at: datetime
    due_at: datetime


def window(calendar: WorkCalendar, start: datetime, hours: float, *, urgent: bool) -> Deadlines:
    """A clock of `hours` working hours (round the clock when urgent) with its half-way reminder."""
    return Deadlines(
        remind_at=calendar.add_working_hours(start, hours / 2, urgent=urgent),
        due_at=calendar.add_working_hours(start, hours, urgent=urgent),
    )


def clean_text(text: str | None, limit: int) -> str | None:
    """Trimmed text within `limit` characters; None when empty or too long (the caller says why)."""
    if text is None:
        return None
    cleaned = text.strip()
    return cleaned if 0 < len(cleaned) <= limit else None


EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def nearest(
    lat: float, lon: float, places: list[tuple[int, float, float]], max_distance_m: float
) -> int | None:
    """The id of the nearest (id, lat, lon) within `max_distance_m`; None when all are farther."""
    best: tuple[float, int] | None = None
    for place_id, plat, plon in places:
        d = distance_m(lat, lon, plat, plon)
        if d <= max_distance_m and (best is None or d < best[0]):
            best = (d, place_id)
    return None if best is None else best[1]


class Report(BaseModel):
    """One report as stored; the assignee sees it as a task."""

    id: int
    number: str
    category: str
    state: ReportState
    urgent: bool
    anonymous: bool
    description: str
    voice: str | None
    building_id: int
    unit: str | None
    grid_id: int
    community_id: int
    reporter_id: int | None
    channel: Channel
    filed_by: int | None
    contact_name: str | None
    contact_phone: str | None
    assignee_id: int | None
    assignment_event: int | None
    created_at: datetime
    assigned_at: datetime | None
    accept_by: datetime | None
    accepted_at: datetime | None
    fix_by: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    resolution_note: str | None
    verify_hours: int | None
    closed_at: datetime | None
    outcome: Outcome | None
    outcome_reason: str | None
    duplicate_of: int | None
    reopen_count: int
    affected_count: int

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def overdue(self, now: datetime) -> bool:
        """Past the deadline the assignee currently works to."""
        return self.is_open and self.due_at is not None and self.due_at < now and self.state != S.RESOLVED


class ReportEvent(BaseModel):
    id: int
    at: datetime
    actor_id: int | None
    kind: str
    from_state: ReportState | None
    to_state: ReportState | None
    detail: str

"""When an event with places (a meeting, a volunteer activity) may be held: it starts in the future, ends
after it starts, and lasts no longer than its kind allows. One rule, so both kinds refuse times alike."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class TimeProblem(StrEnum):
    PAST = "past"
    END_BEFORE_START = "end_before_start"
    TOO_LONG = "too_long"


def event_time_problem(
    starts_at: datetime, ends_at: datetime | None, now: datetime, *, longest: timedelta
) -> TimeProblem | None:
    """What is wrong with these times (None: nothing); without an end yet, only the start is checked."""
    if starts_at <= now:
        return TimeProblem.PAST
    if ends_at is None:
        return None
    if ends_at <= starts_at:
        return TimeProblem.END_BEFORE_START
    if ends_at - starts_at > longest:
        return TimeProblem.TOO_LONG
    return None

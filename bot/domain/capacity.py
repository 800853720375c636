"""Places at an event with a fixed number of them: the pure rules, shared by volunteering and meetings.

A person's seat is `confirmed` (holds a place), `waitlisted` (queued, first in first out), `offered`
(promoted from the waitlist: the place is held for them until they confirm or the confirm window,
counted from the moment the offer reached them, runs out), `cancelled` (they left) or `lapsed` (the
offer ran out). Confirmed and offered seats hold places; capacity can never go below them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel


class SeatState(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"
    CANCELLED = "cancelled"
    LAPSED = "lapsed"


HOLDING = frozenset({SeatState.CONFIRMED, SeatState.OFFERED})
ACTIVE = frozenset({SeatState.CONFIRMED, SeatState.OFFERED, SeatState.WAITLISTED})


class EventKey(BaseModel, frozen=True):
    """Which event: the feature's kind ("opportunity", "meeting") and its own id."""

    kind: str
    event_id: int


class SlotEvent(BaseModel, frozen=True):
    key: EventKey
    capacity: int | None  # None: no limit
    starts_at: datetime
    ends_at: datetime
    open: bool


class Seat(BaseModel, frozen=True):
    id: int
    key: EventKey
    person_id: int
    state: SeatState
    seq: int
    offered_at: datetime | None = None
    offer_minutes: int | None = None
    offer_delivered_at: datetime | None = None
    offer_expires_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


class SignUpOutcome(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    ALREADY = "already"  # an active seat exists: no double sign-up
    STARTED = "started"  # the event has begun (or is over): no sign-up after the start
    CLOSED = "closed"  # cancelled, or no such event


class Counts(BaseModel, frozen=True):
    """How an event's places stand."""

    capacity: int | None  # None: no limit
    confirmed: int = 0
    offered: int = 0
    waitlisted: int = 0

    @property
    def held(self) -> int:
        return self.confirmed + self.offered

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.held, 0)

    @property
    def fill_rate(self) -> float | None:
        """Confirmed places over capacity (0–1); None without a limit or with capacity 0."""
        return None if not self.capacity else self.confirmed / self.capacity


def sign_up_outcome(
    *, counts: Counts, current: SeatState | None, open_: bool, starts_at: datetime, now: datetime
) -> SignUpOutcome:
    """What a sign-up would do now. The storage repeats the "free place" test as a conditional insert."""
    if not open_:
        return SignUpOutcome.CLOSED
    if now >= starts_at:
        return SignUpOutcome.STARTED
    if current in ACTIVE:
        return SignUpOutcome.ALREADY
    if counts.waitlisted > 0 or (counts.free is not None and counts.free <= 0):
        # Nobody overtakes the queue: a place freed while people wait goes to them first.
        return SignUpOutcome.WAITLISTED
    return SignUpOutcome.CONFIRMED


def capacity_refusal(counts: Counts, new_capacity: int | None) -> int | None:
    """None when `new_capacity` is acceptable, else the lowest capacity allowed (places held now)."""
    if new_capacity is None or new_capacity >= counts.held:
        return None
    return counts.held


def promotions(counts: Counts) -> int:
    """How many waitlisted seats should be offered a place now."""
    if counts.capacity is None:
        return counts.waitlisted
    return min(counts.free or 0, counts.waitlisted)


def offer_deadline(delivered_at: datetime, window: timedelta, starts_at: datetime) -> datetime:
    """The confirm window counts from delivery, and no offer outlives the start of the event."""
    return min(delivered_at + window, starts_at)


def offer_backstop(offered_at: datetime, window: timedelta, starts_at: datetime) -> datetime:
    """When an offer lapses if its message is never delivered (a blocked bot): it then passes on.

    Long enough for a message held overnight by quiet hours to arrive and be answered.
    """
    return min(offered_at + window + timedelta(hours=12), starts_at)


def reminder_times(
    starts_at: datetime, now: datetime, offsets: tuple[timedelta, ...]
) -> dict[timedelta, datetime | None]:
    """Each reminder's due time before `starts_at`; None for one whose moment has already passed."""
    return {offset: (starts_at - offset if starts_at - offset > now else None) for offset in offsets}


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Two shifts overlap when each starts before the other ends (back-to-back is fine)."""
    return a_start < b_end and b_start < a_end

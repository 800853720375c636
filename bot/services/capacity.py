"""Places, waitlist, offers and reminders for any event with places, stored in `slot_events` and `seats`.

A feature (volunteering, meetings) keys its events as `EventKey(kind, event_id)`, registers a `SlotKind`
that says how long an offer waits and what its messages say, and calls these functions inside its own
`db.transaction()` — every function takes that `conn`, so the seat change, the outbox push it causes
and the timers it moves commit together.

- Limits are conditional writes: a seat becomes `confirmed` only by an INSERT/UPDATE whose WHERE clause
  counts the places held in the same transaction, so two people taking the last place at the same
  moment get one place between them, never two.
- A place freed while people wait (a cancellation, more capacity, a lapsed offer) is offered to the
  first in the queue. The offer is an outbox push whose delivery starts the confirm window; until it is
  delivered a backstop timer makes sure an undeliverable offer still passes on.
- Reminders (24 h and 2 h before) are timer rows per (event, offset): rescheduling replaces them, so
  exactly one of each is pending, at the new time, and a restart changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.clock import from_db, to_db
from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.outbox import Button, Lane, Param
from bot.domain.capacity import (
    Counts,
    EventKey,
    Seat,
    SeatState,
    SignUpOutcome,
    SlotEvent,
    capacity_refusal,
    offer_backstop,
    offer_deadline,
    promotions,
    reminder_times,
    sign_up_outcome,
)
from bot.storage.db import Connection, Database, Reader, Row
from bot.timers import engine as timers

if TYPE_CHECKING:
    from bot.services.container import Services

OFFER = "seat.offer"  # outbox reason and delivered-hook kind of an offer; timer kind of its expiry
REMINDER = "slot.reminder"  # timer kind of a reminder; outbox reason of each reminder sent
REFILL = "slot.refill"  # timer kind: offer freed places when no clock was at hand
REMINDER_OFFSETS = (timedelta(hours=24), timedelta(hours=2))
AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)  # a due time that the next scan fires




@dataclass(frozen=True)
class Notice:
    """What a push says: a template (msgid marked with N_), its parameters and buttons."""

    template: str
    params: dict[str, Param]
    buttons: list[list[Button]] | None = None


NoticeFor = Callable[[Connection, Seat], Awaitable[Notice]]
ReminderFor = Callable[[Connection, Seat, timedelta], Awaitable[Notice]]


@dataclass(frozen=True)
class SlotKind:
    """How one feature's events behave: the confirm window and the words of its pushes."""

    confirm_window: Callable[[Settings], timedelta]
    offer_notice: NoticeFor  # "a place is free for you: confirm by …" (must carry the confirm button)
    reminder_notice: ReminderFor  # "tomorrow at 9:00: …" to each confirmed seat
    lapse_notice: NoticeFor | None = None  # "your offer ran out" (optional)


_kinds: dict[str, SlotKind] = {}


def register_slot_kind(kind: str, slot_kind: SlotKind) -> None:
    _kinds[kind] = slot_kind


def _kind(key: EventKey) -> SlotKind:
    try:
        return _kinds[key.kind]
    except KeyError:
        raise LookupError(f"no SlotKind registered for {key.kind!r}") from None


# ---- reading ---------------------------------------------------------------------------------------


_SEAT_COLUMNS = (
    "id, kind, event_id, person_id, state, seq, offered_at, offer_minutes, offer_delivered_at, "
    "offer_expires_at"
)


def _opt_time(value: str | None) -> datetime | None:
    return None if value is None else from_db(value)


def _seat(row: Row) -> Seat:
    return Seat(
        id=row["id"], key=EventKey(kind=row["kind"], event_id=row["event_id"]), person_id=row["person_id"],
        state=SeatState(row["state"]), seq=row["seq"], offered_at=_opt_time(row["offered_at"]),
        offer_minutes=row["offer_minutes"], offer_delivered_at=_opt_time(row["offer_delivered_at"]),
        offer_expires_at=_opt_time(row["offer_expires_at"]),
    )


def _event(row: Row) -> SlotEvent:
    return SlotEvent(
        key=EventKey(kind=row["kind"], event_id=row["event_id"]), capacity=row["capacity"],
        starts_at=from_db(row["starts_at"]), ends_at=from_db(row["ends_at"]), open=row["state"] == "open",
    )






async def get_event(conn: Reader, key: EventKey) -> SlotEvent | None:
    row = await conn.fetch_one(
        "SELECT * FROM slot_events WHERE kind = ? AND event_id = ?", (key.kind, key.event_id)
    )
    return None if row is None else _event(row)


async def counts(conn: Reader, key: EventKey) -> Counts:
    row = await conn.fetch_one(
        "SELECT e.capacity, "
        "SUM(s.state = 'confirmed') AS confirmed, SUM(s.state = 'offered') AS offered, "
        "SUM(s.state = 'waitlisted') AS waitlisted "
        "FROM slot_events e LEFT JOIN seats s ON s.kind = e.kind AND s.event_id = e.event_id "
        "WHERE e.kind = ? AND e.event_id = ? GROUP BY e.kind, e.event_id",
        (key.kind, key.event_id),
    )
    if row is None:
        return Counts(capacity=0)
    return Counts(capacity=row["capacity"], confirmed=row["confirmed"] or 0, offered=row["offered"] or 0,
                  waitlisted=row["waitlisted"] or 0)


async def seat_of(conn: Reader, key: EventKey, person_id: int) -> Seat | None:
    row = await conn.fetch_one(
        f"SELECT {_SEAT_COLUMNS} FROM seats WHERE kind = ? AND event_id = ? AND person_id = ?",
        (key.kind, key.event_id, person_id),
    )
    return None if row is None else _seat(row)


async def seat_by_id(conn: Reader, seat_id: int) -> Seat | None:
    row = await conn.fetch_one(f"SELECT {_SEAT_COLUMNS} FROM seats WHERE id = ?", (seat_id,))
    return None if row is None else _seat(row)


async def seats(conn: Reader, key: EventKey, *states: SeatState) -> list[Seat]:
    """Seats in the given states (all when none given), in queue order."""
    wanted = [s.value for s in states] or [s.value for s in SeatState]
    marks = ", ".join("?" for _ in wanted)
    rows = await conn.fetch_all(
        f"SELECT {_SEAT_COLUMNS} FROM seats WHERE kind = ? AND event_id = ? AND state IN ({marks}) "
        "ORDER BY seq",
        (key.kind, key.event_id, *wanted),
    )
    return [_seat(r) for r in rows]


async def waitlist_position(conn: Reader, seat: Seat) -> int | None:
    """1 for the first in the queue; None when the seat is not waitlisted."""
    if seat.state is not SeatState.WAITLISTED:
        return None
    row = await conn.fetch_one(
        "SELECT COUNT(*) FROM seats WHERE kind = ? AND event_id = ? AND state = 'waitlisted' AND seq <= ?",
        (seat.key.kind, seat.key.event_id, seat.seq),
    )
    return 0 if row is None else int(row[0])


async def overlapping(
    conn: Reader, person_id: int, starts_at: datetime, ends_at: datetime, *, exclude: EventKey | None = None
) -> list[EventKey]:
    """Open events of any kind where the person holds a place at a time overlapping this one."""
    rows = await conn.fetch_all(
        "SELECT s.kind, s.event_id FROM seats s JOIN slot_events e ON e.kind = s.kind AND e.event_id = "
        "s.event_id "
        "WHERE s.person_id = ? AND s.state IN ('confirmed', 'offered') AND e.state = 'open' "
        "AND e.starts_at < ? AND ? < e.ends_at AND NOT (s.kind = ? AND s.event_id = ?) ORDER BY e.starts_at",
        (person_id, to_db(ends_at), to_db(starts_at), exclude.kind if exclude else "",
         exclude.event_id if exclude else 0),
    )
    return [EventKey(kind=r["kind"], event_id=r["event_id"]) for r in rows]


# ---- events ----------------------------------------------------------------------------------------


async def open_event(
    conn: Connection, key: EventKey, *, capacity: int | None, starts_at: datetime, ends_at: datetime,
    now: datetime,
) -> None:
    """Create the event's places and schedule its reminders."""
    await conn.execute(
        "INSERT INTO slot_events (kind, event_id, capacity, starts_at, ends_at) VALUES (?, ?, ?, ?, ?)",
        (key.kind, key.event_id, capacity, to_db(starts_at), to_db(ends_at)),
    )
    await _schedule_reminders(conn, key, starts_at, now)


def _reminder_subject(key: EventKey, offset: timedelta) -> str:
    return f"{key.kind}:{key.event_id}:{int(offset.total_seconds() // 60)}m"


async def _schedule_reminders(conn: Connection, key: EventKey, starts_at: datetime, now: datetime) -> None:
    """One pending reminder per offset at its time before `starts_at`; none for a moment already past."""
    for offset, due in reminder_times(starts_at, now, REMINDER_OFFSETS).items():
        subject = _reminder_subject(key, offset)
        if due is None:
            await timers.cancel(conn, kind=REMINDER, subject=subject)
        else:
            await timers.schedule(
                conn, kind=REMINDER, subject=subject, due_at=due,
                payload={"kind": key.kind, "event_id": key.event_id,
                         "offset_minutes": int(offset.total_seconds() // 60)},
            )


async def reschedule(
    conn: Connection, key: EventKey, *, starts_at: datetime, ends_at: datetime, now: datetime
) -> list[Seat]:
    """Move the event: reminders move with it and offers never outlive the new start.

    Returns the active seats (confirmed, offered, waitlisted): the people to tell.
    """
    await conn.execute(
        "UPDATE slot_events SET starts_at = ?, ends_at = ? WHERE kind = ? AND event_id = ?",
        (to_db(starts_at), to_db(ends_at), key.kind, key.event_id),
    )
    await _schedule_reminders(conn, key, starts_at, now)
    for seat in await seats(conn, key, SeatState.OFFERED):
        await _set_offer_expiry(conn, seat, starts_at)
    return await seats(conn, key, SeatState.CONFIRMED, SeatState.OFFERED, SeatState.WAITLISTED)


async def cancel_event(conn: Connection, key: EventKey) -> list[Seat]:
    """Close the event: no more sign-ups, reminders or offers. Returns the active seats, to tell them."""
    await conn.execute(
        "UPDATE slot_events SET state = 'cancelled' WHERE kind = ? AND event_id = ?", (key.kind, key.event_id)
    )
    for offset in REMINDER_OFFSETS:
        await timers.cancel(conn, kind=REMINDER, subject=_reminder_subject(key, offset))
    active = await seats(conn, key, SeatState.CONFIRMED, SeatState.OFFERED, SeatState.WAITLISTED)
    for seat in active:
        if seat.state is SeatState.OFFERED:
            await timers.cancel(conn, kind=OFFER, subject=str(seat.id))
    return active


class CapacityChange(StrEnum):
    CHANGED = "changed"
    BELOW_HELD = "below_held"  # not below the places confirmed or offered
    CLOSED = "closed"


@dataclass(frozen=True)
class CapacityResult:
    outcome: CapacityChange
    lowest: int | None = None  # with BELOW_HELD: the lowest capacity allowed now
    offers: tuple[Seat, ...] = ()


async def set_capacity(
    services: Services, conn: Connection, key: EventKey, capacity: int | None, *, now: datetime
) -> CapacityResult:
    """Change the number of places; never below those held; more places go to the waitlist first."""
    event = await get_event(conn, key)
    if event is None or not event.open:
        return CapacityResult(CapacityChange.CLOSED)
    lowest = capacity_refusal(await counts(conn, key), capacity)
    if lowest is not None:
        return CapacityResult(CapacityChange.BELOW_HELD, lowest=lowest)
    # The WHERE repeats the rule in SQL, so nothing committed meanwhile can be squeezed out.
    cursor = await conn.execute(
        "UPDATE slot_events SET capacity = ? WHERE kind = ? AND event_id = ? AND (? IS NULL OR ? >= "
        "(SELECT COUNT(*) FROM seats WHERE kind = ? AND event_id = ? AND state IN ('confirmed', 'offered')))",
        (capacity, key.kind, key.event_id, capacity, capacity, key.kind, key.event_id),
    )
    if cursor.rowcount != 1:
        return CapacityResult(CapacityChange.BELOW_HELD, lowest=(await counts(conn, key)).held)
    offers = await refill(services, conn, key, now=now)
    return CapacityResult(CapacityChange.CHANGED, offers=tuple(offers))


# ---- seats -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignUpResult:
    outcome: SignUpOutcome
    seat: Seat | None = None
    position: int | None = None  # on the waitlist, 1 = next
    offers: tuple[Seat, ...] = ()  # others offered a place on the way (a freed place nobody had taken)


async def sign_up(
    services: Services, conn: Connection, key: EventKey, person_id: int, *, now: datetime
) -> SignUpResult:
    """Take a place, or a place in the queue when there is none; never two seats, never after the start."""
    event = await get_event(conn, key)
    if event is None:
        return SignUpResult(SignUpOutcome.CLOSED)
    offers = tuple(await refill(services, conn, key, now=now)) if event.open and now < event.starts_at else ()
    current = await seat_of(conn, key, person_id)
    outcome = sign_up_outcome(
        counts=await counts(conn, key), current=current.state if current else None, open_=event.open,
        starts_at=event.starts_at, now=now,
    )
    if outcome in {SignUpOutcome.CLOSED, SignUpOutcome.STARTED, SignUpOutcome.ALREADY}:
        return SignUpResult(outcome, seat=current, offers=offers,
                            position=await waitlist_position(conn, current) if current else None)
    if outcome is SignUpOutcome.CONFIRMED and await _take_place(conn, key, person_id, current, now):
        seat = await seat_of(conn, key, person_id)
        return SignUpResult(SignUpOutcome.CONFIRMED, seat=seat, offers=offers)
    await _join_queue(conn, key, person_id, current, now)
    seat = await seat_of(conn, key, person_id)
    assert seat is not None
    return SignUpResult(SignUpOutcome.WAITLISTED, seat=seat, position=await waitlist_position(conn, seat),
                        offers=offers)


# A place is free when the places held are below capacity and nobody is waiting for one.
_PLACE_FREE = (
    "(SELECT capacity FROM slot_events WHERE kind = :kind AND event_id = :event) IS NULL OR ("
    "(SELECT COUNT(*) FROM seats WHERE kind = :kind AND event_id = :event "
    "AND state IN ('confirmed', 'offered')) "
    "< (SELECT capacity FROM slot_events WHERE kind = :kind AND event_id = :event) AND NOT EXISTS "
    "(SELECT 1 FROM seats WHERE kind = :kind AND event_id = :event AND state = 'waitlisted'))"
)
_NEXT_SEQ = "(SELECT COALESCE(MAX(seq), 0) + 1 FROM seats WHERE kind = :kind AND event_id = :event)"


async def _take_place(
    conn: Connection, key: EventKey, person_id: int, current: Seat | None, now: datetime
) -> bool:
    """The conditional write that enforces the limit; False when the last place went meanwhile."""
    params = {"kind": key.kind, "event": key.event_id, "person": person_id, "now": to_db(now)}
    if current is None:
        cursor = await conn.execute(
            "INSERT INTO seats (kind, event_id, person_id, state, seq, created_at, updated_at) "
            f"SELECT :kind, :event, :person, 'confirmed', {_NEXT_SEQ}, :now, :now WHERE {_PLACE_FREE}",
            params,
        )
    else:
        cursor = await conn.execute(
            f"UPDATE seats SET state = 'confirmed', seq = {_NEXT_SEQ}, updated_at = :now, offered_at = NULL, "
            "offer_minutes = NULL, offer_delivered_at = NULL, offer_expires_at = NULL "
            f"WHERE id = :seat AND state IN ('cancelled', 'lapsed') AND ({_PLACE_FREE})",
            {**params, "seat": current.id},
        )
    return cursor.rowcount == 1


async def _join_queue(
    conn: Connection, key: EventKey, person_id: int, current: Seat | None, now: datetime
) -> None:
    params = {"kind": key.kind, "event": key.event_id, "person": person_id, "now": to_db(now)}
    if current is None:
        await conn.execute(
            "INSERT INTO seats (kind, event_id, person_id, state, seq, created_at, updated_at) "
            f"VALUES (:kind, :event, :person, 'waitlisted', {_NEXT_SEQ}, :now, :now)",
            params,
        )
    else:
        await conn.execute(
            f"UPDATE seats SET state = 'waitlisted', seq = {_NEXT_SEQ}, updated_at = :now, "
            "offered_at = NULL, offer_minutes = NULL, offer_delivered_at = NULL, offer_expires_at = NULL "
            "WHERE id = :seat",
            {**params, "seat": current.id},
        )


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    NOT_SIGNED_UP = "not_signed_up"
    STARTED = "started"  # no leaving after the start: the organizer marks a no-show instead


@dataclass(frozen=True)
class CancelResult:
    outcome: CancelOutcome
    previous: SeatState | None = None
    offers: tuple[Seat, ...] = ()  # the waitlisted people offered the freed place


async def cancel_seat(
    services: Services, conn: Connection, key: EventKey, person_id: int, *, now: datetime
) -> CancelResult:
    """Leave before the start; a freed place is offered to the first in the queue."""
    event = await get_event(conn, key)
    current = await seat_of(conn, key, person_id)
    if event is None or current is None or not current.active:
        return CancelResult(CancelOutcome.NOT_SIGNED_UP)
    if now >= event.starts_at:
        return CancelResult(CancelOutcome.STARTED, previous=current.state)
    cursor = await conn.execute(
        "UPDATE seats SET state = 'cancelled', updated_at = ? WHERE id = ? AND state = ?",
        (to_db(now), current.id, current.state.value),
    )
    if cursor.rowcount != 1:
        return CancelResult(CancelOutcome.NOT_SIGNED_UP)
    if current.state is SeatState.OFFERED:
        await timers.cancel(conn, kind=OFFER, subject=str(current.id))
    offers = await refill(services, conn, key, now=now) if event.open else []
    return CancelResult(CancelOutcome.CANCELLED, previous=current.state, offers=tuple(offers))


class ConfirmOutcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY = "already"  # confirmed before (a double tap)
    NO_OFFER = "no_offer"  # lapsed, cancelled, or never offered
    CLOSED = "closed"  # the event was cancelled or has started


async def confirm_offer(conn: Connection, key: EventKey, person_id: int, *, now: datetime) -> ConfirmOutcome:
    """Take the offered place, if the offer still stands."""
    event = await get_event(conn, key)
    current = await seat_of(conn, key, person_id)
    if current is not None and current.state is SeatState.CONFIRMED:
        return ConfirmOutcome.ALREADY
    if event is None or not event.open or now >= event.starts_at:
        return ConfirmOutcome.CLOSED
    if current is None:
        return ConfirmOutcome.NO_OFFER
    cursor = await conn.execute(
        "UPDATE seats SET state = 'confirmed', updated_at = ? WHERE id = ? AND state = 'offered' "
        "AND (offer_expires_at IS NULL OR offer_expires_at > ?)",
        (to_db(now), current.id, to_db(now)),
    )
    if cursor.rowcount != 1:
        return ConfirmOutcome.NO_OFFER
    await timers.cancel(conn, kind=OFFER, subject=str(current.id))
    return ConfirmOutcome.CONFIRMED


async def release_person(conn: Connection, person_id: int) -> None:
    """Give up every active seat of a person whose data is being erased.

    Erasure runs without a clock, so the freed places are passed on by a refill timer due at once.
    """
    for seat in map(_seat, await conn.fetch_all(
        f"SELECT {_SEAT_COLUMNS} FROM seats WHERE person_id = ? AND state IN "
        "('confirmed', 'offered', 'waitlisted')", (person_id,),
    )):
        await conn.execute("UPDATE seats SET state = 'cancelled' WHERE id = ?", (seat.id,))
        await timers.cancel(conn, kind=OFFER, subject=str(seat.id))
        await timers.schedule(
            conn, kind=REFILL, subject=f"{seat.key.kind}:{seat.key.event_id}", due_at=AT_ONCE,
            payload={"kind": seat.key.kind, "event_id": seat.key.event_id},
        )


async def refill(services: Services, conn: Connection, key: EventKey, *, now: datetime) -> list[Seat]:
    """Offer every free place to the queue, first in first out; each offer is a push to confirm."""
    event = await get_event(conn, key)
    if event is None or not event.open or now >= event.starts_at:
        return []
    count = promotions(await counts(conn, key))
    if count <= 0:
        return []
    kind = _kind(key)
    window = kind.confirm_window(services.settings)
    offered: list[Seat] = []
    for seat in (await seats(conn, key, SeatState.WAITLISTED))[:count]:
        await conn.execute(
            "UPDATE seats SET state = 'offered', offered_at = ?, offer_minutes = ?, "
            "offer_delivered_at = NULL, offer_expires_at = NULL, updated_at = ? "
            "WHERE id = ? AND state = 'waitlisted'",
            (to_db(now), int(window.total_seconds() // 60), to_db(now), seat.id),
        )
        offer = await seat_by_id(conn, seat.id)
        assert offer is not None
        notice = await kind.offer_notice(conn, offer)
        await outbox.enqueue(
            conn, now=now, recipients=[offer.person_id], template=notice.template, params=notice.params,
            buttons=notice.buttons, lane=Lane.INTERACTIVE, reason=(OFFER, offer.id),
            on_delivered=(OFFER, offer.id),
        )
        await timers.schedule(conn, kind=OFFER, subject=str(offer.id),
                              due_at=offer_backstop(now, window, event.starts_at))
        offered.append(offer)
    return offered


async def _set_offer_expiry(conn: Connection, seat: Seat, starts_at: datetime) -> None:
    """(Re)compute when an offer lapses: from delivery when delivered, else the undelivered backstop."""
    assert seat.offered_at is not None and seat.offer_minutes is not None
    window = timedelta(minutes=seat.offer_minutes)
    if seat.offer_delivered_at is not None:
        due = offer_deadline(seat.offer_delivered_at, window, starts_at)
        await conn.execute("UPDATE seats SET offer_expires_at = ? WHERE id = ?", (to_db(due), seat.id))
    else:
        due = offer_backstop(seat.offered_at, window, starts_at)
    await timers.schedule(conn, kind=OFFER, subject=str(seat.id), due_at=due)


# ---- outbox and timer hooks -------------------------------------------------------------------------


async def _offer_delivered(conn: Connection, seat_id: int, delivered_at: datetime) -> None:
    """The confirm window starts now that the offer reached the person (first delivery only)."""
    seat = await seat_by_id(conn, seat_id)
    if seat is None or seat.state is not SeatState.OFFERED or seat.offer_delivered_at is not None:
        return
    event = await get_event(conn, seat.key)
    if event is None or not event.open:
        return
    await conn.execute(
        "UPDATE seats SET offer_delivered_at = ? WHERE id = ? AND offer_delivered_at IS NULL",
        (to_db(delivered_at), seat.id),
    )
    delivered = seat.model_copy(update={"offer_delivered_at": delivered_at})
    await _set_offer_expiry(conn, delivered, event.starts_at)


async def _seat_left(db: Database, seat_id: int, state: SeatState) -> bool:
    """Is the seat no longer in `state`, or its event no longer open? Then its queued push is dropped."""
    row = await db.fetch_one(
        "SELECT s.state, e.state AS event_state FROM seats s JOIN slot_events e "
        "ON e.kind = s.kind AND e.event_id = s.event_id WHERE s.id = ?",
        (seat_id,),
    )
    return row is None or row["state"] != state.value or row["event_state"] != "open"


async def _offer_gone(db: Database, seat_id: int) -> bool:
    """An offer confirmed meanwhile, lapsed, given up, or for a cancelled event."""
    return await _seat_left(db, seat_id, SeatState.OFFERED)


async def _reminder_gone(db: Database, seat_id: int) -> bool:
    """A reminder to someone who left, or for an event that was cancelled meanwhile."""
    return await _seat_left(db, seat_id, SeatState.CONFIRMED)


async def _on_offer_expired(services: Services, conn: Connection, row: timers.TimerRow) -> None:
    """The confirm window ran out: the place passes to the next in the queue."""
    seat = await seat_by_id(conn, int(row.subject))
    if seat is None or seat.state is not SeatState.OFFERED:
        return
    now = services.clock.now()
    await conn.execute(
        "UPDATE seats SET state = 'lapsed', updated_at = ? WHERE id = ? AND state = 'offered'",
        (to_db(now), seat.id),
    )
    kind = _kind(seat.key)
    if kind.lapse_notice is not None:
        notice = await kind.lapse_notice(conn, seat)
        await outbox.enqueue(conn, now=now, recipients=[seat.person_id], template=notice.template,
                             params=notice.params, buttons=notice.buttons, lane=Lane.INTERACTIVE)
    await refill(services, conn, seat.key, now=now)


async def _on_reminder(services: Services, conn: Connection, row: timers.TimerRow) -> None:
    """Remind each confirmed seat; an event cancelled or already started sends nothing."""
    key = EventKey(kind=row.payload["kind"], event_id=int(row.payload["event_id"]))
    event = await get_event(conn, key)
    now = services.clock.now()
    if event is None or not event.open or now >= event.starts_at:
        return
    kind = _kind(key)
    offset = timedelta(minutes=int(row.payload["offset_minutes"]))
    for seat in await seats(conn, key, SeatState.CONFIRMED):
        notice = await kind.reminder_notice(conn, seat, offset)
        await outbox.enqueue(
            conn, now=now, recipients=[seat.person_id], template=notice.template, params=notice.params,
            buttons=notice.buttons, lane=Lane.INTERACTIVE, reason=(REMINDER, seat.id),
        )


async def _on_refill(services: Services, conn: Connection, row: timers.TimerRow) -> None:
    await refill(services, conn, EventKey(kind=row.payload["kind"], event_id=int(row.payload["event_id"])),
                 now=services.clock.now())


timers.register_timer(OFFER, _on_offer_expired)
timers.register_timer(REFILL, _on_refill)
timers.register_timer(REMINDER, _on_reminder)
outbox.register_delivered_hook(OFFER, _offer_delivered)
outbox.register_drop_check(OFFER, _offer_gone)
outbox.register_drop_check(REMINDER, _reminder_gone)

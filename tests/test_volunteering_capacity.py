"""Places, waitlist, offers and moving reminders, through the storage-backed capacity service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock, from_db, to_db
from bot.config import Settings
from bot.domain.capacity import (
    Counts,
    EventKey,
    Seat,
    SeatState,
    SignUpOutcome,
    capacity_refusal,
    offer_deadline,
    overlaps,
    promotions,
    reminder_times,
    sign_up_outcome,
)
from bot.services import capacity
from bot.services.capacity import CancelOutcome, CapacityChange, ConfirmOutcome, Notice, SlotKind
from bot.services.container import Services
from bot.storage import people
from bot.timers.engine import TimerEngine
from tests.support.storage import migrated_database

START = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
KEY = EventKey(kind="test_event", event_id=1)


async def _offer(conn: object, seat: Seat) -> Notice:
    return Notice("offer {seat}", {"seat": seat.id})


async def _reminder(conn: object, seat: Seat, offset: timedelta) -> Notice:
    return Notice("reminder {minutes}", {"minutes": int(offset.total_seconds() // 60)})


capacity.register_slot_kind(
    "test_event", SlotKind(confirm_window=lambda s: timedelta(hours=2), offer_notice=_offer,
                           reminder_notice=_reminder),
)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with migrated_database(tmp_path / "t.db") as db:
        settings = Settings(_env_file=None, database_path=tmp_path / "t.db")  # type: ignore[call-arg]
        yield Services(settings=settings, db=db, clock=FakeClock(START))


async def _people(services: Services, count: int) -> list[int]:
    async with services.db.transaction() as conn:
        return [await people.insert(conn, now=START, telegram_id=100 + i, name=f"P{i}") for i in range(count)]


async def _open(
    services: Services, capacity_: int | None = 3, starts_in: timedelta = timedelta(days=3)
) -> None:
    async with services.db.transaction() as conn:
        await capacity.open_event(conn, KEY, capacity=capacity_, starts_at=START + starts_in,
                                  ends_at=START + starts_in + timedelta(hours=3), now=START)


async def _sign_up(services: Services, person_id: int) -> capacity.SignUpResult:
    async with services.db.transaction() as conn:
        return await capacity.sign_up(services, conn, KEY, person_id, now=services.clock.now())


async def _three_places_two_waiting(services: Services) -> list[int]:
    """Five people sign up, in order, for an event with three places: the first three hold them, the last
    two wait (the fourth first)."""
    signed = await _people(services, 5)
    await _open(services)
    for person_id in signed:
        await _sign_up(services, person_id)
    return signed


async def _state(services: Services, person_id: int) -> SeatState | None:
    seat = await capacity.seat_of(services.db, KEY, person_id)
    return None if seat is None else seat.state


async def _pending(services: Services, kind: str) -> list[tuple[str, datetime]]:
    rows = await services.db.fetch_all(
        "SELECT subject, due_at FROM timers WHERE kind = ? AND state = 'pending' ORDER BY subject", (kind,)
    )
    return [(r["subject"], from_db(r["due_at"])) for r in rows]


async def _deliver_offers(services: Services) -> None:
    """What the sender does when an offer reaches its person: run the delivered hook."""
    rows = await services.db.fetch_all(
        "SELECT id, delivered_id FROM outbox WHERE delivered_kind = ? AND state = 'pending'",
        (capacity.OFFER,),
    )
    now = services.clock.now()
    async with services.db.transaction() as conn:
        for row in rows:
            await conn.execute("UPDATE outbox SET state = 'sent', delivered_at = ? WHERE id = ?",
                               (to_db(now), row["id"]))
            await capacity._offer_delivered(conn, row["delivered_id"], now)


# ---- pure rules --------------------------------------------------------------------------------------


def test_sign_up_rules() -> None:
    starts = START + timedelta(days=1)

    def outcome(counts: Counts, current: SeatState | None = None, *, open_: bool = True,
                now: datetime = START) -> SignUpOutcome:
        return sign_up_outcome(counts=counts, current=current, open_=open_, starts_at=starts, now=now)

    free = Counts(capacity=2)
    assert outcome(Counts(capacity=2, confirmed=2)) is SignUpOutcome.WAITLISTED
    assert outcome(free) is SignUpOutcome.CONFIRMED
    assert outcome(free, SeatState.WAITLISTED) is SignUpOutcome.ALREADY
    assert outcome(free, SeatState.CANCELLED) is SignUpOutcome.CONFIRMED
    assert outcome(free, now=starts) is SignUpOutcome.STARTED
    assert outcome(free, open_=False) is SignUpOutcome.CLOSED
    # Nobody overtakes the queue, even when a place is momentarily free.
    assert outcome(Counts(capacity=2, confirmed=1, waitlisted=1)) is SignUpOutcome.WAITLISTED


def test_capacity_and_promotion_rules() -> None:
    counts = Counts(capacity=3, confirmed=2, offered=1, waitlisted=4)
    assert capacity_refusal(counts, 2) == 3
    assert capacity_refusal(counts, 3) is None
    assert promotions(counts) == 0
    assert promotions(counts.model_copy(update={"capacity": 5})) == 2
    assert promotions(Counts(capacity=None, waitlisted=2)) == 2
    assert Counts(capacity=4, confirmed=3).fill_rate == 0.75


def test_offer_windows_and_reminders() -> None:
    starts = START + timedelta(hours=5)
    assert offer_deadline(START, timedelta(hours=2), starts) == START + timedelta(hours=2)
    assert offer_deadline(START, timedelta(hours=8), starts) == starts
    times = reminder_times(START + timedelta(hours=10), START, (timedelta(hours=24), timedelta(hours=2)))
    assert times == {timedelta(hours=24): None, timedelta(hours=2): START + timedelta(hours=8)}
    hour = timedelta(hours=1)
    assert overlaps(START, START + 2 * hour, START + hour, START + 3 * hour)
    assert not overlaps(START, START + 2 * hour, START + 2 * hour, START + 3 * hour)


# ---- storage-backed ----------------------------------------------------------------------------------


async def test_three_places_four_sign_ups_one_waits(services: Services) -> None:
    a, b, c, d = await _people(services, 4)
    await _open(services)
    outcomes = [(await _sign_up(services, p)).outcome for p in (a, b, c)]
    assert outcomes == [SignUpOutcome.CONFIRMED] * 3
    fourth = await _sign_up(services, d)
    assert fourth.outcome is SignUpOutcome.WAITLISTED and fourth.position == 1
    assert (await _sign_up(services, d)).outcome is SignUpOutcome.ALREADY
    counts = await capacity.counts(services.db, KEY)
    assert (counts.confirmed, counts.waitlisted) == (3, 1)


async def test_two_people_taking_the_last_place_at_once_get_one_place(services: Services) -> None:
    a, b, c = await _people(services, 3)
    await _open(services, capacity_=2)
    await _sign_up(services, a)
    results = await asyncio.gather(_sign_up(services, b), _sign_up(services, c))
    assert sorted(r.outcome for r in results) == [SignUpOutcome.CONFIRMED, SignUpOutcome.WAITLISTED]
    assert (await capacity.counts(services.db, KEY)).confirmed == 2


async def test_cancellation_offers_the_place_and_delivery_starts_the_window(services: Services) -> None:
    _, b, _, d, e = await _three_places_two_waiting(services)
    async with services.db.transaction() as conn:
        result = await capacity.cancel_seat(services, conn, KEY, b, now=START)
    assert result.outcome is CancelOutcome.CANCELLED
    assert [s.person_id for s in result.offers] == [d]
    assert await _state(services, d) is SeatState.OFFERED
    assert (await capacity.seat_of(services.db, KEY, e)).seq > 0
    # Until delivered, only the backstop (window + 12 h) is pending.
    [(_subject, due)] = await _pending(services, capacity.OFFER)
    assert due == START + timedelta(hours=14)
    services.clock.advance(timedelta(hours=1))  # the offer waited an hour in the outbox
    await _deliver_offers(services)
    [(_subject, due)] = await _pending(services, capacity.OFFER)
    assert due == START + timedelta(hours=3)
    async with services.db.transaction() as conn:
        now = services.clock.now()
        assert await capacity.confirm_offer(conn, KEY, d, now=now) is ConfirmOutcome.CONFIRMED
        assert await capacity.confirm_offer(conn, KEY, d, now=now) is ConfirmOutcome.ALREADY
    assert await _pending(services, capacity.OFFER) == []
    assert await _state(services, e) is SeatState.WAITLISTED


async def test_an_offer_not_confirmed_in_time_passes_to_the_next(services: Services) -> None:
    a, _, _, d, e = await _three_places_two_waiting(services)
    async with services.db.transaction() as conn:
        await capacity.cancel_seat(services, conn, KEY, a, now=START)
    await _deliver_offers(services)
    engine = TimerEngine(services)
    services.clock.advance(timedelta(hours=2, seconds=1))
    assert await engine.fire_due() == 1
    assert await _state(services, d) is SeatState.LAPSED
    assert await _state(services, e) is SeatState.OFFERED
    async with services.db.transaction() as conn:
        assert await capacity.confirm_offer(conn, KEY, d, now=services.clock.now()) is ConfirmOutcome.NO_OFFER


async def test_capacity_cannot_drop_below_held_places_and_raising_it_offers_them(services: Services) -> None:
    *_, d, e = await _three_places_two_waiting(services)
    async with services.db.transaction() as conn:
        refused = await capacity.set_capacity(services, conn, KEY, 2, now=START)
        raised = await capacity.set_capacity(services, conn, KEY, 5, now=START)
    assert refused.outcome is CapacityChange.BELOW_HELD and refused.lowest == 3
    assert raised.outcome is CapacityChange.CHANGED
    assert [s.person_id for s in raised.offers] == [d, e]


async def test_no_sign_up_or_cancellation_after_the_start(services: Services) -> None:
    a, b = await _people(services, 2)
    await _open(services, starts_in=timedelta(hours=1))
    await _sign_up(services, a)
    services.clock.advance(timedelta(hours=1))
    assert (await _sign_up(services, b)).outcome is SignUpOutcome.STARTED
    async with services.db.transaction() as conn:
        result = await capacity.cancel_seat(services, conn, KEY, a, now=services.clock.now())
    assert result.outcome is CancelOutcome.STARTED


async def test_reschedule_leaves_one_reminder_per_offset_at_the_new_time(services: Services) -> None:
    await _open(services)
    starts = START + timedelta(days=3)
    assert [due for _s, due in await _pending(services, capacity.REMINDER)] == [
        starts - timedelta(hours=2), starts - timedelta(hours=24)]
    new_start = starts + timedelta(days=2)
    async with services.db.transaction() as conn:
        await capacity.reschedule(conn, KEY, starts_at=new_start, ends_at=new_start + timedelta(hours=1),
                                  now=START)
    assert [due for _s, due in await _pending(services, capacity.REMINDER)] == [
        new_start - timedelta(hours=2), new_start - timedelta(hours=24)]
    # Moved so close that the 24-hour reminder's moment has passed: only the 2-hour one stays.
    soon = START + timedelta(hours=5)
    async with services.db.transaction() as conn:
        await capacity.reschedule(conn, KEY, starts_at=soon, ends_at=soon + timedelta(hours=1), now=START)
    assert [due for _s, due in await _pending(services, capacity.REMINDER)] == [soon - timedelta(hours=2)]


async def test_erasing_a_person_frees_their_place_for_the_queue(services: Services) -> None:
    a, b = await _people(services, 2)
    await _open(services, capacity_=1)
    await _sign_up(services, a)
    await _sign_up(services, b)
    async with services.db.transaction() as conn:
        await capacity.release_person(conn, a)
    assert await TimerEngine(services).fire_due() == 1
    assert await _state(services, b) is SeatState.OFFERED


async def test_signing_up_again_after_cancelling_goes_to_the_back(services: Services) -> None:
    a, b, c = await _people(services, 3)
    await _open(services, capacity_=1)
    for p in (a, b, c):
        await _sign_up(services, p)
    async with services.db.transaction() as conn:
        await capacity.cancel_seat(services, conn, KEY, b, now=START)
    again = await _sign_up(services, b)
    assert again.outcome is SignUpOutcome.WAITLISTED and again.position == 2

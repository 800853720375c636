"""Report use cases on a real store with a fake clock: routing, SLA clocks, the state machine, privacy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock, to_db
from bot.config import Settings
from bot.domain.people import Role
from bot.domain.reports import FixedAnswer, Outcome, ReportState
from bot.services import reports, tasks
from bot.services.container import Services
from bot.services.reports import Refused, ReportInput
from bot.storage import drafts, people
from bot.storage.db import Database
from bot.storage.drafts import Draft
from bot.timers.engine import TimerEngine
from tests.reports_street import Street, add_person, seed_street

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2025, 3, 3, 10, 0, tzinfo=TZ)


@dataclass
class World:
    services: Services
    clock: FakeClock
    street: Street
    resident: int
    worker1: int
    worker2: int
    part_timer: int
    lead: int
    organizer: int
    admin: int
    timers: TimerEngine
    _tg: int = 1000

    async def person(self, person_id: int):  # type: ignore[no-untyped-def]
        found = await people.by_id(self.services.db, person_id)
        assert found is not None
        return found

    async def draft(self, telegram_id: int) -> int:
        """A saved draft, as the /report flow leaves it before Confirm; returns its version."""
        async with self.services.db.transaction() as conn:
            saved = await drafts.save(
                conn, Draft(telegram_id=telegram_id, flow="report", step="summary"), self.clock.now()
            )
        return saved.version

    async def file(self, person_id: int, **fields: object) -> reports.Report:
        reporter = await self.person(person_id)
        assert reporter.telegram_id is not None
        version = await self.draft(reporter.telegram_id)
        data = ReportInput(
            **{
                "category": "lighting",
                "description": "The stair light is out",
                "building_id": self.street.building_a,
                **fields,
            }
        )
        filed = await reports.submit_report(
            self.services, reporter, data, telegram_id=reporter.telegram_id, draft_version=version
        )
        return filed.report

    async def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))
        await self.timers.fire_due()

    async def outbox(self, person_id: int) -> list[str]:
        rows = await self.services.db.fetch_all(
            "SELECT template FROM outbox WHERE person_id = ? ORDER BY id", (person_id,)
        )
        return [r[0] for r in rows]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(MONDAY)
    settings = Settings(_env_file=None, database_path=tmp_path / "t.db")  # type: ignore[call-arg]
    db = Database(settings.database_path)
    await db.open()
    await db.migrate()
    services = Services(settings=settings, db=db, clock=clock)
    now = clock.now()
    street = await seed_street(db, now)
    w = World(
        services,
        clock,
        street,
        resident=await add_person(
            db, now, telegram_id=1, name="Alice", building_id=street.building_a, phone="13800000001"
        ),
        worker1=await add_person(
            db, now, telegram_id=2, name="Wang", role=Role.GRID_WORKER, scope_id=street.north
        ),
        worker2=await add_person(
            db, now, telegram_id=3, name="Li", role=Role.GRID_WORKER, scope_id=street.north
        ),
        part_timer=await add_person(
            db, now, telegram_id=4, name="Zhao", role=Role.PART_TIME_WORKER, scope_id=street.north
        ),
        lead=await add_person(
            db, now, telegram_id=5, name="Chen", role=Role.SECRETARY, scope_id=street.north
        ),
        organizer=await add_person(
            db, now, telegram_id=6, name="Liu", role=Role.ORGANIZER, scope_id=street.community
        ),
        admin=await add_person(db, now, telegram_id=7, name="Sun", role=Role.ADMIN),
        timers=TimerEngine(services),
    )
    yield w
    await db.close()


async def test_report_goes_to_the_full_time_worker_with_fewest_open_tasks(world: World) -> None:
    first = await world.file(world.resident)
    second = await world.file(world.resident, description="Another light")
    assert first.number.startswith("R-2025-") and first.number.endswith("000001")
    assert second.number.endswith("000002")
    assert {first.assignee_id, second.assignee_id} == {world.worker1, world.worker2}
    assert first.state is ReportState.ASSIGNED
    assert first.accept_by is not None and first.fix_by is not None
    assert reports.TASK_TEMPLATE in await world.outbox(first.assignee_id)


async def test_report_in_a_grid_without_workers_goes_to_the_organizer_then_the_admin(world: World) -> None:
    report = await world.file(world.resident, building_id=world.street.building_s)
    assert report.assignee_id == world.organizer
    async with world.services.db.transaction() as conn:
        await conn.execute("DELETE FROM roles WHERE person_id = ?", (world.organizer,))
    report = await world.file(world.resident, building_id=world.street.building_s)
    assert report.assignee_id == world.admin


async def test_without_full_time_workers_the_part_timer_then_the_lead_gets_it(world: World) -> None:
    async with world.services.db.transaction() as conn:
        await conn.execute("DELETE FROM roles WHERE role = 'grid_worker'")
    assert (await world.file(world.resident)).assignee_id == world.part_timer
    async with world.services.db.transaction() as conn:
        await conn.execute("DELETE FROM roles WHERE role = 'part_time_worker'")
    assert (await world.file(world.resident)).assignee_id == world.lead


async def test_the_same_draft_files_one_report(world: World) -> None:
    reporter = await world.person(world.resident)
    version = await world.draft(1)
    data = ReportInput(category="lighting", description="x", building_id=world.street.building_a)
    await reports.submit_report(world.services, reporter, data, telegram_id=1, draft_version=version)
    with pytest.raises(Refused) as refused:
        await reports.submit_report(world.services, reporter, data, telegram_id=1, draft_version=version)
    assert refused.value.msgid == reports.ALREADY_FILED
    assert await world.services.db.fetch_value("SELECT COUNT(*) FROM reports") == 1


async def test_more_than_the_hourly_limit_is_refused(world: World) -> None:
    for _ in range(world.services.settings.reports_per_hour):
        await world.file(world.resident)
    with pytest.raises(Refused) as refused:
        await world.file(world.resident)
    assert refused.value.msgid == reports.TOO_MANY
    await world.advance(hours=1, minutes=1)
    await world.file(world.resident)


async def _timers(world: World, report_id: int) -> dict[str, str]:
    rows = await world.services.db.fetch_all(
        "SELECT kind, due_at FROM timers WHERE subject = ? AND state = 'pending'", (str(report_id),)
    )
    return {r["kind"]: r["due_at"] for r in rows}


async def test_friday_evening_report_counts_working_hours_from_monday(world: World) -> None:
    world.clock.set(datetime(2025, 3, 7, 17, 50, tzinfo=TZ))
    report = await world.file(world.resident)
    pending = await _timers(world, report.id)
    # Lighting: sign for within 4 working hours, reminder half-way: Monday 11:00 and 13:00.
    assert pending[reports.ACCEPT_REMIND] == to_db(datetime(2025, 3, 10, 11, 0, tzinfo=TZ))
    assert pending[reports.ACCEPT_DUE] == to_db(datetime(2025, 3, 10, 13, 0, tzinfo=TZ))


async def test_urgent_report_counts_round_the_clock(world: World) -> None:
    world.clock.set(datetime(2025, 3, 7, 17, 50, tzinfo=TZ))
    report = await world.file(world.resident, category="leak", urgent=True)
    assert (await _timers(world, report.id))[reports.ACCEPT_DUE] == to_db(
        datetime(2025, 3, 7, 19, 50, tzinfo=TZ)
    )


async def test_urgent_is_refused_for_a_category_that_does_not_allow_it(world: World) -> None:
    with pytest.raises(Refused):
        await world.file(world.resident, category="greenery", urgent=True)


async def test_accepting_stops_the_sign_for_clock_and_reminders_are_dropped(world: World) -> None:
    report = await world.file(world.resident)
    worker = await world.person(report.assignee_id)  # type: ignore[arg-type]
    accepted = await tasks.accept(world.services, worker, report.id)
    assert accepted.state is ReportState.ACCEPTED and accepted.accepted_at == world.clock.now()
    assert set(await _timers(world, report.id)) == {reports.FIX_REMIND, reports.FIX_DUE}
    with pytest.raises(Refused):
        await tasks.accept(world.services, worker, report.id)


async def test_a_stranger_cannot_act_on_a_task(world: World) -> None:
    report = await world.file(world.resident)
    other = world.worker2 if report.assignee_id == world.worker1 else world.worker1
    with pytest.raises(Refused):
        await tasks.accept(world.services, await world.person(other), report.id)
    with pytest.raises(Refused):
        await tasks.accept(world.services, await world.person(world.resident), report.id)
    assert (await reports.get(world.services, report.id)).state is ReportState.ASSIGNED  # type: ignore[union-attr]


async def test_not_mine_goes_to_the_lead_who_reassigns(world: World) -> None:
    report = await world.file(world.resident)
    first = await world.person(report.assignee_id)  # type: ignore[arg-type]
    handed = await tasks.hand_back(world.services, first, report.id, "Not my building")
    assert handed.state is ReportState.TRANSFERRED and handed.assignee_id is None
    assert any("handed back" in t for t in await world.outbox(world.lead))
    lead = await world.person(world.lead)
    choices = [p for p, _name, _role in await tasks.assignable(world.services, lead, report.id)]
    assert world.part_timer in choices
    moved = await tasks.reassign(world.services, lead, report.id, world.part_timer)
    assert moved.state is ReportState.ASSIGNED and moved.assignee_id == world.part_timer
    with pytest.raises(Refused):
        await tasks.reassign(world.services, first, report.id, world.worker1)


async def test_resolve_no_reopen_resolve_yes_rating(world: World) -> None:
    report = await world.file(world.resident)
    worker = await world.person(report.assignee_id)  # type: ignore[arg-type]
    alice = await world.person(world.resident)
    await tasks.accept(world.services, worker, report.id)
    with pytest.raises(Refused):
        await tasks.resolve(world.services, worker, report.id, "Replaced the bulb", None)
    await tasks.resolve(world.services, worker, report.id, "Replaced the bulb", "after-photo-1")
    with pytest.raises(Refused):
        await reports.rate(world.services, alice, report.id, 5)
    reopened = await reports.answer_fixed(world.services, alice, report.id, FixedAnswer.NO)
    assert reopened.state is ReportState.REOPENED and reopened.reopen_count == 1
    await tasks.resolve(world.services, worker, report.id, "Replaced the switch too", "after-photo-2")
    closed = await reports.answer_fixed(world.services, alice, report.id, FixedAnswer.YES)
    assert closed.state is ReportState.CLOSED and closed.outcome is Outcome.CONFIRMED_FIXED
    await reports.rate(world.services, alice, report.id, 4)
    await reports.comment_rating(world.services, alice, report.id, "Quick, thanks")
    assert await reports.rating(world.services, report.id) == (4, "Quick, thanks")
    kinds = [e.kind for e in await reports.timeline(world.services, report.id)]
    assert kinds == [
        "filed",
        "assigned",
        "accepted",
        "resolved",
        "reopened",
        "resolved",
        "confirmed_fixed",
        "rated",
    ]


async def test_delivery_starts_the_72_hour_window(world: World) -> None:
    report = await world.file(world.resident)
    worker = await world.person(report.assignee_id)  # type: ignore[arg-type]
    await tasks.accept(world.services, worker, report.id)
    await tasks.resolve(world.services, worker, report.id, "Done", "photo")
    assert reports.VERIFY_DUE not in await _timers(world, report.id)
    delivered = world.clock.now() + timedelta(hours=10)
    async with world.services.db.transaction() as conn:
        await reports._on_verify_delivered(conn, report.id, delivered)
        await reports._on_verify_delivered(conn, report.id, delivered + timedelta(hours=1))
    assert (await _timers(world, report.id))[reports.VERIFY_DUE] == to_db(delivered + timedelta(hours=72))
    await world.advance(hours=81)
    assert (await reports.get(world.services, report.id)).state is ReportState.RESOLVED  # type: ignore[union-attr]
    await world.advance(hours=1, minutes=1)
    closed = await reports.get(world.services, report.id)
    assert closed is not None and closed.state is ReportState.CLOSED_UNVERIFIED
    assert closed.outcome is Outcome.UNVERIFIED
    assert reports.RATE_TEMPLATE in await world.outbox(world.resident)


async def test_overdue_sign_for_notifies_the_lead_and_fix_overdue_escalates(world: World) -> None:
    report = await world.file(world.resident)
    await world.advance(hours=2)
    assert any("waiting for you to accept" in t for t in await world.outbox(report.assignee_id))  # type: ignore[arg-type]
    await world.advance(hours=2)
    assert any("not accepted in time" in t for t in await world.outbox(world.lead))
    assert not any("not accepted in time" in t for t in await world.outbox(world.organizer))
    await world.advance(days=7)
    assert any("not fixed in time" in t for t in await world.outbox(world.lead))
    assert any("not fixed in time" in t for t in await world.outbox(world.organizer))


async def test_merge_moves_followers_and_closes_the_duplicate(world: World) -> None:
    bob = await add_person(
        world.services.db, world.clock.now(), telegram_id=11, name="Bob", building_id=world.street.building_a
    )
    original = await world.file(world.resident)
    duplicate = await world.file(bob)
    lead = await world.person(world.lead)
    merged = await tasks.merge(world.services, lead, duplicate.id, original.id)
    assert merged.state is ReportState.DUPLICATE and merged.duplicate_of == original.id
    target = await reports.get(world.services, original.id)
    assert target is not None and target.affected_count == 2
    assert await reports.store.followers(world.services.db, original.id) == [bob]


async def test_anonymous_report_hides_the_reporter_from_the_worker(world: World) -> None:
    report = await world.file(world.resident, anonymous=True)
    worker = await world.person(report.assignee_id)  # type: ignore[arg-type]
    with pytest.raises(Refused):
        await tasks.contact(world.services, worker, report.id)
    params = await world.services.db.fetch_value(
        "SELECT params FROM outbox WHERE person_id = ? AND template = ?", (worker.id, reports.TASK_TEMPLATE)
    )
    assert "Alice" not in params and "13800000001" not in params
    with pytest.raises(Refused):
        await tasks.reveal(world.services, worker, report.id, "curious")
    revealed = await tasks.reveal(
        world.services, await world.person(world.admin), report.id, "Court order 12"
    )
    assert "Alice" in revealed
    audit = await world.services.db.fetch_all(
        "SELECT action, detail FROM audit_log WHERE action LIKE 'report.%'"
    )
    assert [(a["action"], a["detail"]) for a in audit] == [("report.identity_reveal", "Court order 12")]


async def test_contact_details_are_logged_each_time(world: World) -> None:
    report = await world.file(world.resident)
    worker = await world.person(report.assignee_id)  # type: ignore[arg-type]
    assert await tasks.contact(world.services, worker, report.id) == ("Alice", "13800000001")
    await tasks.contact(world.services, worker, report.id)
    actions = [r[0] for r in await world.services.db.fetch_all("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["report.contact_sent", "report.contact_view", "report.contact_view"]


async def test_withdraw_only_before_acceptance(world: World) -> None:
    alice = await world.person(world.resident)
    report = await world.file(world.resident)
    withdrawn = await reports.withdraw(world.services, alice, report.id)
    assert withdrawn.outcome is Outcome.WITHDRAWN and not await _timers(world, report.id)
    second = await world.file(world.resident)
    await tasks.accept(world.services, await world.person(second.assignee_id), second.id)  # type: ignore[arg-type]
    with pytest.raises(Refused):
        await reports.withdraw(world.services, alice, second.id)


async def test_relay_question_and_answer(world: World) -> None:
    report = await world.file(world.resident, anonymous=True)
    worker = await world.person(report.assignee_id)  # type: ignore[arg-type]
    await tasks.ask_reporter(world.services, worker, report.id, "Which floor?")
    question_id = await world.services.db.fetch_value("SELECT id FROM report_questions")
    alice = await world.person(world.resident)
    await reports.answer_question(world.services, alice, question_id, "Third floor")
    with pytest.raises(Refused):
        await reports.answer_question(world.services, alice, question_id, "again")
    assert any("answered" in t for t in await world.outbox(worker.id))


async def test_not_ours_closes_with_a_reason_and_asks_for_a_rating(world: World) -> None:
    report = await world.file(world.resident)
    closed = await tasks.not_ours(
        world.services, await world.person(world.lead), report.id, "Call the gas company"
    )
    assert closed.outcome is Outcome.NOT_OURS and closed.outcome_reason == "Call the gas company"
    assert reports.RATE_TEMPLATE in await world.outbox(world.resident)


async def test_erasing_a_reporter_keeps_the_report_without_them(world: World) -> None:
    from bot.services import accounts

    report = await world.file(world.resident)
    await accounts.erase(world.services, await world.person(world.resident))
    kept = await reports.get(world.services, report.id)
    assert kept is not None and kept.reporter_id is None and kept.description == "" and kept.anonymous

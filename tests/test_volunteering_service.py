"""Volunteering use cases against a real store: publishing, signing up, attendance, hours and exports."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.delivery.outbox import Lane
from bot.domain.capacity import SeatState, SignUpOutcome
from bot.domain.people import Person, Role, Scope, ScopeKind
from bot.domain.volunteering import Availability, ServiceStatus, Skill, parse_end, parse_hours, parse_start
from bot.i18n import translator
from bot.services import accounts
from bot.services import volunteering as vol
from bot.services.container import Services
from bot.storage import people
from bot.timers.engine import TimerEngine
from tests.support.storage import migrated_database

START = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
COMMUNITY_1 = Scope(kind=ScopeKind.COMMUNITY, id=1)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    async with migrated_database(tmp_path / "t.db") as db:
        settings = Settings(_env_file=None, database_path=tmp_path / "t.db")  # type: ignore[call-arg]
        yield Services(settings=settings, db=db, clock=FakeClock(START))


class Street:
    """Two communities, a grid each, a building each; an organizer of the first community."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.ids = iter(range(1000, 2000))

    async def build(self) -> Street:
        async with self.services.db.transaction() as conn:
            for n in (1, 2):
                await conn.execute("INSERT INTO communities (id, code, name) VALUES (?, ?, ?)",
                                   (n, f"C{n}", f"社区{n}"))
                await conn.execute("INSERT INTO grids (id, code, community_id, name) VALUES (?, ?, ?, ?)",
                                   (n, f"G{n}", n, f"网格{n}"))
                await conn.execute("INSERT INTO buildings (id, code, grid_id, name) VALUES (?, ?, ?, ?)",
                                   (n, f"B{n}", n, f"{n}号楼"))
        self.organizer = await self.person("Olga", roles=[(Role.ORGANIZER, COMMUNITY_1)])
        return self

    async def person(self, name: str, *, building: int = 1, roles: list[tuple[Role, Scope]] = ()) -> Person:
        async with self.services.db.transaction() as conn:
            person_id = await people.insert(conn, now=START, telegram_id=next(self.ids), name=name,
                                            building_id=building, unit="1-101")
            await conn.execute("UPDATE people SET onboarded_at = created_at WHERE id = ?", (person_id,))
            for role, scope in roles:
                await people.grant(conn, person_id, role, scope, START)
        found = await people.by_id(self.services.db, person_id)
        assert found is not None
        return found

    async def volunteer(self, name: str, *, building: int = 1) -> Person:
        person = await self.person(name, building=building)
        assert await vol.join(self.services, person, [Skill.GENERAL], [Availability.WEEKENDS]) is \
            vol.JoinOutcome.JOINED
        found = await people.by_id(self.services.db, person.id)
        assert found is not None
        return found

    async def publish(self, *, places: int = 3, starts_in: timedelta = timedelta(days=3),
                      scope: Scope | None = None, hours: float = 2, points: int = 10) -> int:
        starts = START + starts_in
        result = await vol.publish(self.services, self.organizer, vol.NewOpportunity(
            title="清洁楼道 <b>&", description="Sweep the stairs", scope=scope or COMMUNITY_1,
            place="1号楼", starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=places,
            skills=[Skill.CLEANING], hours=hours, points=points,
        ))
        assert isinstance(result, vol.Published)
        return result.opportunity_id


async def _outbox(services: Services) -> list[dict[str, object]]:
    return [dict(r) for r in await services.db.fetch_all("SELECT * FROM outbox ORDER BY id")]


def test_guided_answers_are_read_in_the_street_timezone() -> None:
    tz = Settings(_env_file=None).tz  # type: ignore[call-arg]
    start = parse_start("5月10日 9:30", START, tz)
    assert start is not None and start.astimezone(tz).strftime("%Y-%m-%d %H:%M") == "2025-05-10 09:30"
    assert parse_start("2026-01-02 18:00", START, tz) == datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    assert parse_start("1/5 9:00", START, tz).year == 2026  # type: ignore[union-attr]
    assert parse_start("tomorrow", START, tz) is None and parse_start("13-45 9:00", START, tz) is None
    assert parse_end("11:00", start, START, tz) == start + timedelta(minutes=90)  # type: ignore[operator]
    assert parse_hours("2.5小时") == 2.5 and parse_hours("0") is None and parse_hours("99") is None


async def test_publishing_announces_in_bulk_to_the_volunteers_of_that_community(services: Services) -> None:
    street = await Street(services).build()
    near = await street.volunteer("Near", building=1)
    await street.volunteer("Far", building=2)
    await street.person("NotAVolunteer", building=1)
    opportunity_id = await street.publish()
    rows = await _outbox(services)
    assert [(r["person_id"], r["lane"]) for r in rows] == [(near.id, Lane.BULK)]
    assert str(opportunity_id) in str(rows[0]["buttons"])


async def test_only_managers_of_the_scope_may_publish(services: Services) -> None:
    street = await Street(services).build()
    other = await street.person("Otto", roles=[(Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=2))])
    starts = START + timedelta(days=1)
    new = vol.NewOpportunity(title="t", description="", scope=COMMUNITY_1, place="p", starts_at=starts,
                             ends_at=starts + timedelta(hours=1), capacity=1, skills=[], hours=1, points=0)
    assert await vol.publish(services, other, new) is vol.PublishRefusal.NOT_ALLOWED
    past = new.model_copy(update={"starts_at": START - timedelta(hours=1)})
    assert await vol.publish(services, street.organizer, past) is vol.PublishRefusal.PAST


async def test_sign_up_needs_a_volunteer_of_that_community_and_warns_of_overlaps(services: Services) -> None:
    street = await Street(services).build()
    first = await street.publish()
    second = await street.publish(starts_in=timedelta(days=3, hours=1))
    resident = await street.person("Rita")
    far = await street.volunteer("Far", building=2)
    vera = await street.volunteer("Vera")
    assert (await vol.sign_up(services, resident, first)).outcome is vol.Refusal.NOT_VOLUNTEER
    assert (await vol.sign_up(services, far, first)).outcome is vol.Refusal.NOT_ELIGIBLE
    assert (await vol.sign_up(services, vera, 999)).outcome is vol.Refusal.NOT_FOUND
    assert (await vol.sign_up(services, vera, first)).outcome is SignUpOutcome.CONFIRMED
    warned = await vol.sign_up(services, vera, second)
    assert warned.outcome is None and warned.overlaps == ["清洁楼道 <b>&"]
    assert (await vol.sign_up(services, vera, second, accept_overlap=True)).outcome is SignUpOutcome.CONFIRMED


async def test_attendance_hours_and_points(services: Services) -> None:
    street = await Street(services).build()
    opportunity_id = await street.publish(hours=2.5, points=10)
    came, missed, coded = [await street.volunteer(n) for n in ("Came", "Missed", "Coded")]
    for person in (came, missed, coded):
        await vol.sign_up(services, person, opportunity_id)
    code = await vol.check_in_code(services, coded, opportunity_id)
    assert code is not None and len(code) == 6
    assert await vol.check_in_code(services, coded, opportunity_id) == code
    roster = await vol.roster(services, street.organizer, opportunity_id)
    assert roster is not None
    seat = {line.name: line.seat_id for line in roster.lines}
    # Too early: check-in opens two hours before the start.
    early = await vol.check_in(services, street.organizer, opportunity_id, seat_id=seat["Came"])
    assert early.outcome is vol.CheckIn.TOO_EARLY
    services.clock.advance(timedelta(days=3))  # the activity starts
    assert (await vol.check_in(services, street.organizer, opportunity_id, seat_id=seat["Came"])).outcome is \
        vol.CheckIn.DONE
    assert (await vol.check_in(services, street.organizer, opportunity_id, seat_id=seat["Came"])).outcome is \
        vol.CheckIn.ALREADY
    by_code = await vol.check_in(services, street.organizer, opportunity_id, code=code)
    assert (by_code.outcome, by_code.name) == (vol.CheckIn.DONE, "Coded")
    assert (await vol.check_in(services, street.organizer, opportunity_id, code=code)).outcome is \
        vol.CheckIn.ALREADY
    assert (await vol.check_in(services, street.organizer, opportunity_id, code="000000")).outcome in {
        vol.CheckIn.UNKNOWN_CODE, vol.CheckIn.ALREADY}
    assert (await vol.mark_no_show(services, street.organizer, opportunity_id, seat["Missed"])).outcome is \
        vol.CheckIn.DONE
    again = await vol.check_in(services, street.organizer, opportunity_id, seat_id=seat["Missed"])
    assert again.outcome is vol.CheckIn.ALREADY
    # Attended: hours pending, no points yet.
    summary, _entries = await vol.my_hours(services, came)
    assert (summary.verified_hours, summary.pending_hours, summary.points) == (0, 2.5, 0)
    assert await vol.verify(services, street.organizer, opportunity_id, [seat["Came"]]) == 1
    assert await vol.verify(services, street.organizer, opportunity_id) == 1  # the rest: Coded
    assert await vol.verify(services, street.organizer, opportunity_id) == 0
    summary, entries = await vol.my_hours(services, came)
    assert (summary.verified_hours, summary.points, entries[0].status) == (2.5, 10, ServiceStatus.VERIFIED)
    summary, entries = await vol.my_hours(services, missed)
    assert (summary.verified_hours, summary.points, entries[0].status) == (0, 0, ServiceStatus.NO_SHOW)
    verified_pushes = [r for r in await _outbox(services) if "verified" in str(r["template"])]
    assert sorted(r["person_id"] for r in verified_pushes) == sorted([came.id, coded.id])


async def test_someone_else_cannot_manage_the_activity(services: Services) -> None:
    street = await Street(services).build()
    opportunity_id = await street.publish()
    vera = await street.volunteer("Vera")
    await vol.sign_up(services, vera, opportunity_id)
    lead_elsewhere = await street.person("Lee", roles=[(Role.SECRETARY, Scope(kind=ScopeKind.GRID, id=2))])
    assert await vol.roster(services, lead_elsewhere, opportunity_id) is None
    assert await vol.change_capacity(services, vera, opportunity_id, 10) is None
    assert await vol.verify(services, vera, opportunity_id) is None
    refused = await vol.cancel_opportunity(services, lead_elsewhere, opportunity_id)
    assert refused is vol.ChangeOutcome.NOT_ALLOWED
    assert await vol.export_hours(services, vera, translator("en"), opportunity_id) is None


async def test_hours_csv_opens_in_excel_and_the_service_record_names_everything(services: Services) -> None:
    street = await Street(services).build()
    opportunity_id = await street.publish(points=7)
    vera = await street.volunteer("=Vera")
    await vol.sign_up(services, vera, opportunity_id)
    assert await vol.service_record(services, vera, translator("en")) is None
    roster = await vol.roster(services, street.organizer, opportunity_id)
    assert roster is not None
    services.clock.advance(timedelta(days=3))
    await vol.check_in(services, street.organizer, opportunity_id, seat_id=roster.lines[0].seat_id)
    await vol.verify(services, street.organizer, opportunity_id)
    document = await vol.export_hours(services, street.organizer, translator("zh_Hans"))
    assert document is not None and document.filename.endswith(".csv")
    assert document.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(document.content.decode("utf-8-sig"))))
    assert rows[1][0] == "清洁楼道 <b>&" and rows[1][2] == "'=Vera" and rows[1][4:6] == ["2", "7"]
    record = await vol.service_record(services, vera, translator("en"))
    assert record is not None
    text = record.content.decode("utf-8")
    expected_parts = ("VR-2025-000001", "=Vera", "清洁楼道 &lt;b&gt;&amp;", "街道志愿服务站", "2025-03-06",
                      "Olga")
    for expected in expected_parts:
        assert expected in text
    again = await vol.service_record(services, vera, translator("en"))
    assert again is not None and "VR-2025-000002" in again.filename


async def test_erasing_a_volunteer_passes_their_place_on(services: Services) -> None:
    street = await Street(services).build()
    opportunity_id = await street.publish(places=1)
    vera, wanda = await street.volunteer("Vera"), await street.volunteer("Wanda")
    await vol.sign_up(services, vera, opportunity_id)
    await vol.sign_up(services, wanda, opportunity_id)
    exported = await accounts.export_my_data(services, vera)
    assert b"volunteering" in exported and "清洁楼道".encode() in exported
    await accounts.erase(services, vera)
    await TimerEngine(services).fire_due()
    card = await vol.card(services, wanda, opportunity_id)
    assert card is not None and card.seat is not None and card.seat.state is SeatState.OFFERED
    assert await vol.volunteer(services, vera) is None

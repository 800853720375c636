"""A grid team for the grid-operations tests, on the small street of tests/reports_street.py.

North has a full-time worker (Wang), a part-time worker (Zhou) and a team lead (Chen); South has nobody,
so its reports go to the community's organizer (Liu). Sun is the street admin. Alice and Bob live in
building A (North), Carol in building S (South); none of the residents is verified yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.people import Person as Profile
from bot.domain.people import Role
from bot.domain.reports import Report
from bot.services import reports as report_service
from bot.services.reports import ReportInput
from bot.storage import drafts, people
from bot.storage.drafts import Draft
from tests.reports_street import Street, add_person, seed_street
from tests.support.people import BotHarness, Person

TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Team:
    h: BotHarness
    street: Street
    alice: Person
    bob: Person
    carol: Person
    wang: Person
    zhou: Person
    chen: Person
    liu: Person
    sun: Person
    ids: dict[str, int]

    async def profile(self, name: str) -> Profile:
        found = await people.by_id(self.h.services.db, self.ids[name])
        assert found is not None
        return found

    async def file(self, name: str, **fields: object) -> Report:
        """A report filed by `name` as the /report flow would (a saved draft, then confirm)."""
        reporter = await self.profile(name)
        assert reporter.telegram_id is not None
        async with self.h.services.db.transaction() as conn:
            draft = await drafts.save(
                conn, Draft(telegram_id=reporter.telegram_id, flow="report", step="summary"), self.h.clock.now()
            )
        data = ReportInput(
            **{"category": "lighting", "description": "Stair light out", "building_id": self.street.building_a,
               **fields}
        )
        filed = await report_service.submit_report(
            self.h.services, reporter, data, telegram_id=reporter.telegram_id, draft_version=draft.version
        )
        await self.h.settle()
        return filed.report

    async def report(self, report_id: int) -> Report:
        found = await report_service.get(self.h.services, report_id)
        assert found is not None
        return found

    async def advance_to(self, moment: datetime, *, step: timedelta | None = None) -> None:
        """Move the fake clock forward to `moment` (street time), firing what falls due on the way."""
        await self.h.advance(step=step, seconds=(moment - self.h.clock.now()).total_seconds())


async def team_of(h: BotHarness) -> Team:
    now = h.clock.now()
    db = h.services.db
    street = await seed_street(db, now)
    names = ("Alice", "Bob", "Carol", "Wang", "Zhou", "Chen", "Liu", "Sun")
    alice, bob, carol, wang, zhou, chen, liu, sun = (h.person(n, "en") for n in names)
    ids = {
        "alice": await add_person(db, now, telegram_id=alice.id, name="Alice Ng", building_id=street.building_a,
                                  phone="13800000001"),
        "bob": await add_person(db, now, telegram_id=bob.id, name="Bob Wu", building_id=street.building_a,
                                phone="13800000002"),
        "carol": await add_person(db, now, telegram_id=carol.id, name="Carol Li", building_id=street.building_s,
                                  phone="13800000003"),
        "wang": await add_person(db, now, telegram_id=wang.id, name="Wang", role=Role.GRID_WORKER,
                                 scope_id=street.north),
        "zhou": await add_person(db, now, telegram_id=zhou.id, name="Zhou", role=Role.PART_TIME_WORKER,
                                 scope_id=street.north),
        "chen": await add_person(db, now, telegram_id=chen.id, name="Chen", role=Role.SECRETARY,
                                 scope_id=street.north),
        "liu": await add_person(db, now, telegram_id=liu.id, name="Liu", role=Role.ORGANIZER,
                                scope_id=street.community),
        "sun": await add_person(db, now, telegram_id=sun.id, name="Sun", role=Role.ADMIN),
    }
    return Team(h, street, alice, bob, carol, wang, zhou, chen, liu, sun, ids)


def texts(person: Person) -> str:
    return "\n---\n".join(m.text for m in person.inbox)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)

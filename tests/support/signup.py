"""People who have already signed up, for scenarios that start where onboarding ends."""

from __future__ import annotations

from datetime import datetime

from bot.domain.people import Role, Scope, ScopeKind
from bot.storage import people
from bot.storage.db import Database
from tests.support.people import Person


async def signed_up(
    db: Database,
    now: datetime,
    person: Person,
    *,
    name: str,
    building: int | None = None,
    unit: str = "1-101",
    verified: bool = False,
    role: tuple[Role, Scope] | None = None,
) -> int:
    """Store `person` as onboarded and consenting, with a home in `building` (which makes them a resident,
    verified or not) and one more role if given; returns their person id."""
    async with db.transaction() as conn:
        person_id = await people.insert(
            conn, now=now, telegram_id=person.id, name=name, locale="en", building_id=building,
            unit=unit if building else None, verification="verified" if verified and building else "unverified",
        )
        await conn.execute(
            "UPDATE people SET onboarded_at = created_at, consent_at = created_at WHERE id = ?", (person_id,)
        )
        if building:
            await people.grant(conn, person_id, Role.RESIDENT, Scope(kind=ScopeKind.STREET), now)
        if role:
            await people.grant(conn, person_id, role[0], role[1], now)
    return person_id

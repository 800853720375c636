"""Signing up: link a Telegram account to a person (new, invited or imported) and their home."""

from __future__ import annotations

import re

from pydantic import BaseModel

from bot.clock import to_db
from bot.domain.people import Person, Role, Scope, ScopeKind, normalize_phone
from bot.services.container import Services
from bot.storage import drafts, people

UNIT_MAX = 20
RESIDENT_SCOPE = Scope(kind=ScopeKind.STREET)


class Signup(BaseModel):
    telegram_id: int
    name: str
    username: str | None
    locale: str
    building_id: int | None = None
    unit: str | None = None
    phone: str | None = None
    draft_version: int


def clean_unit(text: str) -> str | None:
    """A unit like '3-201' or '2单元1203': one line, 1–20 characters; None when unusable."""
    unit = re.sub(r"\s+", " ", text).strip()
    return unit if 0 < len(unit) <= UNIT_MAX else None


async def complete_signup(services: Services, signup: Signup) -> Person | None:
    """Create or link the person in one transaction; None when the draft was already used."""
    now = services.clock.now()
    phone = normalize_phone(signup.phone) if signup.phone else None
    async with services.db.transaction() as conn:
        if not await drafts.clear(conn, signup.telegram_id, version=signup.draft_version):
            return None
        row = await (await conn.execute(
            "SELECT id, building_id, verification FROM people WHERE telegram_id = ? AND erased_at IS NULL",
            (signup.telegram_id,),
        )).fetchone()
        if row is None and phone:
            row = await (await conn.execute(
                "SELECT id, building_id, verification FROM people WHERE phone = ? AND telegram_id IS NULL "
                "AND erased_at IS NULL ORDER BY id LIMIT 1",
                (phone,),
            )).fetchone()
        if row is None:
            person_id = await people.insert(
                conn, now=now, telegram_id=signup.telegram_id, name=signup.name, username=signup.username,
                phone=phone, locale=signup.locale, building_id=signup.building_id, unit=signup.unit,
            )
        else:
            person_id = row["id"]
            keeps_verified_home = row["verification"] == "verified" and (
                signup.building_id is None or signup.building_id == row["building_id"]
            )
            await conn.execute(
                "UPDATE people SET telegram_id = ?, username = ?, locale = ?, "
                "name = CASE WHEN name = '' THEN ? ELSE name END, phone = COALESCE(?, phone), "
                "building_id = COALESCE(?, building_id), unit = CASE WHEN ? THEN unit ELSE COALESCE(?, unit) END, "
                "verification = CASE WHEN ? THEN verification ELSE 'unverified' END WHERE id = ?",
                (signup.telegram_id, signup.username, signup.locale, signup.name, phone, signup.building_id,
                 keeps_verified_home, signup.unit, keeps_verified_home or signup.building_id is None, person_id),
            )
        await conn.execute(
            "UPDATE people SET consent_at = ?, onboarded_at = ? WHERE id = ?", (to_db(now), to_db(now), person_id)
        )
        has_home = await (await conn.execute(
            "SELECT building_id IS NOT NULL FROM people WHERE id = ?", (person_id,)
        )).fetchone()
        if has_home and has_home[0]:
            await people.grant(conn, person_id, Role.RESIDENT, RESIDENT_SCOPE, now)
    return await people.by_id(services.db, person_id)


async def change_home(services: Services, person: Person, building_id: int, unit: str) -> Person:
    """Moving building (or unit) makes the resident unverified again until a grid worker confirms."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        await conn.execute(
            "UPDATE people SET building_id = ?, unit = ?, verification = 'unverified', verified_by = NULL, "
            "verified_at = NULL WHERE id = ?",
            (building_id, unit, person.id),
        )
        await people.grant(conn, person.id, Role.RESIDENT, RESIDENT_SCOPE, now)
        await drafts.clear(conn, person.telegram_id or 0)
    updated = await people.by_id(services.db, person.id)
    assert updated is not None
    return updated


async def set_phone(services: Services, person: Person, phone: str | None) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            "UPDATE people SET phone = ? WHERE id = ?", (normalize_phone(phone) if phone else None, person.id)
        )
        await drafts.clear(conn, person.telegram_id or 0)


async def set_locale(services: Services, person: Person, locale: str) -> None:
    async with services.db.transaction() as conn:
        await people.set_locale(conn, person.id, locale)

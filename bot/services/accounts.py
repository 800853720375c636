"""A person's own data: everything stored about them (/mydata) and erasure (/deleteme).

Each feature that stores personal data registers what it holds and how to erase it, so these two
stay complete as features are added without this module knowing their tables.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from bot.clock import to_db
from bot.delivery import outbox
from bot.domain.people import Person
from bot.services.container import Services
from bot.storage import people
from bot.storage.db import Connection, Database

Exporter = Callable[[Database, int], Awaitable[list[dict[str, Any]]]]
Eraser = Callable[[Connection, int], Awaitable[None]]
_EXPORTERS: dict[str, Exporter] = {}
_ERASERS: dict[str, Eraser] = {}


def register_personal_data(section: str, exporter: Exporter, eraser: Eraser) -> None:
    """`exporter` lists a person's rows for /mydata; `eraser` removes or anonymises them."""
    _EXPORTERS[section] = exporter
    _ERASERS[section] = eraser


async def _rows(db: Database, sql: str, person_id: int) -> list[dict[str, Any]]:
    return [dict(row) for row in await db.fetch_all(sql, (person_id,))]


async def _export_profile(db: Database, person_id: int) -> list[dict[str, Any]]:
    return await _rows(
        db,
        "SELECT p.telegram_id, p.name, p.username, p.phone, p.locale, b.name AS building, p.unit, "
        "p.verification, p.consent_at, p.onboarded_at, p.created_at FROM people p "
        "LEFT JOIN buildings b ON b.id = p.building_id WHERE p.id = ?",
        person_id,
    )


async def _export_roles(db: Database, person_id: int) -> list[dict[str, Any]]:
    return await _rows(db, "SELECT role, scope_kind, scope_id, granted_at FROM roles WHERE person_id = ?", person_id)


async def _export_drafts(db: Database, person_id: int) -> list[dict[str, Any]]:
    return await _rows(
        db,
        "SELECT d.flow, d.step, d.data, d.updated_at FROM drafts d JOIN people p ON p.telegram_id = d.telegram_id "
        "WHERE p.id = ?",
        person_id,
    )


async def _erase_drafts(conn: Connection, person_id: int) -> None:
    await conn.execute(
        "DELETE FROM drafts WHERE telegram_id = (SELECT telegram_id FROM people WHERE id = ?)", (person_id,)
    )


async def _erase_roles(conn: Connection, person_id: int) -> None:
    await conn.execute("DELETE FROM roles WHERE person_id = ?", (person_id,))


async def _keep(conn: Connection, person_id: int) -> None:
    """The profile itself is anonymised last, by `erase`."""


register_personal_data("profile", _export_profile, _keep)
register_personal_data("roles", _export_roles, _erase_roles)
register_personal_data("drafts", _export_drafts, _erase_drafts)
# Every feature pushes through the outbox, so its section is registered with the core ones, here.
register_personal_data("queued_messages", outbox.export_person, outbox.erase_person)


async def export_my_data(services: Services, person: Person) -> bytes:
    """Everything stored about the person, as a readable JSON document."""
    document = {section: await exporter(services.db, person.id) for section, exporter in _EXPORTERS.items()}
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")


async def erase(services: Services, person: Person) -> None:
    """Erase personal data in one transaction; rows others rely on (reports) stay, anonymised."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        for eraser in _ERASERS.values():
            await eraser(conn, person.id)
        await conn.execute(
            "UPDATE people SET telegram_id = NULL, name = '', username = NULL, phone = NULL, locale = NULL, "
            "building_id = NULL, unit = NULL, verification = 'unverified', consent_at = NULL, "
            "onboarded_at = NULL, erased_at = ? WHERE id = ?",
            (to_db(now), person.id),
        )
        await people.audit(conn, now, None, "person.erase", str(person.id))

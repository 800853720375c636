"""People and their roles."""

from __future__ import annotations

from datetime import datetime

from bot.clock import to_db
from bot.domain.people import Person, Role, RoleGrant, Scope, ScopeKind
from bot.storage.db import Connection, Database, Reader, Row

_PERSON_COLUMNS = (
    "p.id, p.telegram_id, p.name, p.username, p.phone, p.locale, p.building_id, p.unit, p.verification, "
    "p.onboarded_at IS NOT NULL AS onboarded, p.unreachable_at IS NOT NULL AS unreachable"
)


def _person(row: Row, grants: list[RoleGrant]) -> Person:
    return Person(
        id=row["id"], telegram_id=row["telegram_id"], name=row["name"], username=row["username"],
        phone=row["phone"], locale=row["locale"], building_id=row["building_id"], unit=row["unit"],
        verification=row["verification"], onboarded=bool(row["onboarded"]),
        unreachable=bool(row["unreachable"]), roles=grants,
    )


async def _grants(db: Database, person_id: int) -> list[RoleGrant]:
    rows = await db.fetch_all(
        "SELECT role, scope_kind, scope_id FROM roles WHERE person_id = ? ORDER BY id", (person_id,)
    )
    return [
        RoleGrant(role=Role(r["role"]), scope=Scope(kind=ScopeKind(r["scope_kind"]), id=r["scope_id"]))
        for r in rows
    ]


async def _one(db: Database, where: str, value: int) -> Person | None:
    """A person and their roles in one read (every update loads the person who wrote)."""
    rows = await db.fetch_all(
        f"SELECT {_PERSON_COLUMNS}, r.role, r.scope_kind, r.scope_id FROM people p "
        f"LEFT JOIN roles r ON r.person_id = p.id WHERE {where} ORDER BY r.id",
        (value,),
    )
    if not rows:
        return None
    grants = [
        RoleGrant(role=Role(r["role"]), scope=Scope(kind=ScopeKind(r["scope_kind"]), id=r["scope_id"]))
        for r in rows if r["role"] is not None
    ]
    return _person(rows[0], grants)


async def by_telegram_id(db: Database, telegram_id: int) -> Person | None:
    return await _one(db, "p.telegram_id = ? AND p.erased_at IS NULL", telegram_id)


async def by_id(db: Database, person_id: int) -> Person | None:
    return await _one(db, "p.id = ?", person_id)


async def is_erased(source: Reader, person_id: int) -> bool:
    """Gone by /deleteme: their row stays (others' records point at it) but they can be given nothing."""
    row = await source.fetch_one("SELECT 1 FROM people WHERE id = ? AND erased_at IS NOT NULL", (person_id,))
    return row is not None


async def is_unreachable(db: Database, telegram_id: int) -> bool:
    """Marked unreachable (blocked the bot): a cheap check made on every incoming message."""
    return await db.fetch_value(
        "SELECT 1 FROM people WHERE telegram_id = ? AND unreachable_at IS NOT NULL", (telegram_id,)
    ) is not None


async def with_role(db: Database, role: Role, scope: Scope) -> list[Person]:
    """People holding `role` exactly at `scope`, reachable ones first."""
    rows = await db.fetch_all(
        f"SELECT {_PERSON_COLUMNS} FROM people p JOIN roles r ON r.person_id = p.id "
        "WHERE r.role = ? AND r.scope_kind = ? AND r.scope_id = ? AND p.erased_at IS NULL "
        "ORDER BY p.unreachable_at IS NOT NULL, p.id",
        (role.value, scope.kind.value, scope.id),
    )
    return [_person(row, await _grants(db, row["id"])) for row in rows]


async def insert(
    conn: Connection, *, now: datetime, telegram_id: int | None, name: str,
    username: str | None = None, phone: str | None = None, locale: str | None = None,
    building_id: int | None = None, unit: str | None = None, verification: str = "unverified",
) -> int:
    cursor = await conn.execute(
        "INSERT INTO people (telegram_id, name, username, phone, locale, building_id, unit, verification, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (telegram_id, name, username, phone, locale, building_id, unit, verification, to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def grant(conn: Connection, person_id: int, role: Role, scope: Scope, now: datetime) -> bool:
    """Give a role; True when it is new."""
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO roles (person_id, role, scope_kind, scope_id, granted_at) VALUES (?, ?, ?, ?, ?)",
        (person_id, role.value, scope.kind.value, scope.id, to_db(now)),
    )
    return cursor.rowcount == 1


async def revoke(conn: Connection, person_id: int, role: Role, scope: Scope) -> bool:
    cursor = await conn.execute(
        "DELETE FROM roles WHERE person_id = ? AND role = ? AND scope_kind = ? AND scope_id = ?",
        (person_id, role.value, scope.kind.value, scope.id),
    )
    return cursor.rowcount == 1


async def set_locale(conn: Connection, person_id: int, locale: str) -> None:
    await conn.execute("UPDATE people SET locale = ? WHERE id = ?", (locale, person_id))


async def mark_unreachable(conn: Connection, telegram_id: int, reason: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE people SET unreachable_at = ?, unreachable_reason = ? WHERE telegram_id = ? "
        "AND unreachable_at IS NULL",
        (to_db(now), reason, telegram_id),
    )


async def mark_reachable(conn: Connection, telegram_id: int) -> None:
    """A person who writes to the bot again has unblocked it."""
    await conn.execute(
        "UPDATE people SET unreachable_at = NULL, unreachable_reason = NULL WHERE telegram_id = ? "
        "AND unreachable_at IS NOT NULL",
        (telegram_id,),
    )


async def audit(
    conn: Connection, now: datetime, actor_id: int | None, action: str, subject: str = "",
    detail: str = "",
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (to_db(now), actor_id, action, subject, detail),
    )

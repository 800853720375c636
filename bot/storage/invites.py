"""Single-use invites: the deep link (`/start <token>`) by which staff and representatives join.

A token is checked and spent by one conditional UPDATE, so two people pressing the same link at
the same moment cannot both get in.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from bot.clock import from_db, to_db
from bot.domain.people import Role, Scope, ScopeKind
from bot.storage.db import Connection, Row

# Telegram's /start payload: at most 64 characters of [A-Za-z0-9_-].
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Invite(BaseModel):
    """An invite as stored; `person_id` names the (imported) person the link is for, if any."""

    token: str
    role: Role
    scope: Scope
    person_id: int | None
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    used_by: int | None = None
    used_at: datetime | None = None


class InviteRefusal(StrEnum):
    """Why a token did not let someone in; each gets its own answer in the bot."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


def _invite(row: Row) -> Invite:
    return Invite(
        token=row["token"], role=Role(row["role"]),
        scope=Scope(kind=ScopeKind(row["scope_kind"]), id=row["scope_id"]),
        person_id=row["person_id"], created_by=row["created_by"],
        created_at=from_db(row["created_at"]), expires_at=from_db(row["expires_at"]),
        used_by=row["used_by"], used_at=None if row["used_at"] is None else from_db(row["used_at"]),
    )


async def create(
    conn: Connection, *, role: Role, scope: Scope, created_by: int | None, now: datetime,
    ttl: timedelta, person_id: int | None = None,
) -> str:
    """Store a new invite and return its token (22 URL-safe characters: a valid /start payload)."""
    token = secrets.token_urlsafe(16)
    await conn.execute(
        "INSERT INTO invites (token, role, scope_kind, scope_id, person_id, created_by, created_at, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (token, role.value, scope.kind.value, scope.id, person_id, created_by, to_db(now), to_db(now + ttl)),
    )
    return token


async def get(conn: Connection, token: str) -> Invite | None:
    if not TOKEN_PATTERN.match(token):
        return None
    async with conn.execute("SELECT * FROM invites WHERE token = ?", (token,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _invite(row)


async def valid_for_person(conn: Connection, person_id: int, now: datetime) -> Invite | None:
    """The newest unused, unexpired invite bound to this person (so a re-import issues no second link)."""
    async with conn.execute(
        "SELECT * FROM invites WHERE person_id = ? AND used_at IS NULL AND expires_at > ? "
        "ORDER BY created_at DESC LIMIT 1",
        (person_id, to_db(now)),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _invite(row)


async def consume(
    conn: Connection, token: str, *, person_id: int, now: datetime
) -> Invite | InviteRefusal:
    """Spend the token for `person_id`, or say why not. Call inside a transaction."""
    if not TOKEN_PATTERN.match(token):
        return InviteRefusal.UNKNOWN
    cursor = await conn.execute(
        "UPDATE invites SET used_by = ?, used_at = ? WHERE token = ? AND used_at IS NULL AND expires_at > ?",
        (person_id, to_db(now), token, to_db(now)),
    )
    invite = await get(conn, token)
    if cursor.rowcount == 1 and invite is not None:
        return invite
    if invite is None:
        return InviteRefusal.UNKNOWN
    if invite.used_at is not None:
        return InviteRefusal.USED
    return InviteRefusal.EXPIRED

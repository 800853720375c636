"""Due-time rows: every deadline, reminder, closing and digest is a row, fired once by a scanner.

The database holds what matters; the JobQueue only ticks the scanner. Each due row fires inside one
transaction together with everything its handler writes (outbox rows, state changes): either both
commit or neither does, so a crash at any point fires nothing twice and loses nothing. A handler that
fails rolls back its own row only; the row records the error and is tried again later with backoff,
while the other rows go on.

A feature registers a handler for its kind at import time and schedules rows in its transactions:

    register_timer("report.accept_by", on_accept_deadline)
    await schedule(conn, kind="report.accept_by", subject=str(report_id), due_at=deadline)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import from_db, to_db
from bot.storage.db import Connection, Row

if TYPE_CHECKING:
    from bot.services.container import Services

log = logging.getLogger(__name__)

BATCH = 100
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class TimerRow:
    id: int
    kind: str
    subject: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int

    @classmethod
    def from_row(cls, row: Row) -> TimerRow:
        return cls(
            id=row["id"], kind=row["kind"], subject=row["subject"], due_at=from_db(row["due_at"]),
            payload=json.loads(row["payload"]), attempts=row["attempts"],
        )


TimerHandler = Callable[["Services", Connection, TimerRow], Awaitable[None]]
_handlers: dict[str, TimerHandler] = {}


class UnknownTimerKind(LookupError):
    """A due row whose kind no loaded module handles; it waits (with backoff) for one that does."""


def register_timer(kind: str, handler: TimerHandler) -> None:
    """`handler(services, conn, row)` runs in the firing transaction; write with `conn`."""
    _handlers[kind] = handler


async def schedule(
    conn: Connection,
    *,
    kind: str,
    subject: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
) -> int:
    """Make (kind, subject) due at `due_at`; a pending row for the same pair is replaced, not doubled."""
    cursor = await conn.execute(
        "INSERT INTO timers (kind, subject, due_at, run_at, payload) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, subject) WHERE state = 'pending' DO UPDATE SET due_at = excluded.due_at, "
        "run_at = excluded.run_at, payload = excluded.payload, attempts = 0, last_error = NULL "
        "RETURNING id",
        (kind, subject, to_db(due_at), to_db(due_at), json.dumps(payload or {}, ensure_ascii=False)),
    )
    row = await cursor.fetchone()
    await cursor.close()
    assert row is not None
    return int(row[0])


async def cancel(conn: Connection, *, kind: str, subject: str) -> int:
    """Cancel the pending row of (kind, subject); returns how many were cancelled (0 or 1)."""
    cursor = await conn.execute(
        "UPDATE timers SET state = 'cancelled' WHERE kind = ? AND subject = ? AND state = 'pending'",
        (kind, subject),
    )
    return cursor.rowcount


async def move(conn: Connection, *, kind: str, subject: str, due_at: datetime) -> int:
    """Move the pending row of (kind, subject) to `due_at`; it fires then and not at the old time.

    Returns how many rows moved: 0 when nothing was pending (already fired or cancelled).
    """
    cursor = await conn.execute(
        "UPDATE timers SET due_at = ?, run_at = ?, attempts = 0, last_error = NULL "
        "WHERE kind = ? AND subject = ? AND state = 'pending'",
        (to_db(due_at), to_db(due_at), kind, subject),
    )
    return cursor.rowcount


async def timer_pending(conn: Connection, kind: str, subject: str) -> bool:
    """Is a row of (kind, subject) waiting to fire? Start-up uses it to create a repeating row only once."""
    row = await conn.fetch_one(
        "SELECT 1 FROM timers WHERE kind = ? AND subject = ? AND state = 'pending'", [kind, subject]
    )
    return row is not None


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … up to an hour: a broken handler is retried, never forgotten."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


class TimerEngine:
    """The scanner: `fire_due()` fires every row whose time has come, each in its own transaction."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = asyncio.Lock()

    async def fire_due(self) -> int:
        """Fire what is due now (including rows that handlers make due meanwhile); returns how many."""
        async with self._lock:
            fired = 0
            tried: set[int] = set()
            while True:
                now = self.services.clock.now()
                rows = await self.services.db.fetch_all(
                    "SELECT id FROM timers WHERE state = 'pending' AND run_at <= ? "
                    "ORDER BY run_at, id LIMIT ?",
                    (to_db(now), BATCH),
                )
                ids = [row["id"] for row in rows if row["id"] not in tried]
                if not ids:
                    return fired
                for timer_id in ids:
                    tried.add(timer_id)
                    fired += await self._fire(timer_id)

    async def _fire(self, timer_id: int) -> int:
        db, now = self.services.db, self.services.clock.now()
        try:
            async with db.transaction() as conn:
                cursor = await conn.execute(
                    "SELECT * FROM timers WHERE id = ? AND state = 'pending' AND run_at <= ?",
                    (timer_id, to_db(now)),
                )
                row = await cursor.fetchone()
                await cursor.close()
                if row is None:  # cancelled or moved since the scan
                    return 0
                timer = TimerRow.from_row(row)
                handler = _handlers.get(timer.kind)
                if handler is None:
                    raise UnknownTimerKind(f"no handler registered for timer kind {timer.kind!r}")
                await conn.execute(
                    "UPDATE timers SET state = 'fired', fired_at = ?, attempts = attempts + 1 WHERE id = ?",
                    (to_db(now), timer_id),
                )
                await handler(self.services, conn, timer)
            return 1
        except Exception as exc:
            log.exception("timer %d failed; it will be tried again", timer_id)
            await self._record_failure(timer_id, exc)
            return 0

    async def _record_failure(self, timer_id: int, exc: Exception) -> None:
        now = self.services.clock.now()
        async with self.services.db.transaction() as conn:
            cursor = await conn.execute("SELECT attempts FROM timers WHERE id = ?", (timer_id,))
            row = await cursor.fetchone()
            await cursor.close()
            attempts = (row["attempts"] if row else 0) + 1
            error = f"{type(exc).__name__}: {exc}"[:500]
            await conn.execute(
                "UPDATE timers SET attempts = ?, last_error = ?, run_at = ? "
                "WHERE id = ? AND state = 'pending'",
                (attempts, error, to_db(now + retry_delay(attempts)), timer_id),
            )

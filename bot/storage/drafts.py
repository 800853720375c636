"""Each person's multi-step flow, kept in our own table so a restart resumes it exactly."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from bot.clock import to_db
from bot.storage.db import Connection, Database


class Draft(BaseModel):
    telegram_id: int
    flow: str
    step: str
    data: dict[str, Any] = {}
    version: int = 0
    message_id: int | None = None


async def load(db: Database, telegram_id: int) -> Draft | None:
    row = await db.fetch_one(
        "SELECT telegram_id, flow, step, data, version, message_id FROM drafts WHERE telegram_id = ?",
        (telegram_id,),
    )
    if row is None:
        return None
    return Draft(
        telegram_id=row["telegram_id"], flow=row["flow"], step=row["step"], data=json.loads(row["data"]),
        version=row["version"], message_id=row["message_id"],
    )


async def save(conn: Connection, draft: Draft, now: datetime) -> Draft:
    """Write the draft with the next version; a stale button carries the old one."""
    saved = draft.model_copy(update={"version": draft.version + 1})
    await conn.execute(
        "INSERT INTO drafts (telegram_id, flow, step, data, version, message_id, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(telegram_id) DO UPDATE SET flow = excluded.flow, "
        "step = excluded.step, data = excluded.data, version = excluded.version, "
        "message_id = excluded.message_id, updated_at = excluded.updated_at",
        (saved.telegram_id, saved.flow, saved.step, json.dumps(saved.data, ensure_ascii=False),
         saved.version, saved.message_id, to_db(now)),
    )
    return saved


async def set_message(conn: Connection, telegram_id: int, version: int, message_id: int) -> None:
    """Remember which message the flow edits in place (no version change)."""
    await conn.execute(
        "UPDATE drafts SET message_id = ? WHERE telegram_id = ? AND version = ?",
        (message_id, telegram_id, version),
    )


async def clear(conn: Connection, telegram_id: int, *, version: int | None = None) -> bool:
    """Delete the draft; with `version`, only if it is still that version (idempotent confirms)."""
    if version is None:
        cursor = await conn.execute("DELETE FROM drafts WHERE telegram_id = ?", (telegram_id,))
    else:
        cursor = await conn.execute(
            "DELETE FROM drafts WHERE telegram_id = ? AND version = ?", (telegram_id, version)
        )
    return cursor.rowcount == 1

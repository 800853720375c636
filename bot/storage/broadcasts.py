"""Broadcasts, residents' muted topics and the Telegram groups the bot is in."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from bot.clock import from_db, to_db
from bot.domain.broadcasts import FINISHED_STATES, Audience, Broadcast, Progress, State, Topic
from bot.storage.db import Connection, Database, Reader, Row


def _time(value: str | None) -> datetime | None:
    return None if value is None else from_db(value)


# ---- broadcasts ----------------------------------------------------------------------------------------


def _broadcast(row: Row) -> Broadcast:
    audience = json.loads(row["audience"])
    return Broadcast(
        id=row["id"], created_by=row["created_by"],
        audience=Audience(kind=audience["kind"], ids=tuple(audience.get("ids", ()))), topic=Topic(row["topic"]),
        body=row["body"], photo=row["photo"], document=row["document"], meeting_id=row["meeting_id"],
        state=State(row["state"]), send_at=_time(row["send_at"]), approved_by=row["approved_by"],
        created_at=from_db(row["created_at"]), started_at=_time(row["started_at"]),
        finished_at=_time(row["finished_at"]), people_count=row["people_count"], group_count=row["group_count"],
        muted_count=row["muted_count"], first_row=row["first_row"], last_row=row["last_row"],
        progress_chat_id=row["progress_chat_id"], progress_message_id=row["progress_message_id"],
        progress_text=row["progress_text"], progress_at=_time(row["progress_at"]),
        progress_final=bool(row["progress_final"]),
    )


async def insert(
    conn: Connection, *, created_by: int, audience: Audience, topic: Topic, body: str, photo: str | None,
    document: str | None, meeting_id: int | None, state: State, send_at: datetime | None, now: datetime,
    approved_by: int | None,
) -> int:
    cursor = await conn.execute(
        "INSERT INTO broadcasts (created_by, audience, topic, body, photo, document, meeting_id, state, send_at, "
        "approved_by, decided_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (created_by, json.dumps({"kind": audience.kind, "ids": list(audience.ids)}), topic.value, body, photo,
         document, meeting_id, state.value, None if send_at is None else to_db(send_at), approved_by,
         None if approved_by is None else to_db(now), to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def get(reader: Reader, broadcast_id: int) -> Broadcast | None:
    row = await reader.fetch_one("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
    return None if row is None else _broadcast(row)


async def move_state(conn: Connection, broadcast_id: int, old: Iterable[State], new: State, now: datetime,
                     **columns: Any) -> bool:
    """Change the state only from one of `old` (a conditional write: a double tap changes nothing)."""
    olds = [s.value for s in old]
    sets = ", ".join(f"{name} = ?" for name in columns)
    values = [to_db(v) if isinstance(v, datetime) else v for v in columns.values()]
    finished = ", finished_at = ?" if new in FINISHED_STATES else ""
    cursor = await conn.execute(
        f"UPDATE broadcasts SET state = ?{', ' + sets if sets else ''}{finished} "
        f"WHERE id = ? AND state IN ({', '.join('?' * len(olds))})",
        (new.value, *values, *([to_db(now)] if finished else []), broadcast_id, *olds),
    )
    return cursor.rowcount == 1


async def by_author(db: Database, person_id: int, limit: int = 50) -> list[Broadcast]:
    rows = await db.fetch_all("SELECT * FROM broadcasts WHERE created_by = ? ORDER BY id DESC LIMIT ?",
                              (person_id, limit))
    return [_broadcast(r) for r in rows]


async def in_states(db: Database, *states: State, limit: int = 200) -> list[Broadcast]:
    rows = await db.fetch_all(
        f"SELECT * FROM broadcasts WHERE state IN ({', '.join('?' * len(states))}) ORDER BY id LIMIT ?",
        (*(s.value for s in states), limit),
    )
    return [_broadcast(r) for r in rows]


async def needing_progress(db: Database) -> list[Broadcast]:
    """Going out, or finished since its progress message was last brought up to date."""
    rows = await db.fetch_all(
        "SELECT * FROM broadcasts WHERE first_row IS NOT NULL AND progress_final = 0 "
        "AND state IN ('sending', 'done', 'stopped') ORDER BY id"
    )
    return [_broadcast(r) for r in rows]


async def progress(reader: Reader, broadcast: Broadcast) -> Progress:
    """Counted over its own outbox rows (a consecutive id range), so the primary key does the work."""
    if broadcast.first_row is None or broadcast.last_row is None:
        return Progress()
    rows = await reader.fetch_all("SELECT state, COUNT(*) AS n FROM outbox WHERE id BETWEEN ? AND ? GROUP BY state",
                      (broadcast.first_row, broadcast.last_row))
    return Progress.from_states({r["state"]: r["n"] for r in rows})


async def set_progress_message(conn: Connection, broadcast_id: int, *, chat_id: int, message_id: int, text: str,
                               now: datetime, final: bool) -> None:
    await conn.execute(
        "UPDATE broadcasts SET progress_chat_id = ?, progress_message_id = ?, progress_text = ?, progress_at = ?, "
        "progress_final = ? WHERE id = ?",
        (chat_id, message_id, text, to_db(now), int(final), broadcast_id),
    )


async def person_ids_sent(reader: Reader, broadcast_ids: list[int]) -> list[int]:
    """People a notice reached (for telling them later that its meeting was cancelled)."""
    found: list[int] = []
    for broadcast in [b for b in [await get(reader, i) for i in broadcast_ids] if b and b.first_row]:
        rows = await reader.fetch_all("SELECT DISTINCT person_id FROM outbox WHERE id BETWEEN ? AND ? "
                                  "AND state = 'sent' AND person_id IS NOT NULL",
                          (broadcast.first_row, broadcast.last_row))
        found += [r["person_id"] for r in rows]
    return list(dict.fromkeys(found))


async def for_meeting(reader: Reader, meeting_id: int) -> list[Broadcast]:
    rows = await reader.fetch_all("SELECT * FROM broadcasts WHERE meeting_id = ? ORDER BY id", (meeting_id,))
    return [_broadcast(r) for r in rows]


# ---- muted topics --------------------------------------------------------------------------------------


async def muted_topics(db: Database, person_id: int) -> set[Topic]:
    rows = await db.fetch_all("SELECT topic FROM notification_mutes WHERE person_id = ?", (person_id,))
    return {Topic(r["topic"]) for r in rows}


async def set_muted(conn: Connection, person_id: int, topic: Topic, muted: bool, now: datetime) -> None:
    if muted:
        await conn.execute("INSERT OR IGNORE INTO notification_mutes (person_id, topic, muted_at) VALUES (?, ?, ?)",
                           (person_id, topic.value, to_db(now)))
    else:
        await conn.execute("DELETE FROM notification_mutes WHERE person_id = ? AND topic = ?",
                           (person_id, topic.value))


async def muting(reader: Reader, topic: Topic) -> set[int]:
    rows = await reader.fetch_all("SELECT person_id FROM notification_mutes WHERE topic = ?", (topic.value,))
    return {r["person_id"] for r in rows}


# ---- groups --------------------------------------------------------------------------------------------


class Group(BaseModel, frozen=True):
    chat_id: int
    title: str
    member: bool
    scope_kind: str | None
    scope_id: int | None
    community_id: int | None  # of the linked grid or building
    place_name: str | None  # the linked grid's or building's name


_GROUP_SQL = (
    "SELECT gr.chat_id, gr.title, gr.member, gr.scope_kind, gr.scope_id, "
    "COALESCE(g.community_id, bg.community_id) AS community_id, COALESCE(g.name, b.name) AS place_name "
    "FROM bot_groups gr "
    "LEFT JOIN grids g ON gr.scope_kind = 'grid' AND g.id = gr.scope_id "
    "LEFT JOIN buildings b ON gr.scope_kind = 'building' AND b.id = gr.scope_id "
    "LEFT JOIN grids bg ON bg.id = b.grid_id "
)


def _group(row: Row) -> Group:
    return Group(chat_id=row["chat_id"], title=row["title"], member=bool(row["member"]),
                 scope_kind=row["scope_kind"], scope_id=row["scope_id"], community_id=row["community_id"],
                 place_name=row["place_name"])


async def group(reader: Reader, chat_id: int) -> Group | None:
    row = await reader.fetch_one(_GROUP_SQL + "WHERE gr.chat_id = ?", (chat_id,))
    return None if row is None else _group(row)


async def linked_groups(reader: Reader) -> list[Group]:
    rows = await reader.fetch_all(_GROUP_SQL + "WHERE gr.member = 1 AND gr.scope_kind IS NOT NULL ORDER BY gr.title")
    return [_group(r) for r in rows]


async def bot_member(conn: Connection, chat_id: int, title: str, member: bool, now: datetime) -> None:
    """The bot was added to (or removed from) a group."""
    await conn.execute(
        "INSERT INTO bot_groups (chat_id, title, member, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title, member = excluded.member, "
        "updated_at = excluded.updated_at",
        (chat_id, title, int(member), to_db(now)),
    )


async def link(
    conn: Connection, chat_id: int, title: str, scope_kind: str, scope_id: int, by: int, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO bot_groups (chat_id, title, member, scope_kind, scope_id, linked_by, linked_at, updated_at) "
        "VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title, member = 1, "
        "scope_kind = excluded.scope_kind, scope_id = excluded.scope_id, linked_by = excluded.linked_by, "
        "linked_at = excluded.linked_at, updated_at = excluded.updated_at",
        (chat_id, title, scope_kind, scope_id, by, to_db(now), to_db(now)),
    )


async def unlink(conn: Connection, chat_id: int, now: datetime) -> bool:
    cursor = await conn.execute(
        "UPDATE bot_groups SET scope_kind = NULL, scope_id = NULL, linked_by = NULL, linked_at = NULL, "
        "updated_at = ? WHERE chat_id = ? AND scope_kind IS NOT NULL",
        (to_db(now), chat_id),
    )
    return cursor.rowcount == 1


async def migrate_group(conn: Connection, old_chat_id: int, new_chat_id: int, now: datetime) -> None:
    """A group became a supergroup under a new id: its link follows."""
    await conn.execute("UPDATE OR REPLACE bot_groups SET chat_id = ?, updated_at = ? WHERE chat_id = ?",
                       (new_chat_id, to_db(now), old_chat_id))

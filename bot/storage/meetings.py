"""Meetings and the answers to their notices; times and places are in slot_events and seats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import from_db, to_db
from bot.domain.capacity import SeatState
from bot.domain.meetings import KIND, Answer, AnswerLine, Meeting
from bot.storage.db import Connection, Database, Reader, Row

_MEETING_SQL = (
    "SELECT m.*, e.capacity, e.starts_at, e.ends_at, e.state AS event_state FROM meetings m "
    f"JOIN slot_events e ON e.kind = '{KIND}' AND e.event_id = m.id "
)




def _meeting(row: Row) -> Meeting:
    return Meeting(
        id=row["id"], title=row["title"], agenda=row["agenda"], place=row["place"],
        community_id=row["community_id"], topic_id=row["topic_id"], sequence=row["sequence"],
        minutes=row["minutes"], minutes_at=None if row["minutes_at"] is None else from_db(row["minutes_at"]),
        created_by=row["created_by"], created_at=from_db(row["created_at"]), capacity=row["capacity"],
        starts_at=from_db(row["starts_at"]), ends_at=from_db(row["ends_at"]), open=row["event_state"] == "open",
    )


async def insert(conn: Connection, *, title: str, agenda: str, place: str, community_id: int | None,
                 topic_id: int | None, created_by: int, now: datetime) -> int:
    cursor = await conn.execute(
        "INSERT INTO meetings (title, agenda, place, community_id, topic_id, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (title, agenda, place, community_id, topic_id, created_by, to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def get(reader: Reader, meeting_id: int) -> Meeting | None:
    rows = await reader.fetch_all(_MEETING_SQL + "WHERE m.id = ?", (meeting_id,))
    return _meeting(rows[0]) if rows else None


async def listed(db: Database, *, since: datetime, limit: int = 100) -> list[Meeting]:
    """Meetings ending after `since`, soonest first (the caller keeps those the person manages)."""
    rows = await db.fetch_all(_MEETING_SQL + "WHERE e.ends_at >= ? ORDER BY e.starts_at LIMIT ?",
                              (to_db(since), limit))
    return [_meeting(r) for r in rows]


async def latest(db: Database, limit: int = 40) -> list[Meeting]:
    """The newest meetings first, by start."""
    rows = await db.fetch_all(_MEETING_SQL + "ORDER BY e.starts_at DESC LIMIT ?", (limit,))
    return [_meeting(r) for r in rows]


async def bump_sequence(conn: Connection, meeting_id: int) -> None:
    """A calendar file's SEQUENCE: a calendar app replaces the event it knows by this UID."""
    await conn.execute("UPDATE meetings SET sequence = sequence + 1 WHERE id = ?", (meeting_id,))


async def set_minutes(conn: Connection, meeting_id: int, minutes: str, by: int, now: datetime) -> bool:
    """Minutes are posted once; False when they already were."""
    cursor = await conn.execute(
        "UPDATE meetings SET minutes = ?, minutes_by = ?, minutes_at = ? WHERE id = ? AND minutes IS NULL",
        (minutes, by, to_db(now), meeting_id),
    )
    return cursor.rowcount == 1


# ---- answers -------------------------------------------------------------------------------------------


async def answer_of(reader: Reader, meeting_id: int, person_id: int) -> Answer | None:
    rows = await reader.fetch_all("SELECT answer FROM meeting_answers WHERE meeting_id = ? AND person_id = ?",
                      (meeting_id, person_id))
    return Answer(rows[0]["answer"]) if rows else None


async def set_answer(conn: Connection, meeting_id: int, person_id: int, answer: Answer, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO meeting_answers (meeting_id, person_id, answer, answered_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (meeting_id, person_id) DO UPDATE SET answer = excluded.answer, "
        "answered_at = excluded.answered_at",
        (meeting_id, person_id, answer.value, to_db(now)),
    )


async def mark(conn: Connection, meeting_id: int, person_id: int, attended: bool) -> bool:
    cursor = await conn.execute(
        "UPDATE meeting_answers SET attended = ? WHERE meeting_id = ? AND person_id = ?",
        (int(attended), meeting_id, person_id),
    )
    return cursor.rowcount == 1


async def answer_lines(reader: Reader, meeting_id: int) -> list[AnswerLine]:
    """Every answer with the person's name and seat: going (in queue order) first, then maybe, then no."""
    rows = await reader.fetch_all(
        "SELECT a.person_id, p.name, a.answer, a.attended, s.state AS seat FROM meeting_answers a "
        "JOIN people p ON p.id = a.person_id "
        f"LEFT JOIN seats s ON s.kind = '{KIND}' AND s.event_id = a.meeting_id AND s.person_id = a.person_id "
        "WHERE a.meeting_id = ? AND p.erased_at IS NULL "
        "ORDER BY CASE a.answer WHEN 'going' THEN 0 WHEN 'maybe' THEN 1 ELSE 2 END, s.seq, a.answered_at",
        (meeting_id,),
    )
    return [
        AnswerLine(person_id=r["person_id"], name=r["name"], answer=Answer(r["answer"]),
                   seat=None if r["seat"] is None else SeatState(r["seat"]),
                   marked=None if r["attended"] is None else bool(r["attended"]))
        for r in rows
    ]


async def answered(reader: Reader, meeting_id: int) -> list[int]:
    rows = await reader.fetch_all("SELECT person_id FROM meeting_answers WHERE meeting_id = ? ORDER BY person_id",
                      (meeting_id,))
    return [r["person_id"] for r in rows]


async def export_for(db: Database, person_id: int) -> list[dict[str, Any]]:
    rows = await db.fetch_all(
        "SELECT m.title, a.answer, a.attended, a.answered_at FROM meeting_answers a "
        "JOIN meetings m ON m.id = a.meeting_id WHERE a.person_id = ? ORDER BY a.answered_at",
        (person_id,),
    )
    return [dict(r) for r in rows]


async def erase_for(conn: Connection, person_id: int) -> None:
    await conn.execute("DELETE FROM meeting_answers WHERE person_id = ?", (person_id,))

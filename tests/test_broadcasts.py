"""Notices through the offline Telegram: audiences, muted topics, approval, preview, schedule, progress,
stop, restarts mid-way, linked groups and forged buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.domain.people import Role, Scope, ScopeKind
from bot.handlers import broadcast as broadcast_handlers
from bot.storage import people
from bot.storage.db import Database
from tests.support.people import BotHarness, BotMessage, Person

COMMUNITY = "📢 Community notices"


@dataclass
class Street:
    h: BotHarness
    ada: Person  # street admin
    olga: Person  # organizer of community 1
    sam: Person  # organizer of the whole street (not an admin)
    rita: Person  # lives in community 1, grid 1
    rob: Person  # lives in community 1, grid 3
    bea: Person  # lives in community 2
    ids: dict[int, int]  # telegram id → person id


async def add(db: Database, now: datetime, person: Person, *, name: str, building: int | None = None,
              role: tuple[Role, Scope] | None = None) -> int:
    async with db.transaction() as conn:
        person_id = await people.insert(conn, now=now, telegram_id=person.id, name=name, locale="en",
                                        building_id=building, unit="1-101" if building else None)
        await conn.execute("UPDATE people SET onboarded_at = created_at, consent_at = created_at WHERE id = ?",
                           (person_id,))
        if building:
            await people.grant(conn, person_id, Role.RESIDENT, Scope(kind=ScopeKind.STREET), now)
        if role:
            await people.grant(conn, person_id, role[0], role[1], now)
    return person_id


async def street_of(h: BotHarness) -> Street:
    """Two communities: 1 (grids 1 and 3, buildings 1 and 3) and 2 (grid 2, building 2)."""
    db, now = h.services.db, h.clock.now()
    async with db.transaction() as conn:
        for n in (1, 2):
            await conn.execute("INSERT INTO communities (id, code, name) VALUES (?, ?, ?)", (n, f"C{n}", f"Com{n}"))
        for n, community in ((1, 1), (2, 2), (3, 1)):
            await conn.execute("INSERT INTO grids (id, code, community_id, name) VALUES (?, ?, ?, ?)",
                               (n, f"G{n}", community, f"Grid{n}"))
            await conn.execute("INSERT INTO buildings (id, code, grid_id, name) VALUES (?, ?, ?, ?)",
                               (n, f"B{n}", n, f"Block {n}"))
    cast = {name: h.person(name, "en") for name in ("Ada", "Olga", "Sam", "Rita", "Rob", "Bea")}
    ids = {
        cast["Ada"].id: await add(db, now, cast["Ada"], name="Ada", role=(Role.ADMIN, Scope(kind=ScopeKind.STREET))),
        cast["Olga"].id: await add(db, now, cast["Olga"], name="Olga",
                                   role=(Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=1))),
        cast["Sam"].id: await add(db, now, cast["Sam"], name="Sam",
                                  role=(Role.ORGANIZER, Scope(kind=ScopeKind.STREET))),
        cast["Rita"].id: await add(db, now, cast["Rita"], name="Rita", building=1),
        cast["Rob"].id: await add(db, now, cast["Rob"], name="Rob", building=3),
        cast["Bea"].id: await add(db, now, cast["Bea"], name="Bea", building=2),
    }
    return Street(h, cast["Ada"], cast["Olga"], cast["Sam"], cast["Rita"], cast["Rob"], cast["Bea"], ids)


@pytest.fixture
async def street(tmp_path: Path) -> AsyncIterator[Street]:
    async with BotHarness(tmp_path) as h:
        yield await street_of(h)


async def compose(sender: Person, kind: str, picks: list[str], text: str, topic: str = COMMUNITY) -> None:
    """Go through /broadcast up to the preview."""
    await sender.send("/broadcast")
    await sender.press("➕ New notice")
    await sender.press(kind)
    for pick in picks:
        await sender.press(pick)
    if picks and "Next ›" in sender.last_message.buttons:
        await sender.press("Next ›")
    await sender.press(topic)
    await sender.send(text)


def notices(person: Person, marker: str = "notice") -> list[BotMessage]:
    return [m for m in person.inbox if marker in m.text.split("\n")[0]]


def flow_message(person: Person, label: str) -> BotMessage:
    return next(m for m in reversed(person.inbox) if label in m.buttons)


async def test_a_community_notice_reaches_its_residents_only_and_the_preview_is_what_arrives(
        street: Street) -> None:
    olga, rita, rob, bea = street.olga, street.rita, street.rob, street.bea
    await compose(olga, "🏘 Communities", ["Com1"], "Water off <Tue> 9-12 & back by noon")
    (preview,) = notices(olga)
    assert preview.message_id > flow_message(olga, "📤 Send now").message_id
    assert "Reaches 2 people and 0 groups." in flow_message(olga, "📤 Send now").text
    await olga.press("📤 Send now")
    for resident in (rita, rob):
        (got,) = notices(resident)
        assert (got.html, got.buttons) == (preview.html, preview.buttons)
        assert "Water off <Tue> 9-12 & back by noon" in got.text
    assert notices(bea) == []
    (progress,) = [m for m in olga.inbox if m.text.startswith("📤 Notice #1 is going out\n")]
    await street.h.advance(seconds=11)
    await broadcast_handlers.refresh_progress(street.h.app)
    edited = next(m for m in olga.inbox if m.message_id == progress.message_id)
    assert edited.edited and edited.text.startswith("✅ Notice #1 is out") and "sent 2 · waiting 0" in edited.text
    assert [m for m in olga.inbox if m.text.startswith(("📤 Notice #1 is going", "✅ Notice #1 is out"))] == [edited]
    assert any("Notice #1 is finished: sent 2, failed 0, unreachable 0" in m.text for m in olga.inbox)

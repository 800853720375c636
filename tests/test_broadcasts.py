"""Notices through the offline Telegram: audiences, muted topics, approval, preview, schedule, progress,
stop, restarts mid-way, linked groups and forged buttons."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.domain.people import Role, Scope, ScopeKind
from bot.handlers import broadcast as broadcast_handlers
from bot.runtime import runtime_of
from bot.storage import broadcasts as broadcast_store
from tests.support.people import BotHarness, BotMessage, Person
from tests.support.signup import signed_up

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
        cast["Ada"].id: await signed_up(db, now, cast["Ada"], name="Ada",
                                        role=(Role.ADMIN, Scope(kind=ScopeKind.STREET))),
        cast["Olga"].id: await signed_up(db, now, cast["Olga"], name="Olga",
                                         role=(Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=1))),
        cast["Sam"].id: await signed_up(db, now, cast["Sam"], name="Sam",
                                        role=(Role.ORGANIZER, Scope(kind=ScopeKind.STREET))),
        cast["Rita"].id: await signed_up(db, now, cast["Rita"], name="Rita", building=1),
        cast["Rob"].id: await signed_up(db, now, cast["Rob"], name="Rob", building=3),
        cast["Bea"].id: await signed_up(db, now, cast["Bea"], name="Bea", building=2),
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


async def test_a_muted_topic_is_not_received_but_a_safety_notice_is(street: Street) -> None:
    rita, rob, olga = street.rita, street.rob, street.olga
    await rita.send("/notifications")
    await rita.press("✅ 📢 Community notices")
    assert "📢 Community notices: off" in rita.last_message.text
    assert "🔒 🚨 Safety: always on" in rita.last_message.text
    assert "🔕 📢 Community notices" in rita.last_message.buttons
    await compose(olga, "🏘 Communities", ["Com1"], "Bulky waste collection on Friday")
    assert "Reaches 1 people and 0 groups. (1 muted this topic.)" in flow_message(olga, "📤 Send now").text
    await olga.press("📤 Send now")
    await compose(olga, "🏘 Communities", ["Com1"], "Gas leak near gate 2: keep away", topic="🚨 Safety")
    await olga.press("📤 Send now")
    assert [m.text.split("\n")[0] for m in notices(rita)] == ["🚨 Safety notice"]
    assert [m.text.split("\n")[0] for m in notices(rob)] == ["📢 Community notice", "🚨 Safety notice"]
    await rita.press_data("ntf:t:safety")  # forged: safety cannot be turned off
    assert rita.last_callback_answer is not None and "expired" in (rita.last_callback_answer.text or "")


async def test_a_street_wide_notice_waits_for_an_admins_approval(street: Street) -> None:
    sam, ada = street.sam, street.ada
    await compose(sam, "🏙 Whole street", [], "Street festival on Saturday")
    assert "a street admin approves it" in flow_message(sam, "📤 Ask for approval").text
    await sam.press("📤 Ask for approval")
    assert "waits for a street admin's approval" in sam.last_message.text
    for resident in (street.rita, street.rob, street.bea):
        assert notices(resident) == []
    request = ada.last_message
    assert "Notice #1 from Sam waits for your approval" in request.text and "6 people" in request.text
    await sam.press_data("bc:ok:1")  # the author is no admin: a forged approval changes nothing
    assert notices(street.rita) == []
    await ada.press("✅ Approve")
    for resident in (street.rita, street.rob, street.bea):
        assert [m.text for m in notices(resident)] == ["📢 Community notice\n\nStreet festival on Saturday"]
    assert any("Your notice #1 was approved by Ada" in m.text for m in sam.inbox)
    await ada.press_data("bc:ok:1")  # a second tap: nothing goes out twice
    assert len(notices(street.rita)) == 1


async def test_a_scheduled_notice_goes_out_at_its_time_across_a_restart_and_a_cancelled_one_never(
        street: Street) -> None:
    olga, rita = street.olga, street.rita
    await compose(olga, "🏢 Buildings", ["Block 1"], "Lift maintenance tonight")
    await olga.press("🕒 At a set time")
    await olga.send("3-3 18:00")
    assert "Notice #1 will go out Mon 3 Mar 18:00" in olga.last_message.text
    await compose(olga, "🏢 Buildings", ["Block 1"], "Changed my mind")
    await olga.press("🕒 At a set time")
    await olga.send("3-3 18:00")
    await olga.press("🗂 Open the notice")
    await olga.press("❌ Cancel this notice")
    assert "Cancelled: it will not be sent." in olga.last_message.text
    await street.h.restart()
    await street.h.advance(hours=8, minutes=59)
    assert notices(rita) == []
    await street.h.advance(minutes=1)
    assert [m.text for m in notices(rita)] == ["📢 Community notice\n\nLift maintenance tonight"]
    await street.h.advance(hours=1)
    assert len(notices(rita)) == 1


async def test_quiet_hours_hold_a_notice_and_stopping_it_drops_what_waits(tmp_path: Path) -> None:
    night = datetime.fromisoformat("2025-03-03T23:00:00+08:00")
    async with BotHarness(tmp_path, start=night) as h:
        street = await street_of(h)
        olga = street.olga
        await compose(olga, "🏘 Communities", ["Com1"], "Recycling day moved")
        await olga.press("📤 Send now")
        assert notices(street.rita) == [] and notices(street.rob) == []  # held until 07:00
        progress = next(m for m in olga.inbox if m.text.startswith("📤 Notice #1 is going out"))
        assert "sent 0 · waiting 2" in progress.text
        await olga.press("⏹ Stop sending")
        await h.advance(hours=9)
        assert notices(street.rita) == [] and notices(street.rob) == []
        await broadcast_handlers.refresh_progress(h.app)
        stopped = next(m for m in olga.inbox if m.message_id == progress.message_id)
        assert stopped.text.startswith("⏹ Notice #1 was stopped") and "not sent 2" in stopped.text
        await h.advance(seconds=11)
        assert any("not sent because it was stopped 2" in m.text for m in olga.inbox)


async def test_a_restart_half_way_loses_nothing_and_repeats_only_rows_in_flight(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        street = await street_of(h)
        crowd = [h.person(f"R{i}", "en") for i in range(40)]
        for resident in crowd:
            await signed_up(h.services.db, h.clock.now(), resident, name=resident.first_name, building=1)
        olga = street.olga
        await compose(olga, "🏢 Buildings", ["Block 1"], "Residents' assembly next week")
        send_now = flow_message(olga, "📤 Send now").callback_data["📤 Send now"]
        delivered = 0
        half_way = asyncio.Event()
        real_handle = h.core.handle

        async def telegram_then_silence(method: str, params: Any, files: Any = None) -> Any:
            nonlocal delivered
            answer = await real_handle(method, params, files)
            if method == "sendMessage" and "assembly next week" in str(params.get("text", "")):
                delivered += 1
                if delivered >= 15:
                    half_way.set()
                    await asyncio.Event().wait()  # the process dies with these requests in flight
            return answer

        h.core.handle = telegram_then_silence  # type: ignore[method-assign]
        message_id = flow_message(olga, "📤 Send now").message_id
        update = h.core.press_button(olga.id, olga.id, message_id, send_now, deliver=False)
        await h.app.process_update(Update.de_json(update, h.app.bot))
        await asyncio.wait_for(half_way.wait(), timeout=30)
        sender = runtime_of(h.app).sender
        assert sender is not None
        await sender.stop(grace_seconds=0)
        in_flight = await h.services.db.fetch_value("SELECT COUNT(*) FROM outbox WHERE state = 'sending'")
        pending = await h.services.db.fetch_value("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
        assert in_flight >= 1 and pending >= 1
        h.core.handle = real_handle  # type: ignore[method-assign]
        await h.restart()
        await h.advance(seconds=22, step=timedelta(seconds=11))
        restarted = runtime_of(h.app).sender
        assert restarted is not None and restarted.stats.recovered == in_flight
        counts = [len(notices(p)) for p in [street.rita, *crowd]]
        assert min(counts) == 1  # nothing lost
        assert sum(counts) - len(counts) <= in_flight  # repeats only among the rows that were in flight
        assert any("Notice #1 is finished: sent 41" in m.text for m in olga.inbox)


async def test_a_linked_group_gets_the_notice_and_a_group_that_removed_the_bot_does_not(street: Street) -> None:
    h, olga = street.h, street.olga
    block_chat, other_chat = h.group("Block 1 neighbours"), h.group("Grid 2 chat")
    await olga.send("/linkgroup", chat=block_chat)
    await olga.press("Grid1 · Com1", chat=block_chat)
    assert "linked to Grid1" in olga.messages_in(block_chat)[-1].text
    await street.rita.send("/linkgroup B1", chat=block_chat)  # a resident cannot link
    assert "Only organizers and street admins" in street.rita.messages_in(block_chat)[-1].text
    await olga.send("/linkgroup B2", chat=other_chat)  # community 2 is not Olga's
    assert "only to a place in their own area" in olga.messages_in(other_chat)[-1].text
    await street.ada.send("/linkgroup B2", chat=other_chat)
    await compose(olga, "💬 Linked Telegram groups", ["Block 1 neighbours · Grid1"], "Courtyard party at 6")
    assert "Reaches 0 people and 1 groups." in flow_message(olga, "📤 Send now").text
    await olga.press("📤 Send now")
    # Groups read the street's default language.
    assert [m.text for m in olga.messages_in(block_chat)][-1] == "📢 社区通知\n\nCourtyard party at 6"
    await h.process(h.core.block(block_chat, deliver=False))  # the group removes the bot
    await compose(street.ada, "💬 Linked Telegram groups", ["Grid 2 chat · Block 2"], "Second notice")
    assert await h.services.db.fetch_value("SELECT member FROM bot_groups WHERE chat_id = ?", (block_chat,)) == 0
    await street.ada.press("📤 Send now")
    assert "Second notice" in olga.messages_in(other_chat)[-1].text
    assert "Second notice" not in olga.messages_in(block_chat)[-1].text


async def test_organizers_stay_in_their_scope_and_forged_buttons_change_nothing(street: Street) -> None:
    olga, rita = street.olga, street.rita
    await olga.send("/broadcast")
    await olga.press("➕ New notice")
    assert "🏙 Whole street" not in olga.last_message.buttons
    version = olga.last_message.callback_data["🏘 Communities"].split(":")[1]
    await olga.press_data(f"f:{version}:k:street")
    assert "expired" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]
    await olga.press("🏘 Communities")
    assert "Com2" not in olga.last_message.buttons
    version = olga.last_message.callback_data["Com1"].split(":")[1]
    await olga.press_data(f"f:{version}:t:2")  # community 2, forged
    assert "expired" in (olga.last_callback_answer.text or "")  # type: ignore[union-attr]
    await rita.send("/broadcast")
    assert "for staff with the right role" in rita.last_message.text
    await rita.press_data("bc:v:1")
    assert "may not send notices" in (rita.last_callback_answer.text or "")  # type: ignore[union-attr]
    await olga.press("Com1")
    await olga.press("Next ›")
    await olga.press(COMMUNITY)
    await olga.send_sticker()
    assert "Please type the notice" in olga.last_message.text
    await olga.send("x" * 5000)
    assert "keep it to 3500 characters" in olga.last_message.text
    await olga.send("/cancel")
    assert notices(rita) == []


async def test_a_photo_notice_to_a_role_reaches_the_grid_teams_of_the_community(street: Street) -> None:
    h = street.h
    worker = h.person("Wei", "en")
    await signed_up(h.services.db, h.clock.now(), worker, name="Wei",
                    role=(Role.GRID_WORKER, Scope(kind=ScopeKind.GRID, id=3)))
    await street.olga.send("/broadcast")
    await street.olga.press("➕ New notice")
    await street.olga.press("🧑‍💼 Grid workers")
    await street.olga.press("Com1")
    await street.olga.press("Next ›")
    await street.olga.press(COMMUNITY)
    await street.olga.send_photo(caption="Flood drill at 3 pm")
    await street.olga.press("📤 Send now")
    (got,) = notices(worker)
    assert got.photo is not None and got.text == "📢 Community notice\n\nFlood drill at 3 pm"
    assert notices(street.rita) == []


async def test_a_notices_figures_stay_the_same_when_its_messages_lose_their_content(street: Street) -> None:
    """Thirty days on the rows keep no text, yet still count who got the notice and who could not."""
    h, olga = street.h, street.olga
    h.core.block(street.rob.id, deliver=False)  # the bot learns it from the 403
    await compose(olga, "🏘 Communities", ["Com1"], "Lift out of service on Friday")
    await olga.press("📤 Send now")
    await h.advance(seconds=11)
    notice = await broadcast_store.get(h.services.db, 1)
    assert notice is not None
    before = await broadcast_store.progress(h.services.db, notice)
    assert (before.sent, before.unreachable) == (1, 1)
    reached = await broadcast_store.person_ids_sent(h.services.db, [notice.id])
    rows = "SELECT group_concat(params) FROM outbox WHERE id BETWEEN ? AND ?", (notice.first_row, notice.last_row)
    assert "Lift out of service" in await h.services.db.fetch_value(*rows)
    await h.advance(days=31, step=timedelta(days=1))
    assert await h.services.db.fetch_value(*rows) == "{},{}"
    assert await broadcast_store.progress(h.services.db, notice) == before
    assert await broadcast_store.person_ids_sent(h.services.db, [notice.id]) == reached == [street.ids[street.rita.id]]

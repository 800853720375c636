"""The outbox and its sender against the offline Telegram, on a fake clock.

Pushes are queued in a transaction with `enqueue`, and `settle()` lets the sender deliver what is due.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import from_db, to_db
from bot.delivery import outbox
from bot.delivery.outbox import Button, Lane, OutboxError, Relative, Tr, enqueue
from bot.delivery.sender import MAX_ATTEMPTS
from bot.runtime import runtime_of
from bot.sandbox.fake_telegram import FakeTelegram, Fault, tiny_png
from bot.storage import people
from bot.storage.db import Connection, Database, Row
from bot.timers.engine import schedule
from tests.support.people import BotHarness, Person

MOMENT = "{weekday} {day} {month} {time}"  # a catalog message: "11月27日 周五 17:30" in Chinese


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path) as harness:
        yield harness


@pytest.fixture
async def limited_bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """With the flood limiter's real pacing (and its 429 retries) instead of the tests' pass-through."""
    async with BotHarness(tmp_path, real_limiter=True) as harness:
        yield harness


async def person_row(bot: BotHarness, who: Person | None, locale: str | None = "en") -> int:
    """The person's row in our store, as onboarding (or an import, with no Telegram account) makes it."""
    async with bot.services.db.transaction() as conn:
        return await people.insert(
            conn, now=bot.clock.now(), telegram_id=who.id if who else None, name="x", locale=locale
        )


async def push(bot: BotHarness, recipients: list[int], template: str = "Hello", **options: Any) -> list[int]:
    async with bot.services.db.transaction() as conn:
        return await enqueue(conn, now=bot.clock.now(), recipients=recipients, template=template, **options)


async def row(db: Database, row_id: int) -> Row:
    found = await db.fetch_one("SELECT * FROM outbox WHERE id = ?", (row_id,))
    assert found is not None
    return found


def sends(core: FakeTelegram) -> int:
    return core.calls["sendMessage"]


async def test_a_push_leaves_only_after_commit_and_records_its_delivery(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    with pytest.raises(RuntimeError):
        async with bot.services.db.transaction() as conn:
            await enqueue(conn, now=bot.clock.now(), recipients=[alice_id], template="Rolled back")
            raise RuntimeError("the use case failed after queueing")
    await bot.settle()
    assert alice.inbox == []

    async with bot.services.db.transaction() as conn:
        (row_id,) = await enqueue(conn, now=bot.clock.now(), recipients=[alice_id], template="Your task")
        await asyncio.sleep(0.01)  # the sender runs meanwhile, yet sees nothing uncommitted
        assert alice.inbox == []
    await bot.settle()
    assert [m.text for m in alice.inbox] == ["Your task"]
    sent = await row(bot.services.db, row_id)
    assert sent["state"] == "sent"
    assert sent["message_id"] == alice.last_message.message_id
    assert from_db(sent["delivered_at"]) == bot.clock.now()
    assert sent["attempts"] == 1


async def test_rendered_in_the_recipients_language_when_sent(bot: BotHarness) -> None:
    alice, bob = bot.person("Alice"), bot.person("Bob")
    alice_id, bob_id = await person_row(bot, alice, "zh_Hans"), await person_row(bot, bob, "en")
    params: dict[str, outbox.Param] = {"weekday": Tr("Fri"), "day": 27, "month": Tr("Nov"), "time": "17:30"}
    await push(bot, [alice_id, bob_id], MOMENT, params=params)
    await bot.settle()
    assert alice.last_message.text == "11月27日 周五 17:30"
    assert bob.last_message.text == "Fri 27 Nov 17:30"

    # Language is read at sending time: a switch after queueing is honoured.
    await push(bot, [alice_id], "Meeting at {when}, {left}",
               params={"when": bot.clock.now() + timedelta(hours=2), "left": Relative(bot.clock.now())},
               not_before=bot.clock.now() + timedelta(minutes=30))
    async with bot.services.db.transaction() as conn:
        await people.set_locale(conn, alice_id, "en")
    await bot.advance(minutes=30)
    assert alice.last_message.text == "Meeting at Mon 3 Mar 11:00, 30 minutes overdue"


async def test_typed_text_is_escaped_and_buttons_translated(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice, "zh_Hans")
    await push(bot, [alice_id], "<b>{title}</b>", params={"title": "<script> & Co"},
               buttons=[[Button("Mon", "day:1"), Button("Tue", "day:2")]])
    await bot.settle()
    message = alice.last_message
    assert message.text == "<script> & Co"
    assert message.html == "<b>&lt;script&gt; &amp; Co</b>"
    assert message.callback_data == {"周一": "day:1", "周二": "day:2"}


async def test_an_overlong_description_is_cut_to_telegrams_limit(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    await push(bot, [alice_id], "Report: {text}", params={"text": "路灯坏了" * 2000})
    await bot.settle()
    text = alice.last_message.text
    assert text.startswith("Report: 路灯坏了") and text.endswith("…")
    assert len(text) <= 4096


async def test_a_description_full_of_signs_that_need_escaping_is_cut_only_by_what_people_see(
    bot: BotHarness,
) -> None:
    """Telegram counts the visible text: 3,000 '<' are 3,000 characters, not the 12,000 of their escaped HTML."""
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    words = "<" * 3000
    await push(bot, [alice_id], "<b>Report</b>: {text}", params={"text": words})
    await bot.settle()
    assert alice.last_message.text == "Report: " + words
    await push(bot, [alice_id], "<b>Report</b>: {text}", params={"text": "&" * 5000})
    await bot.settle()
    cut = alice.last_message.text
    assert len(cut) == 4096 and cut.startswith("Report: &&&") and cut.endswith("&…")


async def test_a_photo_goes_with_its_caption(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    photo = bot.core.store_photo(tiny_png())[-1]["file_id"]
    await push(bot, [alice_id], "The light at {place}", params={"place": "Building 3"}, photo=photo)
    await bot.settle()
    assert alice.last_message.text == "The light at Building 3"
    assert alice.last_message.photo == tiny_png()


VOICE = b"OggS" + bytes(40)


def voice_note(core: FakeTelegram) -> str:
    """A voice note a person sent earlier: its Telegram file_id."""
    return core.store_file("voice", VOICE, duration=4, mime_type="audio/ogg").file_id


async def test_a_voice_note_goes_with_its_caption_cut_to_the_caption_limit(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice, "zh_Hans")
    await push(bot, [alice_id], "<b>{number}</b> {words}", params={"number": "R&1", "words": "灯坏了" * 600},
               voice=voice_note(bot.core), buttons=[[Button("Mon", "day:1")]])
    await bot.settle()
    message = alice.last_message
    assert message.voice == VOICE and message.photo is None
    assert message.html.startswith("<b>R&amp;1</b> 灯坏了") and message.text.endswith("…")
    assert len(message.text) <= 1024
    assert message.callback_data == {"周一": "day:1"}


async def test_mistakes_are_refused_when_queued(bot: BotHarness) -> None:
    alice_id = await person_row(bot, bot.person("Alice"))
    with pytest.raises(OutboxError, match="needs parameters"):
        await push(bot, [alice_id], "Report {number}")
    with pytest.raises(OutboxError, match="callback data"):
        await push(bot, [alice_id], "Pick", buttons=[[Button("Accept", "accept:" + "9" * 60)]])
    with pytest.raises(OutboxError, match="cannot store"):
        await push(bot, [alice_id], "{n}", params={"n": object()})  # type: ignore[dict-item]
    photo = bot.core.store_photo(tiny_png())[-1]["file_id"]
    with pytest.raises(OutboxError, match="at most one"):
        await push(bot, [alice_id], "Both", photo=photo, voice=voice_note(bot.core))


async def test_group_chats_get_the_default_language(bot: BotHarness) -> None:
    group = bot.group("Grid 3 team")
    async with bot.services.db.transaction() as conn:
        await enqueue(conn, now=bot.clock.now(), recipients=[], chat_ids=[group], template="Mon")
    await bot.settle()
    assert [m["text"] for m in bot.core.messages(group, from_bot=True)] == ["周一"]


async def test_a_row_whose_reason_is_gone_is_dropped(bot: BotHarness) -> None:
    accepted: set[int] = {7}

    async def task_accepted(_db: Database, task_id: int) -> bool:
        return task_id in accepted

    outbox.register_drop_check("test.task", task_accepted)
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    (dropped,) = await push(bot, [alice_id], "Task 7 waits", reason=("test.task", 7))
    (kept,) = await push(bot, [alice_id], "Task 8 waits", reason=("test.task", 8))
    await bot.settle()
    assert [m.text for m in alice.inbox] == ["Task 8 waits"]
    assert (await row(bot.services.db, dropped))["state"] == "dropped"
    assert (await row(bot.services.db, kept))["state"] == "sent"


async def test_what_a_row_shows_of_a_person_is_read_from_the_store_when_it_is_sent(bot: BotHarness) -> None:
    names = {7: "Mei <Li>"}

    async def current(_db: Database, task_id: int) -> dict[str, outbox.Param]:
        return {"who": names.get(task_id, Tr("nobody")), "unasked": "never shown"}

    outbox.register_refresh("test.named", current)
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    (queued,) = await push(bot, [alice_id], "Task {n} from {who}", params={"n": 7, "who": None},
                           reason=("test.named", 7), not_before=bot.clock.now() + timedelta(hours=1))
    names[7] = "Mei Li & Co"  # changed after queueing
    await push(bot, [alice_id], "Task {n} from {who}", params={"n": 8, "who": "as queued"},
               reason=("test.named", 8))
    await bot.advance(hours=1)
    assert [m.text for m in alice.inbox] == ["Task 8 from nobody", "Task 7 from Mei Li & Co"]
    assert json.loads((await row(bot.services.db, queued))["params"]) == {"n": 7, "who": None}


async def test_a_reaction_window_starts_when_the_message_is_delivered(bot: BotHarness) -> None:
    async def start_window(conn: Connection, report_id: int, delivered_at: datetime) -> None:
        await schedule(conn, kind="test.verify", subject=str(report_id), due_at=delivered_at + timedelta(hours=72))

    outbox.register_delivered_hook("test.verify", start_window)
    alice_id = await person_row(bot, bot.person("Alice"))
    queued_at = bot.clock.now()
    await push(bot, [alice_id], "Is it fixed?", on_delivered=("test.verify", 5),
               not_before=queued_at + timedelta(hours=1))
    await bot.settle()
    assert await bot.services.db.fetch_value("SELECT COUNT(*) FROM timers WHERE kind = 'test.verify'") == 0
    await bot.advance(hours=1)
    due = await bot.services.db.fetch_value("SELECT due_at FROM timers WHERE kind = 'test.verify'")
    assert from_db(due) == queued_at + timedelta(hours=73)


async def test_quiet_hours_hold_pushes_until_morning_but_not_urgent_ones(tmp_path: Path) -> None:
    evening = datetime.fromisoformat("2025-03-03T23:00:00+08:00")
    async with BotHarness(tmp_path, start=evening) as bot:
        alice = bot.person("Alice")
        alice_id = await person_row(bot, alice)
        await push(bot, [alice_id], "Meeting tomorrow")
        await push(bot, [alice_id], "Water main burst", urgent=True)
        await bot.settle()
        assert [m.text for m in alice.inbox] == ["Water main burst"]
        await bot.advance(hours=7, minutes=59, step=timedelta(hours=1))
        assert [m.text for m in alice.inbox] == ["Water main burst"]
        await bot.advance(minutes=1)
        assert [m.text for m in alice.inbox] == ["Water main burst", "Meeting tomorrow"]
        assert alice.inbox[-1].raw["date"] == int(datetime.fromisoformat("2025-03-04T07:00:00+08:00").timestamp())


async def test_flood_control_is_honoured_and_counted(limited_bot: BotHarness) -> None:
    bot = limited_bot
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    bot.core.fail_next(method="sendMessage", error=Fault.flood(retry_after=1))
    (row_id,) = await push(bot, [alice_id], "After the pause")
    await bot.settle()
    assert [m.text for m in alice.inbox] == ["After the pause"]
    assert runtime_of(bot.app).limiter.http_429 == 1
    assert sends(bot.core) == 2
    assert (await row(bot.services.db, row_id))["attempts"] == 1


@pytest.mark.parametrize("fault", [Fault.blocked(), Fault.chat_not_found()], ids=["blocked", "chat-not-found"])
async def test_an_unreachable_person_is_marked_and_skipped(bot: BotHarness, fault: Fault) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    bot.core.fail_next(chat_id=alice.id, error=fault, times=None)
    first, second = await push(bot, [alice_id], "One"), await push(bot, [alice_id], "Two")
    await bot.settle()
    assert sends(bot.core) == 1
    person = await people.by_id(bot.services.db, alice_id)
    assert person is not None and person.unreachable
    assert {(await row(bot.services.db, r))["state"] for r in first + second} == {"failed"}
    # From then on nothing is even tried.
    (later,) = await push(bot, [alice_id], "Three")
    await bot.settle()
    assert sends(bot.core) == 1
    assert (await row(bot.services.db, later))["last_error"] == "unreachable"


async def test_a_voice_note_to_someone_who_blocked_the_bot_is_given_up_like_any_other_row(
    bot: BotHarness,
) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    bot.core.block(alice.id, deliver=False)  # the bot learns it from the 403, as when the update was missed
    (voice,) = await push(bot, [alice_id], "🎤 Voice note for task {number}", params={"number": "R-1"},
                          voice=voice_note(bot.core))
    (after,) = await push(bot, [alice_id], "Task R-1 was reassigned")
    await bot.settle()
    assert bot.core.calls["sendVoice"] == 1 and sends(bot.core) == 0
    person = await people.by_id(bot.services.db, alice_id)
    assert person is not None and person.unreachable
    first, second = await row(bot.services.db, voice), await row(bot.services.db, after)
    assert first["state"] == "failed" and "blocked" in first["last_error"]
    assert (second["state"], second["last_error"]) == ("failed", "unreachable")
    assert [letter.id for letter in await outbox.dead_letters(bot.services.db)] == [after, voice]


async def test_a_voice_note_telegram_does_not_know_is_dead_at_once(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    (row_id,) = await push(bot, [alice_id], "🎤", voice="a-file-id-from-another-bot")
    await bot.settle()
    assert alice.inbox == []
    refused = await row(bot.services.db, row_id)
    assert refused["state"] == "dead" and refused["attempts"] == 1
    assert "wrong file identifier" in refused["last_error"].lower()


async def test_people_without_telegram_or_erased_are_not_tried(bot: BotHarness) -> None:
    imported = await person_row(bot, None)
    erased = await person_row(bot, bot.person("Gone"))
    async with bot.services.db.transaction() as conn:
        await conn.execute("UPDATE people SET erased_at = ? WHERE id = ?", (to_db(bot.clock.now()), erased))
    waiting, gone = await push(bot, [imported]), await push(bot, [erased])
    await bot.settle()
    assert sends(bot.core) == 0
    assert (await row(bot.services.db, waiting[0]))["state"] == "failed"
    assert (await row(bot.services.db, gone[0]))["state"] == "dropped"


async def test_network_errors_are_retried_with_backoff_then_dead(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    bot.core.fail_next(method="sendMessage", error=Fault.server_error(502), times=2)
    (row_id,) = await push(bot, [alice_id], "Eventually")
    await bot.settle()
    assert alice.inbox == []
    pending = await row(bot.services.db, row_id)
    assert pending["state"] == "pending" and "Bad Gateway" in pending["last_error"]
    await bot.advance(minutes=5, step=timedelta(seconds=10))
    assert [m.text for m in alice.inbox] == ["Eventually"]
    assert (await row(bot.services.db, row_id))["attempts"] == 3

    bot.core.fail_next(method="sendMessage", error=Fault.server_error(500), times=None)
    (dead_id,) = await push(bot, [alice_id], "Never")
    await bot.advance(hours=2, step=timedelta(minutes=1))
    dead = await row(bot.services.db, dead_id)
    assert dead["state"] == "dead" and dead["attempts"] == MAX_ATTEMPTS
    assert [letter.id for letter in await outbox.dead_letters(bot.services.db)] == [dead_id]


async def test_a_message_telegram_refuses_is_dead_at_once(bot: BotHarness) -> None:
    alice_id = await person_row(bot, bot.person("Alice"))
    bot.core.fail_next(method="sendMessage", error=Fault.bad_request("can't parse entities: oops"))
    (row_id,) = await push(bot, [alice_id], "Broken")
    await bot.settle()
    refused = await row(bot.services.db, row_id)
    assert refused["state"] == "dead" and "can't parse entities" in refused["last_error"].lower()


async def test_a_timeout_is_retried_and_flagged_as_a_possible_duplicate(bot: BotHarness) -> None:
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    bot.core.fail_next(method="sendMessage", error=Fault.timeout(applied=True))
    (row_id,) = await push(bot, [alice_id], "Maybe twice")
    await bot.settle()
    await bot.advance(seconds=10)
    assert [m.text for m in alice.inbox] == ["Maybe twice", "Maybe twice"]
    assert (await row(bot.services.db, row_id))["possible_duplicate"] == 1


async def test_a_broadcast_does_not_starve_an_interactive_push(limited_bot: BotHarness) -> None:
    bot = limited_bot
    residents = [bot.person(f"R{n}") for n in range(40)]
    ids = [await person_row(bot, resident) for resident in residents]
    worker = bot.person("Worker")
    worker_id = await person_row(bot, worker)
    arrivals = bot.core.subscribe()
    await push(bot, ids, "Meeting notice", lane=Lane.BULK)
    delivered: list[int] = []
    while len(delivered) < 5:
        delivered.append((await arrivals.get()).chat_id)
    await push(bot, [worker_id], "New task")
    await bot.settle()
    while not arrivals.empty():
        event = arrivals.get_nowait()
        if event.kind == "message":
            delivered.append(event.chat_id)
    bot.core.unsubscribe(arrivals)
    assert len(delivered) == 41
    # The task overtakes the rest of the notice: it is among the first few after it was queued.
    assert delivered.index(worker.id) < 5 + runtime_of(bot.app).services.settings.outbox_concurrency + 2


async def test_a_crash_mid_send_loses_nothing_and_only_in_flight_rows_repeat(bot: BotHarness) -> None:
    """Kill while a request is in flight (Telegram got it, the bot never heard back), then restart."""
    alice, bob = bot.person("Alice"), bot.person("Bob")
    alice_id, bob_id = await person_row(bot, alice), await person_row(bot, bob)
    answer_lost = asyncio.Event()
    real_handle = bot.core.handle

    async def telegram_then_silence(method: str, params: Any, files: Any = None) -> Any:
        answer = await real_handle(method, params, files)
        if method == "sendMessage" and int(params["chat_id"]) == alice.id:
            answer_lost.set()
            await asyncio.Event().wait()  # the reply never reaches the bot
        return answer

    bot.core.handle = telegram_then_silence  # type: ignore[method-assign]
    (in_flight,) = await push(bot, [alice_id], "Sent once, maybe twice")
    await answer_lost.wait()
    (queued,) = await push(bot, [bob_id], "Queued at the crash", not_before=bot.clock.now() + timedelta(minutes=1))
    sender = runtime_of(bot.app).sender
    assert sender is not None
    await sender.stop(grace_seconds=0)  # the process dies: nothing after this point runs
    assert (await row(bot.services.db, in_flight))["state"] == "sending"

    bot.core.handle = real_handle  # type: ignore[method-assign]
    await bot.restart()
    await bot.advance(minutes=1)
    restarted = runtime_of(bot.app).sender
    assert restarted is not None and restarted.stats.recovered == 1
    assert [m.text for m in alice.inbox] == ["Sent once, maybe twice"] * 2
    assert [m.text for m in bob.inbox] == ["Queued at the crash"]
    recovered = await row(bot.services.db, in_flight)
    assert recovered["state"] == "sent" and recovered["possible_duplicate"] == 1
    assert (await row(bot.services.db, queued))["possible_duplicate"] == 0


# ---- what the outbox keeps ------------------------------------------------------------------------------

CONTENT = "params, buttons, photo, document, voice"
NO_CONTENT = ("{}", None, None, None, None)


async def content(db: Database, row_id: int) -> tuple[Any, ...]:
    return tuple(await db.fetch_one(f"SELECT {CONTENT} FROM outbox WHERE id = ?", (row_id,)) or ())


async def test_a_dropped_message_keeps_no_content(bot: BotHarness) -> None:
    """Dropped because its reason is gone, or because its recipient erased their data: never sent, so
    nothing it would have shown stays (a reporter's words, a photo's file id)."""
    async def gone(_db: Database, _subject: int) -> bool:
        return True

    outbox.register_drop_check("test.gone", gone)
    alice = bot.person("Alice")
    alice_id, erased = await person_row(bot, alice), await person_row(bot, bot.person("Gone"))
    photo = bot.core.store_photo(tiny_png())[-1]["file_id"]
    words = {"words": "Mrs Li in 302 has the key", "phone": "13800000001"}
    buttons = [[Button("Reply", "rp:1")]]
    (gone,) = await push(bot, [alice_id], "{words} {phone}", params=words, buttons=buttons, photo=photo,
                         reason=("test.gone", 1))
    (to_erased,) = await push(bot, [erased], "{words} {phone}", params=words, buttons=buttons, photo=photo)
    async with bot.services.db.transaction() as conn:
        await conn.execute("UPDATE people SET erased_at = ? WHERE id = ?", (to_db(bot.clock.now()), erased))
    (sent,) = await push(bot, [alice_id], "{words} {phone}", params=words, buttons=buttons, photo=photo)
    await bot.settle()
    assert [m.text for m in alice.inbox] == ["Mrs Li in 302 has the key 13800000001"]
    for dropped in (gone, to_erased):
        assert (await row(bot.services.db, dropped))["state"] == "dropped"
        assert await content(bot.services.db, dropped) == NO_CONTENT
    assert (await content(bot.services.db, sent))[0] == json.dumps(words, ensure_ascii=False)  # kept a while


async def test_a_message_in_flight_when_its_recipient_erases_their_data_is_not_recorded_as_sent(
    bot: BotHarness,
) -> None:
    """Telegram has it already; the row stays as erasure left it, with no chat id and no content, and the
    window its delivery would have started does not start."""
    started: list[int] = []

    async def start_window(_conn: Connection, subject: int, _at: datetime) -> None:
        started.append(subject)

    outbox.register_delivered_hook("test.erased_window", start_window)
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    in_flight, release = asyncio.Event(), asyncio.Event()
    real_handle = bot.core.handle

    async def slow_telegram(method: str, params: Any, files: Any = None) -> Any:
        answer = await real_handle(method, params, files)
        in_flight.set()
        await release.wait()
        return answer

    bot.core.handle = slow_telegram  # type: ignore[method-assign]
    (row_id,) = await push(bot, [alice_id], "Is it fixed, {name}?", params={"name": "Alice"},
                           buttons=[[Button("Yes", "v:1")]], on_delivered=("test.erased_window", 1))
    await in_flight.wait()
    async with bot.services.db.transaction() as conn:
        await outbox.erase_person(conn, alice_id)
    release.set()
    await bot.settle()
    bot.core.handle = real_handle  # type: ignore[method-assign]
    assert [m.text for m in alice.inbox] == ["Is it fixed, Alice?"]
    erased = await row(bot.services.db, row_id)
    assert (erased["state"], erased["last_error"], erased["telegram_chat_id"]) == ("dropped", outbox.ERASED, None)
    assert await content(bot.services.db, row_id) == NO_CONTENT
    assert started == []


async def sweeps(db: Database, state: str) -> list[str]:
    rows = await db.fetch_all(
        "SELECT due_at FROM timers WHERE kind = ? AND state = ? ORDER BY id", (outbox.RETENTION, state)
    )
    return [r["due_at"] for r in rows]


async def test_sent_messages_lose_their_content_after_the_kept_days_and_survive_a_restart(
    bot: BotHarness,
) -> None:
    """OUTBOX_KEEP_DAYS (30) after delivery a message keeps only its row: who, when, which message, how it
    went. A message still waiting keeps what it will show, however old."""
    db, start = bot.services.db, bot.clock.now()
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    photo = bot.core.store_photo(tiny_png())[-1]["file_id"]
    (old,) = await push(bot, [alice_id], "Task {number}: {words}", params={"number": "R-1", "words": "flat 302"},
                        buttons=[[Button("Accept", "tk:a:1")]], photo=photo)
    (waiting,) = await push(bot, [alice_id], "In 40 days: {what}", params={"what": "meeting"},
                            not_before=start + timedelta(days=40))
    await bot.settle()
    await bot.advance(days=20, step=timedelta(days=1))
    (recent,) = await push(bot, [alice_id], "Task {number}", params={"number": "R-2"})
    await bot.advance(days=9, step=timedelta(days=1))
    assert (await content(db, old))[0] != "{}"  # day 29: still kept
    await bot.restart()
    db = bot.services.db
    await bot.advance(days=2, step=timedelta(hours=12))
    assert await content(db, old) == NO_CONTENT
    kept = await row(db, old)
    assert (kept["state"], kept["template"], kept["telegram_chat_id"]) == ("sent", "Task {number}: {words}", alice.id)
    assert json.loads((await row(db, waiting))["params"]) == {"what": "meeting"}
    assert json.loads((await row(db, recent))["params"]) == {"number": "R-2"}
    # One sweep a day, across the restart; the next one is due a day after the last.
    assert await sweeps(db, "pending") == [to_db(bot.clock.now() + timedelta(days=1))]
    assert len(await sweeps(db, "fired")) == 32  # at start, then every day for 31 days


async def test_a_backlog_is_cleared_in_batches_each_in_its_own_transaction(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "RETENTION_BATCH", 2)
    alice = bot.person("Alice")
    alice_id = await person_row(bot, alice)
    queued = [(await push(bot, [alice_id], "Hello {n}", params={"n": n}))[0] for n in range(5)]
    await bot.settle()
    bot.clock.advance(timedelta(days=31))
    await bot.settle()
    assert [await content(bot.services.db, r) for r in queued] == [NO_CONTENT] * 5
    # Each firing is a transaction of its own: the first at start, then 2 + 2 + 1 rows.
    assert len(await sweeps(bot.services.db, "fired")) == 1 + 3
    assert await sweeps(bot.services.db, "pending") == [to_db(bot.clock.now() + timedelta(days=1))]

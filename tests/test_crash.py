"""The bot killed with SIGKILL in the middle of a burst of reports, then started again.

The bot runs as its own process (`python -m bot run`) against the offline Telegram served over HTTP in
this test's process; residents act only through the server's control endpoints, as people on phones
would. After the restart every resident finishes. Then: every report whose number a resident was told is
in the store, no report was filed twice, and every report's task reached a grid worker.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.clock import SystemClock
from bot.domain.people import Role
from bot.sandbox.fake_http import FakeTelegramServer
from bot.sandbox.fake_telegram import FakeTelegram
from bot.storage.db import Database
from tests.reports_street import add_person, seed_street

TOKEN = "123456:CRASH-TEST"
RESIDENTS = 40
KILL_AFTER = 8  # acknowledged reports before the kill: the others are mid-flow
REPORT_PATH = ("cat:lighting", "done", "home", "urgent:0", "anon:0", "diff", "confirm")
ACK = re.compile(r"Report (R-\d{4}-\d+) received")
NUMBER = re.compile(r"R-\d{4}-\d+")
TASK = re.compile(r"Task (R-\d{4}-\d+)")
WORKERS = 4  # tasks spread over the grid's workers; Telegram lets one chat get about one message a second
QUIET = 4.0  # seconds without a reply before a resident tries again (the bot may be down)
POLL = 0.1


@dataclass
class Street:
    server: FakeTelegramServer
    client: httpx.AsyncClient
    database: Path
    residents: list[int]
    workers: list[int]


@pytest.fixture
async def street(tmp_path: Path) -> AsyncIterator[Street]:
    core = FakeTelegram(token=TOKEN)
    server = FakeTelegramServer(core)
    await server.start()
    residents = [int(core.add_user(f"Resident {n}", language_code="en")["id"]) for n in range(RESIDENTS)]
    workers = [int(core.add_user(f"Worker {n}", language_code="en")["id"]) for n in range(WORKERS)]
    database = tmp_path / "crash.db"
    db = Database(database)
    await db.open()
    await db.migrate()
    now = SystemClock().now()
    place = await seed_street(db, now)
    for number, telegram_id in enumerate(workers):
        await add_person(db, now, telegram_id=telegram_id, name=f"Worker {number}", role=Role.GRID_WORKER,
                         scope_id=place.north)
    for number, telegram_id in enumerate(residents):
        await add_person(db, now, telegram_id=telegram_id, name=f"Resident {number}",
                         building_id=place.building_a, phone=f"1380000{number:04d}")
    await db.close()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
        yield Street(server, client, database, residents, workers)
    await server.stop()


async def chat(client: httpx.AsyncClient, telegram_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/_control/chats/{telegram_id}/messages")
    return response.json()["messages"]  # type: ignore[no-any-return]


def bot_texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages if m["from"]["is_bot"]]


def acknowledged(messages: list[dict[str, Any]]) -> list[str]:
    return [match[1] for text in bot_texts(messages) if (match := ACK.search(text))]


def listed(messages: list[dict[str, Any]]) -> list[str]:
    """Report numbers on the newest /myreports list in the chat."""
    lists = [m for m in messages if m["from"]["is_bot"] and "mr:o:" in str(m.get("reply_markup"))][-1:]
    rows = lists[0]["reply_markup"]["inline_keyboard"] if lists else []
    return [match[0] for row in rows for button in row if (match := NUMBER.search(button["text"]))]


async def file_a_report(client: httpx.AsyncClient, resident: int) -> None:
    """Read the chat, do the next step of /report and wait for the bot to answer, until a number comes.

    A step the bot never answered (it was killed) or a button that expired is retried by sending /report,
    which shows the report in progress again with fresh buttons. Once Confirm was pressed, a careful
    resident first looks in /myreports: the report may have been filed with its acknowledgement lost.
    """
    answered, confirmed, looked = True, False, False
    while True:
        messages = await chat(client, resident)
        if acknowledged(messages) or listed(messages):
            return
        asking = [m for m in messages if m["from"]["is_bot"]][-1:]  # a flow shows its step last
        rows = (asking[0].get("reply_markup") or {}).get("inline_keyboard", []) if asking else []
        data = [button.get("callback_data", "") for row in rows for button in row]
        flow = [item for item in data if item.startswith("f:")]
        wanted = [item for item in flow if item.split(":", 2)[2].startswith(REPORT_PATH)]
        if not answered or not flow:
            looked = confirmed and not looked
            text = "/myreports" if looked else "/report"
            await client.post("/_control/send", json={"user_id": resident, "text": text})
        elif wanted:
            confirmed = confirmed or wanted[0].endswith(":confirm")
            await client.post(
                "/_control/press",
                json={"user_id": resident, "chat_id": resident, "message_id": asking[0]["message_id"],
                      "data": wanted[0]},
            )
        else:
            await client.post("/_control/send", json={"user_id": resident, "text": "The stair light is out"})
        answered = await changed(client, resident, messages)


def from_bot(messages: list[dict[str, Any]]) -> list[tuple[int, int | None, str | None]]:
    return [(m["message_id"], m.get("edit_date"), m.get("text")) for m in messages if m["from"]["is_bot"]]


async def changed(client: httpx.AsyncClient, resident: int, before: list[dict[str, Any]]) -> bool:
    """Wait for the bot to add or edit a message in the chat; False after QUIET seconds of silence."""
    seen = from_bot(before)
    deadline = asyncio.get_running_loop().time() + QUIET
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(POLL)
        if from_bot(await chat(client, resident)) != seen:
            await asyncio.sleep(POLL)  # a step may take two messages (a note, then the step again)
            return True
    return False


class Bot:
    """The bot process, its log, and a check that it is still healthy."""

    def __init__(self, street: Street, log: Path) -> None:
        self.street = street
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": self.street.server.base_url,
            "DATABASE_PATH": str(self.street.database),
            "LOG_LEVEL": "WARNING",
            # Quiet hours would hold the task pushes when this runs at night.
            "QUIET_HOURS_START": "00:00",
            "QUIET_HOURS_END": "00:00",
        }
        with self.log.open("a") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=self.log.parent, stdout=output, stderr=output
            )

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def check(self) -> None:
        """Fail at once, with the log, when the bot crashed on its own or a handler failed."""
        output = self.log.read_text() if self.log.exists() else ""
        running = self.process is not None and self.process.returncode is None
        assert running, f"the bot exited:\n{output[-3000:]}"
        assert "Traceback" not in output, output[-3000:]

    async def wait_until(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Poll `check` until it holds; the caller bounds the wait with `asyncio.timeout`."""
        while not await check():
            self.check()
            await asyncio.sleep(0.05)


async def test_sigkill_during_a_burst_of_reports_loses_and_doubles_nothing(
    street: Street, tmp_path: Path
) -> None:
    client = street.client
    bot = Bot(street, tmp_path / "bot.log")
    await bot.start()
    residents = [asyncio.create_task(file_a_report(client, resident)) for resident in street.residents]
    try:

        async def some_acknowledged() -> bool:
            count = sum(task.done() for task in residents)
            assert count < RESIDENTS, "the burst ended before the kill; raise RESIDENTS"
            return count >= KILL_AFTER

        async with asyncio.timeout(60):
            await bot.wait_until(some_acknowledged)
        await bot.kill()
        await bot.start()

        async def everyone_acknowledged() -> bool:
            return all(task.done() for task in residents)

        try:
            async with asyncio.timeout(120):
                await bot.wait_until(everyone_acknowledged)
        except TimeoutError:
            waiting = [r for r, task in zip(street.residents, residents, strict=True) if not task.done()]
            raise AssertionError(f"{len(waiting)} residents never got a number; the first one's chat:\n"
                                 + "\n".join(bot_texts(await chat(client, waiting[0]))[-8:])) from None
        chats = [await chat(client, resident) for resident in street.residents]
        numbers_told = {n for messages in chats for n in acknowledged(messages) + listed(messages)}

        async def every_task_arrived() -> bool:
            texts = [text for worker in street.workers for text in bot_texts(await chat(client, worker))]
            return {m[1] for text in texts if (m := TASK.search(text))} >= numbers_told

        async with asyncio.timeout(60):
            await bot.wait_until(every_task_arrived)
        bot.check()
    finally:
        for task in residents:
            task.cancel()
        await bot.stop()

    db = Database(street.database)
    await db.open()
    try:
        stored = await db.fetch_all(
            "SELECT r.number, p.telegram_id, r.assignee_id, r.assignment_event FROM reports r "
            "JOIN people p ON p.id = r.reporter_id"
        )
        tasks = await db.fetch_all(
            "SELECT reason_id, state FROM outbox "
            "WHERE reason_kind = 'report.assignment' AND template LIKE '%Task%'"
        )
    finally:
        await db.close()
    assert len(numbers_told) == RESIDENTS
    assert numbers_told <= {row["number"] for row in stored}
    filed_by = Counter(row["telegram_id"] for row in stored)
    assert filed_by == Counter(street.residents), "a resident's report was filed twice (or not at all)"
    assert all(row["assignee_id"] is not None for row in stored)
    task_rows = {row["reason_id"]: row["state"] for row in tasks}
    assert all(task_rows.get(row["assignment_event"]) == "sent" for row in stored), task_rows

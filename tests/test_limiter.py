"""The flood limiter on virtual time: rates, bursts, lanes, 429 pauses and what it never retries."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import Forbidden, RetryAfter

from bot.delivery.limiter import BULK, INTERACTIVE, FloodLimiter


class VirtualTime:
    """A monotonic clock and a sleep that only move when every task is waiting: no wall clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), future))
        await future

    async def run(self, *work: Coroutine[Any, Any, Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(item) for item in work]
        while not all(task.done() for task in tasks):
            for _ in range(20):
                await asyncio.sleep(0)
            if all(task.done() for task in tasks):
                break
            assert self._sleepers, "every task waits on something other than time"
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            future.set_result(None)
        return [task.result() for task in tasks]

    async def at(self, moment: float, work: Coroutine[Any, Any, Any]) -> Any:
        await self.sleep(moment - self.now)
        return await work


class Telegram:
    """Records when each request reached it; can answer with errors first."""

    def __init__(self, clock: VirtualTime, errors: list[Exception] | None = None) -> None:
        self.clock = clock
        self.errors = list(errors or [])
        self.calls: list[tuple[float, str, object]] = []

    async def call(self, endpoint: str, chat_id: object) -> bool:
        self.calls.append((self.clock.now, endpoint, chat_id))
        if self.errors:
            raise self.errors.pop(0)
        return True


@pytest.fixture
def clock() -> VirtualTime:
    return VirtualTime()


def limiter_on(clock: VirtualTime, **options: Any) -> FloodLimiter:
    return FloodLimiter(30.0, monotonic=clock.monotonic, sleep=clock.sleep, **options)


def request(
    limiter: FloodLimiter,
    telegram: Telegram,
    chat_id: object,
    lane: str | None = None,
    endpoint: str = "sendMessage",
) -> Coroutine[Any, Any, Any]:
    return limiter.process_request(
        telegram.call, (endpoint, chat_id), {}, endpoint, {"chat_id": chat_id}, lane
    )


async def test_overall_rate_is_thirty_a_second(clock: VirtualTime) -> None:
    limiter, telegram = limiter_on(clock), Telegram(clock)
    await clock.run(*(request(limiter, telegram, 1000 + n, BULK) for n in range(150)))
    times = [t for t, _, _ in telegram.calls]
    assert len(times) == 150
    # Steady state is 30/s: 150 messages take about 5 s, and no second ever holds more than 30 + a burst.
    assert 4.7 <= times[-1] <= 5.1
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) <= 32


async def test_one_private_chat_gets_a_short_burst_then_one_a_second(clock: VirtualTime) -> None:
    limiter, telegram = limiter_on(clock), Telegram(clock)
    await clock.run(*(request(limiter, telegram, 42) for _ in range(6)))
    times = [round(t, 2) for t, _, _ in telegram.calls]
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3:] == pytest.approx([1.0, 2.0, 3.0], abs=0.05)


async def test_a_group_gets_twenty_a_minute(clock: VirtualTime) -> None:
    limiter, telegram = limiter_on(clock), Telegram(clock)
    await clock.run(*(request(limiter, telegram, -1001) for _ in range(5)))
    times = [t for t, _, _ in telegram.calls]
    assert times[3:] == pytest.approx([3.0, 6.0], abs=0.05)


async def test_a_reply_overtakes_a_running_broadcast(clock: VirtualTime) -> None:
    limiter, telegram = limiter_on(clock), Telegram(clock)
    broadcast = [request(limiter, telegram, 1000 + n, BULK) for n in range(90)]
    await clock.run(*broadcast, clock.at(1.0, request(limiter, telegram, 7)),
                    clock.at(1.0, request(limiter, telegram, 8, INTERACTIVE)))
    sent = {chat: t for t, _, chat in telegram.calls}
    # Both go within a tick of asking, while about 60 bulk messages still wait.
    assert sent[7] - 1.0 < 0.1
    assert sent[8] - 1.0 < 0.15
    assert sum(1 for t in sent.values() if t > sent[8]) > 50


async def test_retry_after_pauses_everything_and_retries(clock: VirtualTime) -> None:
    limiter = limiter_on(clock)
    telegram = Telegram(clock, errors=[RetryAfter(3)])
    results = await clock.run(request(limiter, telegram, 1), clock.at(0.5, request(limiter, telegram, 2)))
    assert results == [True, True]
    assert limiter.http_429 == 1
    (first, _, _), (retried, _, chat_a), (other, _, chat_b) = telegram.calls
    assert first == 0.0
    assert {chat_a, chat_b} == {1, 2}
    assert min(retried, other) >= 3.0


async def test_retry_after_as_timedelta_is_honoured(
    clock: VirtualTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    limiter = limiter_on(clock)
    telegram = Telegram(clock, errors=[RetryAfter(timedelta(seconds=2))])
    await clock.run(request(limiter, telegram, 1))
    assert [t for t, _, _ in telegram.calls][1] >= 2.0
    assert limiter.http_429 == 1


async def test_gives_up_after_its_retries(clock: VirtualTime) -> None:
    limiter = limiter_on(clock, max_retries=2)
    telegram = Telegram(clock, errors=[RetryAfter(1)] * 3)
    with pytest.raises(RetryAfter):
        await clock.run(request(limiter, telegram, 1))
    assert limiter.http_429 == 3


async def test_other_errors_go_back_to_the_caller_untried(clock: VirtualTime) -> None:
    limiter = limiter_on(clock)
    telegram = Telegram(clock, errors=[Forbidden("Forbidden: bot was blocked by the user")])
    with pytest.raises(Forbidden):
        await clock.run(request(limiter, telegram, 1))
    assert len(telegram.calls) == 1


async def test_edits_and_button_answers_are_not_messages(clock: VirtualTime) -> None:
    limiter, telegram = limiter_on(clock), Telegram(clock)
    await clock.run(*(request(limiter, telegram, 42, endpoint="editMessageText") for _ in range(10)))
    assert {t for t, _, _ in telegram.calls} == {0.0}


async def test_pass_through_mode_does_not_wait(clock: VirtualTime) -> None:
    limiter, telegram = limiter_on(clock, passthrough=True), Telegram(clock)
    await clock.run(*(request(limiter, telegram, 42) for _ in range(10)))
    assert {t for t, _, _ in telegram.calls} == {0.0}

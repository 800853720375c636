"""One flood limiter for every request the bot makes: Telegram's limits, kept before Telegram enforces them.

Telegram allows about 30 messages a second overall, about 1 a second to one private chat (short
bursts pass) and 20 a minute to one group; past that it answers 429 with `retry_after`. Each limit is a
token bucket here. Lanes share the overall bucket unequally: a bulk notice only takes a token while a
few are left over, an interactive push while one is, and a reply to the person who just wrote takes
the last one. So a 10,000-person notice runs at the full rate, yet a reply or a new task never queues
behind it. The lane comes from `rate_limit_args` ("reply", "interactive", "bulk"); handlers' own calls
carry none and count as replies, the outbox names its lane.

On 429 every request pauses for `retry_after` (int seconds, or a timedelta when PTB_TIMEDELTA is set)
and the failed one is tried again; other errors go straight back to the caller (the sender decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

REPLY = "reply"
INTERACTIVE = "interactive"
BULK = "bulk"
# Tokens each lane must leave in the overall bucket: what lower lanes leave, higher lanes may use.
RESERVE = {REPLY: 0.0, INTERACTIVE: 1.0, BULK: 2.0}
GLOBAL_BURST = 4.0
# Above this many per-chat buckets, full (idle) ones are forgotten.
_PRUNE_ABOVE = 5000
# The limits are about messages; edits, button answers and chat actions are not counted by Telegram's.
_NOT_MESSAGES = frozenset({"sendChatAction"})
_ALSO_MESSAGES = frozenset({"copyMessage", "copyMessages", "forwardMessage", "forwardMessages"})

# Refills are sums of floats: a shortfall this small is rounding, not a reason to sleep.
_ROUNDING = 1e-9

Result = bool | dict[str, Any] | list[dict[str, Any]]


class TokenBucket:
    """`rate` tokens a second up to `capacity`; starts full."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, need: float) -> float:
        """Seconds until `need` tokens are there (0 when they already are, give or take rounding)."""
        missing = need - self.tokens
        return 0.0 if missing <= _ROUNDING else missing / self.rate

    def empty_until(self, moment: float) -> None:
        """Nothing accumulates before `moment` (after a 429 Telegram's own bucket is empty too)."""
        self.tokens = 0.0
        self.updated = max(self.updated, moment)


class FloodLimiter(BaseRateLimiter[str]):
    def __init__(
        self,
        global_rate_per_s: float = 30.0,
        *,
        private_rate_per_s: float = 1.0,
        private_burst: float = 3.0,
        group_per_minute: float = 20.0,
        group_burst: float = 3.0,
        max_retries: int = 5,
        passthrough: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.passthrough = passthrough
        self.max_retries = max_retries
        self.http_429 = 0
        self._monotonic = monotonic
        self._sleep = sleep
        self._private = (private_rate_per_s, private_burst)
        self._group = (group_per_minute / 60.0, group_burst)
        self._global = TokenBucket(global_rate_per_s, GLOBAL_BURST, monotonic())
        self._chats: dict[int | str, TokenBucket] = {}
        self._paused_until = 0.0

    async def initialize(self) -> None:
        """Nothing to open: buckets live in memory and start full."""

    async def shutdown(self) -> None:
        self._chats.clear()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> Result:
        lane = rate_limit_args if rate_limit_args in RESERVE else REPLY
        chat_id = _chat_key(data.get("chat_id")) if _is_message(endpoint) else None
        attempt = 0
        while True:
            if not self.passthrough:
                await self._acquire(chat_id, lane)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.http_429 += 1
                seconds = _seconds(exc.retry_after)
                self._pause(seconds)
                log.warning("Telegram asked to pause %.1f s (%s to %s); 429 number %d",
                            seconds, endpoint, lane, self.http_429)
                if attempt >= self.max_retries or self.passthrough:
                    raise
                attempt += 1

    def _pause(self, seconds: float) -> None:
        until = self._monotonic() + seconds
        self._paused_until = max(self._paused_until, until)
        self._global.empty_until(self._paused_until)

    async def _acquire(self, chat_id: int | str | None, lane: str) -> None:
        """Per-chat token first (so a slow chat holds no overall token), then the overall one.

        Requests that send no message to a chat (edits, button answers, command lists) pass freely.
        """
        if chat_id is None:
            return
        await self._take(self._chat_bucket(chat_id), 1.0)
        await self._take(self._global, 1.0 + RESERVE[lane])

    async def _take(self, bucket: TokenBucket, need: float) -> None:
        while True:
            now = self._monotonic()
            if now < self._paused_until:
                await self._sleep(self._paused_until - now)
                continue
            bucket.refill(now)
            delay = bucket.wait_for(need)
            if delay <= 0:
                bucket.tokens -= 1.0
                return
            await self._sleep(delay)

    def _chat_bucket(self, chat_id: int | str) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            now = self._monotonic()
            if len(self._chats) > _PRUNE_ABOVE:
                self._prune(now)
            is_group = isinstance(chat_id, str) or chat_id < 0
            rate, burst = self._group if is_group else self._private
            bucket = self._chats[chat_id] = TokenBucket(rate, burst, now)
        return bucket

    def _prune(self, now: float) -> None:
        for key, bucket in list(self._chats.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.capacity:
                del self._chats[key]


def _is_message(endpoint: str) -> bool:
    return (endpoint.startswith("send") and endpoint not in _NOT_MESSAGES) or endpoint in _ALSO_MESSAGES


def _chat_key(chat_id: object) -> int | str | None:
    """Integer chat ids as ints ("-100…" strings included); @channel names stay strings."""
    if chat_id is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return int(chat_id)  # type: ignore[call-overload, no-any-return]
    return str(chat_id)


def _seconds(retry_after: int | float | timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)

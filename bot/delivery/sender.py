"""The long-lived sender: takes due outbox rows and delivers them, at least once, under the flood limits.

It is an asyncio task started with the bot (not a JobQueue job: those block shutdown and skip late
runs) and woken by every commit, so a push queued by a handler leaves as soon as its transaction
commits. Several requests are in flight at once (OUTBOX_CONCURRENCY); the flood limiter spaces them.

A row goes pending → sending (committed before the request) → sent (with delivered_at and the message
id). A crash between the two leaves it 'sending': at start-up such rows are sent again, and counted
and logged as possible duplicates, since Telegram has no idempotency key. Nothing is lost.

Quiet hours are applied when a row is picked, not when it is queued: what matters is when the phone
buzzes, so a row queued at 21:59 that waits behind a broadcast, or a retry that falls at 23:00, still
waits for the morning; and a change of the setting applies to rows already queued. Urgent rows go now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode

from bot.clock import from_db, to_db
from bot.delivery.errors import Failure, Verdict, classify
from bot.delivery.outbox import (
    ERASED,
    Lane,
    OutboxMessage,
    Rendered,
    delivered_hook,
    drop,
    drop_check,
    refreshed,
    render,
)
from bot.services.container import Services
from bot.storage import people
from bot.storage.db import Connection

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(minutes=30)
# The longest the sender sleeps without being woken: a safety net, not the way work arrives.
IDLE_POLL_SECONDS = 30.0
# Candidates read per free slot, so that rows to a chat already in flight can be passed over.
_CANDIDATES_PER_SLOT = 4
_COLUMNS = (
    "o.id, o.lane, o.person_id, o.chat_id, o.template, o.params, o.buttons, o.photo, o.document, o.voice, "
    "o.urgent, o.reason_kind, o.reason_id, o.delivered_kind, o.delivered_id, o.attempts, "
    "p.telegram_id, p.locale, p.unreachable_at IS NOT NULL AS unreachable, p.erased_at IS NOT NULL AS erased"
)


@dataclass
class SenderStats:
    sent: int = 0
    dropped: int = 0
    failed: int = 0
    dead: int = 0
    retried: int = 0
    # Rows found 'sending' at start-up: sent again, so they may arrive twice.
    recovered: int = 0


@dataclass(frozen=True)
class _Job:
    message: OutboxMessage
    chat_id: int
    telegram_id: int | None
    locale: str


@dataclass
class _Pick:
    jobs: list[_Job] = field(default_factory=list)
    closed: list[tuple[int, str, str]] = field(default_factory=list)  # (row id, state, reason)


def retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, … up to 30 minutes."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


class Sender:
    def __init__(self, services: Services, bot: Bot, *, concurrency: int | None = None) -> None:
        self.services = services
        self.bot = bot
        self.concurrency = concurrency or services.settings.outbox_concurrency
        self.stats = SenderStats()
        self._wake = asyncio.Event()
        self._wakes = 0
        self._idle_after = -1
        self._idle = asyncio.Condition()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._busy_chats: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Recover rows a crash left in flight, then start the loop; every commit wakes it."""
        await self._recover()
        self.services.db.on_commit(self.wake)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    def wake(self) -> None:
        self._wakes += 1
        self._wake.set()

    async def drain(self) -> None:
        """Return once nothing due is pending and nothing is in flight (tests, the sandbox's demo steps)."""
        self.wake()
        target = self._wakes
        async with self._idle:
            while self._idle_after < target:
                if self._task is None or self._task.done():
                    raise RuntimeError("the outbox sender is not running")
                await self._idle.wait()

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop taking rows, let requests in flight finish (those cut off stay 'sending' for recovery)."""
        if self._task is None:
            return
        self._stopping = True
        self.wake()
        await self._task
        self._task = None
        tasks = list(self._in_flight.values())
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        log.info("outbox sender stopped: %s", self.stats)

    async def _recover(self) -> None:
        now = self.services.clock.now()
        async with self.services.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE outbox SET state = 'pending', possible_duplicate = 1, due_at = ? "
                "WHERE state = 'sending' RETURNING id",
                (to_db(now),),
            )
            ids = sorted(row[0] for row in await cursor.fetchall())
            await cursor.close()
        self.stats.recovered += len(ids)
        if ids:
            log.warning(
                "%d outbox rows were in flight when the bot stopped; sending them again, they may arrive "
                "twice (ids %s%s)", len(ids), ids[:20], " …" if len(ids) > 20 else "",
            )

    async def _run(self) -> None:
        try:
            while not self._stopping:
                seen = self._wakes
                self._wake.clear()
                timeout = IDLE_POLL_SECONDS
                try:
                    started = await self._start_due()
                    if not started and not self._in_flight:
                        timeout = await self._seconds_to_next_due()
                        # Idle only if nothing happened during the pass: a send that ended meanwhile
                        # may have freed a chat this pass skipped.
                        if self._wakes == seen:
                            async with self._idle:
                                self._idle_after = seen
                                self._idle.notify_all()
                except Exception:
                    log.exception("outbox sender pass failed; trying again")
                    timeout = 1.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            async with self._idle:
                self._idle.notify_all()

    async def _start_due(self) -> int:
        """Claim what is due for the free slots (interactive lane first) and start sending it."""
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        pick = await self._pick(free)
        if not pick.jobs and not pick.closed:
            return 0
        now = self.services.clock.now()
        async with self.services.db.transaction() as conn:
            claimed: set[int] = set()
            if pick.jobs:
                ids = [job.message.id for job in pick.jobs]
                cursor = await conn.execute(
                    f"UPDATE outbox SET state = 'sending', attempts = attempts + 1, sending_at = ? "
                    f"WHERE state = 'pending' AND id IN ({','.join('?' * len(ids))}) RETURNING id",
                    (to_db(now), *ids),
                )
                claimed = {row[0] for row in await cursor.fetchall()}
                await cursor.close()
            for row_id, state, reason in pick.closed:
                await _close_row(conn, row_id, state, reason, held="pending")
        for row_id, state, _reason in pick.closed:
            self._count(state)
            log.info("outbox row %d %s without sending", row_id, state)
        for job in pick.jobs:
            if job.message.id in claimed:
                self._busy_chats.add(job.chat_id)
                self._in_flight[job.message.id] = asyncio.create_task(self._deliver(job))
        return len(claimed) + len(pick.closed)

    async def _pick(self, free: int) -> _Pick:
        """Due rows, one per chat not already in flight; rows to people gone or unreachable are closed."""
        now = self.services.clock.now()
        urgent_only = self.services.quiet_hours.release_time(now) > now
        pick = _Pick()
        chats = set(self._busy_chats)
        for lane in Lane:
            wanted = free - len(pick.jobs)
            if wanted <= 0:
                break
            rows = await self.services.db.fetch_all(
                f"SELECT {_COLUMNS} FROM outbox o LEFT JOIN people p ON p.id = o.person_id "
                "WHERE o.state = 'pending' AND o.lane = ? AND o.due_at <= ? "
                f"{'AND o.urgent = 1 ' if urgent_only else ''}ORDER BY o.due_at, o.id LIMIT ?",
                (int(lane), to_db(now), wanted * _CANDIDATES_PER_SLOT),
            )
            for row in rows:
                if len(pick.jobs) >= free:
                    break
                message = OutboxMessage.from_row(row)
                if message.person_id is not None:
                    if row["erased"]:
                        pick.closed.append((message.id, "dropped", ERASED))
                        continue
                    if row["unreachable"] or row["telegram_id"] is None:
                        reason = "unreachable" if row["unreachable"] else "no Telegram account yet"
                        pick.closed.append((message.id, "failed", reason))
                        continue
                chat_id = row["telegram_id"] if message.person_id is not None else message.chat_id
                if chat_id in chats:
                    continue
                chats.add(chat_id)
                locale = row["locale"] or self.services.settings.default_locale
                pick.jobs.append(_Job(message, chat_id, row["telegram_id"], locale))
        return pick

    async def _seconds_to_next_due(self) -> float:
        """How long nothing becomes due: the next row's time, or the end of quiet hours for held rows."""
        now = self.services.clock.now()
        release = self.services.quiet_hours.release_time(now)
        quiet = release > now
        value = await self.services.db.fetch_value(
            "SELECT MIN(due_at) FROM outbox WHERE state = 'pending' AND due_at > ?"
            + (" AND urgent = 1" if quiet else ""),
            (to_db(now),),
        )
        moments = [from_db(value)] if value else []
        if quiet:
            moments.append(release)
        if not moments:
            return IDLE_POLL_SECONDS
        return min(max((min(moments) - now).total_seconds(), 0.01), IDLE_POLL_SECONDS)

    async def _deliver(self, job: _Job) -> None:
        try:
            await self._attempt(job)
        except Exception:
            log.exception("outbox row %d: bookkeeping failed; 'sending' until restart", job.message.id)
        finally:
            # A migrated group's row may already be out again under its new chat id: leave that one be.
            if self._in_flight.get(job.message.id) is asyncio.current_task():
                del self._in_flight[job.message.id]
            self._busy_chats.discard(job.chat_id)
            self.wake()

    async def _attempt(self, job: _Job) -> None:
        message = job.message
        if message.reason is not None:
            check = drop_check(message.reason[0])
            if check is not None and await check(self.services.db, message.reason[1]):
                kind, subject = message.reason
                await self._close(message.id, "dropped", f"reason {kind} {subject} is gone")
                return
        current = await refreshed(self.services.db, message)
        try:
            rendered = render(
                current, locale=job.locale, tz=self.services.settings.tz, now=self.services.clock.now()
            )
            message_id = await self._send(job.chat_id, rendered, message.lane)
        except Exception as exc:
            await self._failed(job, classify(exc))
            return
        await self._sent(job, message_id)

    async def _send(self, chat_id: int, rendered: Rendered, lane: Lane) -> int:
        keyboard = rendered.keyboard
        rows = [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in keyboard]
        markup = InlineKeyboardMarkup(rows) if rows else None
        common: dict[str, Any] = {"chat_id": chat_id, "reply_markup": markup, "parse_mode": ParseMode.HTML}
        if getattr(self.bot, "rate_limiter", None) is not None:
            common["rate_limit_args"] = lane.limiter_lane
        if rendered.photo is not None:
            sent = await self.bot.send_photo(photo=rendered.photo, caption=rendered.text, **common)
        elif rendered.document is not None:
            sent = await self.bot.send_document(document=rendered.document, caption=rendered.text, **common)
        elif rendered.voice is not None:
            sent = await self.bot.send_voice(voice=rendered.voice, caption=rendered.text, **common)
        else:
            sent = await self.bot.send_message(text=rendered.text, **common)
        return sent.message_id

    async def _sent(self, job: _Job, message_id: int) -> None:
        message, db = job.message, self.services.db
        delivered_at = self.services.clock.now()
        hook = delivered_hook(message.on_delivered[0]) if message.on_delivered else None
        try:
            async with db.transaction() as conn:
                if not await self._mark_sent(conn, job, message_id, delivered_at, None):
                    log.info("outbox row %d was closed while in flight; its delivery is not recorded", message.id)
                elif message.on_delivered is not None:
                    if hook is None:
                        raise LookupError(f"no delivered hook registered for {message.on_delivered[0]!r}")
                    await hook(conn, message.on_delivered[1], delivered_at)
        except Exception as exc:
            log.exception("outbox row %d delivered, but its delivered hook failed", message.id)
            async with db.transaction() as conn:
                error = f"delivered hook failed: {exc}"[:500]
                await self._mark_sent(conn, job, message_id, delivered_at, error)
        self.stats.sent += 1

    @staticmethod
    async def _mark_sent(
        conn: Connection, job: _Job, message_id: int, delivered_at: datetime, error: str | None
    ) -> bool:
        """Record the delivery unless the row was closed meanwhile (its recipient erased their data: the
        chat it reached is not to be stored). True when recorded."""
        cursor = await conn.execute(
            "UPDATE outbox SET state = 'sent', delivered_at = ?, telegram_chat_id = ?, message_id = ?, "
            "last_error = ? WHERE id = ? AND state = 'sending'",
            (to_db(delivered_at), job.chat_id, message_id, error, job.message.id),
        )
        return cursor.rowcount > 0

    async def _failed(self, job: _Job, failure: Failure) -> None:
        message = job.message
        if failure.verdict is Verdict.UNREACHABLE:
            await self._unreachable(job, failure.reason)
        elif failure.verdict is Verdict.REJECTED:
            log.error("outbox row %d rejected by Telegram: %s", message.id, failure.reason)
            await self._close(message.id, "dead", failure.reason)
        elif failure.verdict is Verdict.MIGRATED and message.person_id is None:
            async with self.services.db.transaction() as conn:
                await conn.execute(
                    "UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND state IN ('pending', 'sending')",
                    (failure.new_chat_id, message.chat_id),
                )
            await self._retry(message, failure, timedelta(0))
        else:
            await self._retry(message, failure, failure.wait or retry_delay(message.attempts + 1))

    async def _retry(self, message: OutboxMessage, failure: Failure, wait: timedelta) -> None:
        if message.attempts + 1 >= MAX_ATTEMPTS:
            log.error("outbox row %d is dead after %d attempts: %s", message.id, MAX_ATTEMPTS, failure.reason)
            await self._close(message.id, "dead", failure.reason)
            return
        self.stats.retried += 1
        log.warning("outbox row %d will be tried again in %s: %s", message.id, wait, failure.reason)
        due_at = to_db(self.services.clock.now() + wait)
        async with self.services.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'pending', due_at = ?, last_error = ?, "
                "possible_duplicate = MAX(possible_duplicate, ?) WHERE id = ? AND state = 'sending'",
                (due_at, failure.reason, int(failure.maybe_delivered), message.id),
            )

    async def _unreachable(self, job: _Job, reason: str) -> None:
        """Mark the person (or group) unreachable and give up every row still queued to them."""
        message, now = job.message, self.services.clock.now()
        async with self.services.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ? AND state = 'sending'",
                (reason, message.id),
            )
            if message.person_id is not None:
                assert job.telegram_id is not None
                await people.mark_unreachable(conn, job.telegram_id, reason, now)
                cursor = await conn.execute(
                    "UPDATE outbox SET state = 'failed', last_error = 'unreachable' "
                    "WHERE person_id = ? AND state = 'pending'",
                    (message.person_id,),
                )
            else:
                cursor = await conn.execute(
                    "UPDATE outbox SET state = 'failed', last_error = 'unreachable' "
                    "WHERE chat_id = ? AND state = 'pending'",
                    (message.chat_id,),
                )
            skipped = cursor.rowcount
        self.stats.failed += 1 + skipped
        log.info("chat %d is unreachable (%s); %d queued rows given up", job.chat_id, reason, skipped)

    async def _close(self, row_id: int, state: str, reason: str) -> None:
        async with self.services.db.transaction() as conn:
            await _close_row(conn, row_id, state, reason, held="sending")
        self._count(state)

    def _count(self, state: str) -> None:
        setattr(self.stats, state, getattr(self.stats, state) + 1)


async def _close_row(conn: Connection, row_id: int, state: str, reason: str, *, held: str) -> None:
    """Close a row still `held` ('pending' when picked, 'sending' once claimed), so that a row erasure
    dropped meanwhile stays as it left it; a dropped row goes through `outbox.drop`, which clears it."""
    if state == "dropped":
        await drop(conn, reason, "id = ? AND state = ?", (row_id, held))
    else:
        await conn.execute(
            "UPDATE outbox SET state = ?, last_error = ? WHERE id = ? AND state = ?", (state, reason, row_id, held)
        )

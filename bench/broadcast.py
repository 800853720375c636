"""Broadcast benchmark: one notice to N residents through the real outbox, sender and flood limiter.

The bot runs as its own process (`python -m bot run`) against the offline Telegram served over HTTP
on 127.0.0.1, which enforces Telegram's limits as token buckets (answering 429 with retry_after) and
answers after about 150 ms of jittered latency. With `--kill-at`, the bot process is SIGKILLed once
that fraction of residents has the notice, then started again on the same database to finish.

    python bench/broadcast.py                         # quick: 1,000 residents, killed half-way
    python bench/broadcast.py --recipients 10000      # full
    python bench/broadcast.py --kill-at 0             # no kill: steady state only

Figures: seconds from the first delivery to the last (the kill and restart included), rate_ratio =
residents served per second / 30, http_429 = 429 answers Telegram gave, lost = residents who never got
the notice, duplicated = extra copies, in_flight_at_kill = rows marked 'sending' when the bot died
(the only rows that may go out twice). The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.clock import SystemClock  # noqa: E402
from bot.delivery.outbox import Lane, enqueue  # noqa: E402
from bot.sandbox.fake_http import FakeTelegramServer  # noqa: E402
from bot.sandbox.fake_telegram import FakeTelegram, FloodControl  # noqa: E402
from bot.storage import people  # noqa: E402
from bot.storage.db import Database  # noqa: E402

TELEGRAM_RATE = 30.0
TOKEN = "123456:BENCH"
NOTICE = "Residents' meeting on Saturday at 9:00 in the community hall. {name}, please come."
POLL_SECONDS = 0.05


@dataclass
class Outcome:
    recipients: int
    seconds: float
    http_429: int
    lost: int
    duplicated: int
    in_flight_at_kill: int

    @property
    def rate_ratio(self) -> float:
        delivered = self.recipients - self.lost
        return delivered / self.seconds / TELEGRAM_RATE if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"RESULT broadcast recipients={self.recipients} seconds={self.seconds:.1f} "
            f"rate_ratio={self.rate_ratio:.2f} http_429={self.http_429} lost={self.lost} "
            f"duplicated={self.duplicated} in_flight_at_kill={self.in_flight_at_kill}"
        )


class Deliveries:
    """Watches the offline Telegram: copies per resident chat and when the first and last arrived."""

    def __init__(self, core: FakeTelegram, chats: set[int]) -> None:
        self.chats = chats
        self.copies: Counter[int] = Counter()
        self.first: float | None = None
        self.last: float | None = None
        self._queue = core.subscribe()

    def collect(self) -> None:
        while not self._queue.empty():
            event = self._queue.get_nowait()
            if event.kind == "message" and event.chat_id in self.chats and event.message:
                if event.message["from"]["is_bot"]:
                    now = time.monotonic()
                    self.first = self.first if self.first is not None else now
                    self.last = now
                    self.copies[event.chat_id] += 1

    @property
    def served(self) -> int:
        return len(self.copies)


async def seed(db_path: Path, core: FakeTelegram, count: int) -> set[int]:
    """N residents in Telegram and in our store, and one bulk notice to all of them, queued in one go."""
    db = Database(db_path)
    await db.open()
    try:
        await db.migrate()
        now = SystemClock().now()
        chats: set[int] = set()
        async with db.transaction() as conn:
            ids = []
            for n in range(count):
                user = core.add_user(f"Resident {n}", language_code="zh-hans")
                chats.add(user["id"])
                ids.append(await people.insert(conn, now=now, telegram_id=user["id"], name=f"Resident {n}",
                                               locale="zh_Hans"))
            await enqueue(conn, now=now, recipients=ids, template=NOTICE, params={"name": "neighbour"},
                          lane=Lane.BULK)
        return chats
    finally:
        await db.close()


def rows_in(db_path: Path, state: str) -> int:
    with contextlib.closing(sqlite3.connect(db_path, timeout=10)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE state = ?", (state,)).fetchone()[0])


async def start_bot(base_url: str, db_path: Path, workdir: Path, log: Path) -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH")},
        "BOT_TOKEN": TOKEN,
        "BOT_API_URL": base_url,
        "DATABASE_PATH": str(db_path),
        "LOG_LEVEL": "WARNING",
        # Equal times turn quiet hours off: a bulk notice would otherwise wait for the street's morning.
        "QUIET_HOURS_START": "00:00",
        "QUIET_HOURS_END": "00:00",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=workdir, env=env, stdout=out, stderr=out
        )


async def stop_bot(process: asyncio.subprocess.Process) -> None:
    """SIGTERM lets the bot finish its requests and close; SIGKILL if it does not within 20 s."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 20)
    except TimeoutError:
        process.kill()
        await process.wait()


async def run(count: int, kill_at: float, latency: float, jitter: float, workdir: Path) -> Outcome:
    core = FakeTelegram(token=TOKEN, flood=FloodControl(), clock=lambda: datetime.now(UTC))
    server = FakeTelegramServer(core, latency=latency, jitter=jitter)
    await server.start()
    db_path, log = workdir / "bench.db", workdir / "bot.log"
    chats = await seed(db_path, core, count)
    deliveries = Deliveries(core, chats)
    print(f"{count} residents queued; bot log: {log}", flush=True)
    started = time.monotonic()
    process = await start_bot(server.base_url, db_path, workdir, log)
    in_flight_at_kill = 0
    killed = kill_at <= 0
    deadline = started + count / TELEGRAM_RATE * 3 + 120
    try:
        while deliveries.served < count and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            deliveries.collect()
            if process.returncode is not None:
                raise RuntimeError(f"the bot process exited with {process.returncode}; see {log}")
            if not killed and deliveries.served >= kill_at * count:
                process.kill()
                await process.wait()
                killed = True
                in_flight_at_kill = rows_in(db_path, "sending")
                print(f"SIGKILL after {deliveries.served} residents served, {in_flight_at_kill} rows in flight; "
                      "restarting", flush=True)
                process = await start_bot(server.base_url, db_path, workdir, log)
        # Let the last 'sent' marks land before counting copies.
        for _ in range(int(15 / POLL_SECONDS)):
            if not rows_in(db_path, "pending") + rows_in(db_path, "sending"):
                break
            await asyncio.sleep(POLL_SECONDS)
        deliveries.collect()
    finally:
        await stop_bot(process)
        await server.stop()
    if deliveries.first is not None:
        print(f"first delivery {deliveries.first - started:.1f} s after the bot process started", flush=True)
    seconds = (deliveries.last or started) - (deliveries.first or started)
    return Outcome(
        recipients=count,
        seconds=seconds,
        http_429=core.too_many_requests,
        lost=count - deliveries.served,
        duplicated=sum(copies - 1 for copies in deliveries.copies.values()),
        in_flight_at_kill=in_flight_at_kill,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=1000, help="1000 (quick, default) or 10000 (full)")
    parser.add_argument("--kill-at", type=float, default=0.5,
                        help="SIGKILL the bot once this fraction is served, then restart it (0: never)")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--jitter-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    workdir = ROOT / "bench" / "out" / f"broadcast-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    workdir.mkdir(parents=True)
    outcome = asyncio.run(run(args.recipients, args.kill_at, args.latency_ms / 1000, args.jitter_ms / 1000, workdir))
    print(outcome.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

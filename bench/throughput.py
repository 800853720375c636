"""Throughput benchmark: simulated residents file reports through the whole bot, against a bare PTB bot.

The real Application (handlers, drafts, SQLite, the outbox sender pushing each task to its grid worker)
runs against the offline Telegram through its in-process door, with the flood limiter in pass-through,
so what is measured is the bot's own cost rather than Telegram's limits or loopback HTTP. Residents of
the demo street each file a report through the /report flow (category, description, photos skipped,
their building, the remaining choices, confirm), reading the bot's buttons like a person does.

Updates are processed one at a time, as PTB does by default. Three runs, on one store:

- saturated: every resident at once; updates/s, CPU ms and Bot API calls per update, and the time one
  update takes to process (p50/p99), with the pushes the reports caused delivered before the clock stops;
- offered load: updates arriving at random (Poisson) at 100 a second; p50/p99 from arrival to handled;
- bare: a PTB bot with one handler that answers each message (and each button), driven the same way.

    python bench/throughput.py                 # 1,000 residents
    python bench/throughput.py --quick         # 150 residents, 4 seconds of offered load
    python bench/throughput.py --profile       # and where the time goes (pyinstrument)

Aims: updates_per_s >= 500 on 2 cores, ratio = updates_per_s / bare_updates_per_s >= 0.5, p99 under
50 ms at 100 updates/s. The RESULT line's p50_ms/p99_ms are the offered-load figures. CPU is the whole
process's (the fake Bot API and the simulated residents included, for both bots alike).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import time as clock_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update  # noqa: E402
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import runtime_of, services_of  # noqa: E402
from bot.sandbox.fake_request import FakeRequest  # noqa: E402
from bot.sandbox.fake_telegram import JSON, FakeTelegram  # noqa: E402
from bot.sandbox.web import LANGUAGE_CODE, add_user_with_id  # noqa: E402
from bot.services import reports as report_service  # noqa: E402
from bot.services.demo import FIRST_TELEGRAM_ID, LAST_TELEGRAM_ID, seed_demo  # noqa: E402

# The /report flow's actions after the category, in the order a resident meets them.
REPORT_PATH = ("done", "home", "urgent:0", "anon:", "diff", "confirm")
OFFERED_RATE = 100.0
SEED = 20260101


@dataclass
class Resident:
    """A demo resident going through /report again and again, by the flow's own button actions."""

    telegram_id: int
    category: str
    anonymous: bool
    core: FakeTelegram
    confirming: bool = False  # the update last made was the press on Confirm

    def next_update(self) -> JSON:
        """What this person sends next, judging by the newest bot message in the chat."""
        newest = next((r.message for r in reversed(self.core.history(self.telegram_id)) if r.from_bot), {})
        rows = newest.get("reply_markup", {}).get("inline_keyboard", [])
        data = [button.get("callback_data", "") for row in rows for button in row]
        flow = [item for item in data if item.startswith("f:")]
        actions = {item.split(":", 2)[2]: item for item in flow}
        path = (f"cat:{self.category}", *REPORT_PATH)
        wanted = [a for a in actions if a.startswith(path) and a != f"anon:{int(not self.anonymous)}"]
        self.confirming = wanted[:1] == ["confirm"]
        if not flow:
            return self.core.user_text(self.telegram_id, "/report", deliver=False)
        if not wanted:
            return self.core.user_text(self.telegram_id, "楼道的灯坏了，晚上很黑 <请尽快修>", deliver=False)
        message_id = int(newest["message_id"])
        return self.core.press_button(self.telegram_id, self.telegram_id, message_id, actions[wanted[0]],
                                      deliver=False)


class TrafficMeter:
    """Time spent on Telegram traffic: PTB parsing each incoming update, building each request and parsing
    its result, and the fake Bot API answering. Any bot that receives these updates and makes these calls
    pays it whatever it does besides, so it bounds the ratio: the full bot's traffic alone, with no work
    of its own, would run at bare_updates_per_s * bare_ms / traffic_ms of it.

    It wraps three PTB methods for the whole process (a benchmark, never the bot); the fake answers
    without suspending, so the timed spans do not overlap."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._in_update = False

    def install(self) -> None:
        meter = self
        post, message_de_json, update_de_json = Bot._post, Message.de_json.__func__, Update.de_json.__func__

        async def timed_post(bot: Bot, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await post(bot, *args, **kwargs)
            finally:
                meter.seconds += time.perf_counter() - began

        def timed_message(cls: type[Message], data: JSON | None, bot: Bot | None = None) -> Message | None:
            if meter._in_update:  # counted with its update
                return message_de_json(cls, data, bot)
            began = time.perf_counter()
            try:
                return message_de_json(cls, data, bot)
            finally:
                meter.seconds += time.perf_counter() - began

        def timed_update(cls: type[Update], data: JSON | None, bot: Bot | None = None) -> Update | None:
            began, meter._in_update = time.perf_counter(), True
            try:
                return update_de_json(cls, data, bot)
            finally:
                meter._in_update = False
                meter.seconds += time.perf_counter() - began

        Bot._post = timed_post  # type: ignore[method-assign]
        Message.de_json = classmethod(timed_message)  # type: ignore[method-assign, assignment]
        Update.de_json = classmethod(timed_update)  # type: ignore[method-assign, assignment]


TRAFFIC = TrafficMeter()


@dataclass
class Run:
    """One measured run: how many updates, how long, what they cost."""

    updates: int = 0
    presses: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    traffic_seconds: float = 0.0
    calls: int = 0
    took: list[float] = field(default_factory=list)  # per update: processing, or arrival to handled

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds

    def ms_per_update(self, seconds: float) -> float:
        return seconds / self.updates * 1000

    def describe(self) -> str:
        return (
            f"{self.updates} updates in {self.seconds:.2f} s, {self.per_second:.0f} updates/s, "
            f"{self.cpu_seconds / self.updates * 1000:.2f} CPU ms per update, processing {percent(self)}"
        )

    def percentile(self, p: float) -> float:
        ordered = sorted(self.took)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def percent(run: Run) -> str:
    return f"p50 {run.percentile(50):.2f} ms, p99 {run.percentile(99):.2f} ms"


class Bench:
    """The full bot on the demo street, its residents, and the bare bot."""

    def __init__(self, folder: Path, residents: int) -> None:
        self.folder = folder
        self.wanted = residents
        self.core = FakeTelegram()
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_path=folder / "throughput.db",
            bot_api_url="http://fake/bot",
            quiet_hours_start=clock_time(0),
            quiet_hours_end=clock_time(0),
            reports_per_hour=1000,
        )
        self.app = build_application(settings, request=FakeRequest(self.core))
        self.residents: list[Resident] = []

    async def start(self) -> None:
        app = self.app
        runtime_of(app).limiter.passthrough = True
        await app.initialize()
        await runtime_of(app).start(app, exclusive=False, tick=False)
        services = services_of(app)
        await seed_demo(services.db, now=services.clock.now())
        rows = await services.db.fetch_all(
            "SELECT p.telegram_id, p.name, EXISTS (SELECT 1 FROM roles r WHERE r.person_id = p.id "
            "AND r.role = 'resident') AS resident FROM people p WHERE p.telegram_id BETWEEN ? AND ? "
            "ORDER BY p.telegram_id",
            (FIRST_TELEGRAM_ID, LAST_TELEGRAM_ID),
        )
        for row in rows:
            add_user_with_id(self.core, row["telegram_id"], row["name"], LANGUAGE_CODE)
        codes = [c.code for c in report_service.categories(services).all]
        pick = random.Random(SEED)
        ids = [row["telegram_id"] for row in rows if row["resident"]]
        while len(ids) < self.wanted:
            ids += ids
        self.residents = [
            Resident(tid, pick.choice(codes), pick.random() < 0.2, self.core) for tid in ids[: self.wanted]
        ]

    async def stop(self) -> None:
        await runtime_of(self.app).stop()
        await self.app.shutdown()

    async def handle(self, app: Application, data: JSON) -> None:
        await app.process_update(Update.de_json(data, app.bot))

    async def saturated(self) -> Run:
        """Every resident files one report; round-robin, so updates interleave as from a crowd."""
        run = Run()
        active = deque(self.residents)
        calls, cpu, traffic, start = self.calls(), time.process_time(), TRAFFIC.seconds, time.perf_counter()
        while active:
            resident = active.popleft()
            data = resident.next_update()
            began = time.perf_counter()
            await self.handle(self.app, data)
            run.took.append(time.perf_counter() - began)
            run.updates += 1
            run.presses += "callback_query" in data
            if not resident.confirming:
                active.append(resident)
        sender = runtime_of(self.app).sender
        assert sender is not None
        await sender.drain()
        run.seconds = time.perf_counter() - start
        run.cpu_seconds = time.process_time() - cpu
        run.traffic_seconds = TRAFFIC.seconds - traffic
        run.calls = self.calls() - calls
        return run

    async def offered(self, seconds: float) -> Run:
        """Updates arrive at random at OFFERED_RATE a second; each resident acts after the bot answered."""
        return await offered_load(self.residents, lambda data: self.handle(self.app, data), seconds)

    def calls(self) -> int:
        return sum(self.core.calls.values())


async def offered_load(
    residents: list[Resident], handle: Callable[[JSON], Awaitable[None]], seconds: float
) -> Run:
    """Open-loop arrivals; the time taken is from when an update was due to when it was handled."""
    run = Run()
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue[Resident] = asyncio.Queue()
    for resident in residents:
        ready.put_nowait(resident)
    arrived: asyncio.Queue[tuple[float, Resident, JSON] | None] = asyncio.Queue()
    gaps = random.Random(SEED)

    async def arrivals() -> None:
        due = loop.time()
        end = due + seconds
        while due < end:
            due += gaps.expovariate(OFFERED_RATE)
            await asyncio.sleep(max(0.0, due - loop.time()))
            resident = await ready.get()
            arrived.put_nowait((due, resident, resident.next_update()))
        arrived.put_nowait(None)

    async def bot() -> None:
        while (item := await arrived.get()) is not None:
            due, resident, data = item
            await handle(data)
            run.took.append(loop.time() - due)
            run.updates += 1
            ready.put_nowait(resident)

    start = time.perf_counter()
    await asyncio.gather(arrivals(), bot())
    run.seconds = time.perf_counter() - start
    return run


async def bare_bot(updates: int, presses: float) -> Run:
    """A PTB bot with one handler that answers each message with a button and each button press, fed
    `updates` updates (a share `presses` of them button presses) the same way as the full bot."""
    core = FakeTelegram()
    request = FakeRequest(core)
    builder = ApplicationBuilder().token("0:bare").base_url("http://fake/bot")
    app = builder.request(request).get_updates_request(request).build()
    button = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])

    async def answer(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer("OK")
        elif update.message is not None:
            await update.message.reply_text("OK", reply_markup=button)

    app.add_handler(TypeHandler(Update, answer))
    await app.initialize()
    people = [int(core.add_user(f"Resident {n}")["id"]) for n in range(1000)]
    pick = random.Random(SEED)
    run = Run()
    calls, cpu, traffic, start = sum(core.calls.values()), time.process_time(), TRAFFIC.seconds, time.perf_counter()
    for n in range(updates):
        person = people[n % len(people)]
        answered = [r for r in core.history(person) if r.from_bot][-1:]
        if answered and pick.random() < presses:
            data = core.press_button(person, person, answered[0].message_id, "ok", deliver=False)
        else:
            data = core.user_text(person, "楼道的灯坏了", deliver=False)
        began = time.perf_counter()
        await app.process_update(Update.de_json(data, app.bot))
        run.took.append(time.perf_counter() - began)
        run.updates += 1
    run.seconds = time.perf_counter() - start
    run.cpu_seconds = time.process_time() - cpu
    run.traffic_seconds = TRAFFIC.seconds - traffic
    run.calls = sum(core.calls.values()) - calls
    await app.shutdown()
    return run


async def measure(residents: int, offered_seconds: float, profile: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="gongzhi-throughput-") as folder:
        bench = Bench(Path(folder), residents)
        await bench.start()
        try:
            profiler = start_profiler() if profile else None
            full = await bench.saturated()
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            filed = await services_of(bench.app).db.fetch_value("SELECT count(*) FROM reports")
            calls = full.calls / full.updates
            print(f"saturated: {residents} residents filed {filed} reports; {full.describe()}; "
                  f"{calls:.2f} Bot API calls per update; pushes delivered within the time")
            offered = await bench.offered(offered_seconds)
            print(f"offered load, {OFFERED_RATE:.0f} updates/s for {offered_seconds:.0f} s: "
                  f"{offered.updates} updates, due to handled {percent(offered)}")
        finally:
            await bench.stop()
    bare = await bare_bot(full.updates, full.presses / full.updates)
    print(f"bare PTB bot: {bare.describe()}")
    print(traffic(full, bare))
    print(aims(full, offered, bare))
    print(result_line(full, offered, bare))


def traffic(full: Run, bare: Run) -> str:
    """How much of each update is Telegram traffic, and the ratio that traffic alone would allow."""
    full_ms, bare_ms = full.ms_per_update(full.seconds), bare.ms_per_update(bare.seconds)
    full_io, bare_io = full.ms_per_update(full.traffic_seconds), bare.ms_per_update(bare.traffic_seconds)
    return (
        f"telegram traffic per update (parsing updates, building requests, parsing results, the fake Bot API): "
        f"full {full_io:.3f} of {full_ms:.3f} ms, bare {bare_io:.3f} of {bare_ms:.3f} ms; "
        f"the full bot's own work {full_ms - full_io:.3f} ms; "
        f"its traffic alone would allow ratio {bare_ms / full_io:.2f}"
    )


def aims(full: Run, offered: Run, bare: Run) -> str:
    ratio, p99 = full.per_second / bare.per_second, offered.percentile(99)
    checks = [
        (f"updates_per_s >= 500 ({full.per_second:.0f})", full.per_second >= 500),
        (f"ratio >= 0.5 ({ratio:.2f})", ratio >= 0.5),
        (f"p99 < 50 ms at {OFFERED_RATE:.0f}/s ({p99:.1f} ms)", p99 < 50),
    ]
    return "aims: " + "; ".join(f"{what} {'met' if ok else 'MISSED'}" for what, ok in checks)


def result_line(full: Run, offered: Run, bare: Run) -> str:
    return (
        f"RESULT throughput updates={full.updates} seconds={full.seconds:.2f} "
        f"updates_per_s={full.per_second:.0f} cpu_ms_per_update={full.cpu_seconds / full.updates * 1000:.2f} "
        f"calls_per_update={full.calls / full.updates:.2f} p50_ms={offered.percentile(50):.1f} "
        f"p99_ms={offered.percentile(99):.1f} bare_updates_per_s={bare.per_second:.0f} "
        f"ratio={full.per_second / bare.per_second:.2f}"
    )


def start_profiler() -> Any:
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--profile needs pyinstrument: pip install pyinstrument") from None
    profiler = Profiler(async_mode="enabled")
    profiler.start()
    return profiler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, help="how many residents file a report (default 1000)")
    parser.add_argument("--quick", action="store_true", help="150 residents, 4 s of offered load")
    parser.add_argument("--offered-seconds", type=float, help="length of the 100/s offered load (default 20)")
    parser.add_argument("--profile", action="store_true", help="where the saturated run spends its time")
    args = parser.parse_args()
    residents = args.residents or (150 if args.quick else 1000)
    offered_seconds = args.offered_seconds or (4.0 if args.quick else 20.0)
    TRAFFIC.install()
    asyncio.run(measure(residents, offered_seconds, args.profile))


if __name__ == "__main__":
    main()

"""The long-lived parts of a running bot: migrations, the outbox sender, the timer tick.

`post_init` starts them, `post_stop` stops the sender while the bot can still finish its requests,
and `post_shutdown` closes the store. Tests call `start`, `settle` and `stop` directly so that
everything timed runs on the fake clock, deterministically.
"""

from __future__ import annotations

import logging

from telegram.ext import Application

from bot.delivery import outbox
from bot.delivery.limiter import FloodLimiter
from bot.delivery.sender import Sender
from bot.services.container import Services
from bot.timers.engine import TimerEngine

log = logging.getLogger(__name__)
TICK_SECONDS = 15
SERVICES_KEY = "services"
RUNTIME_KEY = "runtime"


class Runtime:
    def __init__(self, services: Services) -> None:
        self.services = services
        # Built here so that build_application can hand it to the ApplicationBuilder.
        self.limiter = FloodLimiter(services.settings.global_rate_per_s)
        self.timers = TimerEngine(services)
        self.sender: Sender | None = None
        self._started = False

    async def start(self, application: Application, *, exclusive: bool = True, tick: bool = True) -> None:
        """Open the store, migrate, start the sender and (with `tick`) let the JobQueue tick the timers."""
        await self.services.db.open(exclusive=exclusive)
        applied = await self.services.db.migrate()
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        if await outbox.ensure_retention(self.services):
            log.info("outbox retention sweep scheduled")
        self.sender = Sender(self.services, application.bot)
        await self.sender.start()
        self._stop_sender_before_bot_shutdown(application)
        if tick and application.job_queue is not None:
            application.job_queue.run_repeating(self._tick_job, interval=TICK_SECONDS, first=1, name="tick")
        self._started = True

    def _stop_sender_before_bot_shutdown(self, application: Application) -> None:
        """post_shutdown runs after the bot closed its connections; requests in flight must end before."""
        previous = application.post_stop

        async def post_stop(app: Application) -> None:
            await self.stop_sender()
            if previous is not None:
                await previous(app)

        application.post_stop = post_stop

    async def _tick_job(self, _context: object) -> None:
        await self.tick()

    async def tick(self) -> int:
        """Fire whatever is due and nudge the sender; returns how many timers fired."""
        fired = await self.timers.fire_due()
        if self.sender is not None:
            self.sender.wake()
        return fired

    async def settle(self) -> None:
        """Fire due timers and deliver due messages until neither has anything left (tests, sandbox demo)."""
        assert self.sender is not None, "the runtime is not started"
        await self.tick()
        while True:
            await self.sender.drain()
            if not await self.tick():
                return

    async def stop_sender(self) -> None:
        if self.sender is not None:
            await self.sender.stop()
            self.sender = None

    async def stop(self) -> None:
        if self._started:
            await self.stop_sender()
            await self.services.db.close()
            self._started = False


def services_of(application: Application) -> Services:
    return application.bot_data[SERVICES_KEY]


def runtime_of(application: Application) -> Runtime:
    return application.bot_data[RUNTIME_KEY]

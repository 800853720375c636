"""The long-lived parts of a running bot: migrations, the outbox sender, the timer tick.

`post_init` starts them and `post_shutdown` stops them; tests call `start`, `settle` and `stop`
directly so that everything timed runs on the fake clock, deterministically.
"""

from __future__ import annotations

import asyncio
import logging

from telegram.ext import Application

from bot.services.container import Services

log = logging.getLogger(__name__)
TICK_SECONDS = 15
SERVICES_KEY = "services"
RUNTIME_KEY = "runtime"


class Runtime:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._started = False

    async def start(self, application: Application, *, exclusive: bool = True, tick: bool = True) -> None:
        """Open the store, migrate, and (with `tick`) let the JobQueue tick the timers."""
        await self.services.db.open(exclusive=exclusive)
        applied = await self.services.db.migrate()
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        if tick and application.job_queue is not None:
            application.job_queue.run_repeating(self._tick_job, interval=TICK_SECONDS, first=1, name="tick")
        self._started = True

    async def _tick_job(self, _context: object) -> None:
        await self.tick()

    async def tick(self) -> int:
        """Fire whatever is due; returns how many timers fired."""
        return 0

    async def settle(self) -> None:
        """Run due timers and let pending work finish (tests and the sandbox's demo steps)."""
        await self.tick()
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._started:
            await self.services.db.close()
            self._started = False


def services_of(application: Application) -> Services:
    return application.bot_data[SERVICES_KEY]


def runtime_of(application: Application) -> Runtime:
    return application.bot_data[RUNTIME_KEY]

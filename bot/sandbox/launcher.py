"""`python -m bot sandbox` (and `python -m bot run` without BOT_TOKEN): try the bot with no Telegram.

On 127.0.0.1 it starts the offline Telegram served over HTTP (the same core the tests use), the real
bot polling it through `BOT_API_URL` exactly as it polls api.telegram.org, a demo street in its own
database file, and a web chat page on the same port.

Everything runs in one process and one event loop. The bot still reaches the fake Bot API only over
HTTP, with PTB's own HTTP client, so it runs the production code path; what one process buys is a
clean Ctrl-C (stop polling, let the sender finish, close the store, close the server — in that order,
with no child left behind) and a page that watches the chats straight from the core. Tests that need
the bot as its own process (SIGKILL) start `python -m bot run` against `python -m bot.sandbox.fake_http`.

The sandbox store is `./sandbox-data/sandbox.db`, rebuilt at every start (the offline Telegram keeps
its chats in memory, so a kept store would meet chats that no longer exist). It is never
DATABASE_PATH: demo Telegram ids could belong to real accounts. Quiet hours are off, so a demo in the
evening still shows each push as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from datetime import time
from pathlib import Path

from telegram.ext import Application

from bot.app import allowed_updates, build_application
from bot.clock import Clock
from bot.config import Settings
from bot.runtime import runtime_of, services_of
from bot.sandbox.fake_http import FakeTelegramServer
from bot.sandbox.fake_telegram import FakeTelegram
from bot.sandbox.web import Directory, routes
from bot.services.demo import DemoSummary, seed_demo

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
DATA_DIR = Path("sandbox-data")
DATABASE_NAME = "sandbox.db"
EXIT_CANNOT_START = 2


class SandboxError(Exception):
    """The sandbox cannot start; the message says why and what to do instead."""


class Sandbox:
    """The offline Telegram, the bot and the page. `start()` then `stop()`; tests use it in-process."""

    def __init__(
        self,
        settings: Settings,
        *,
        port: int | None = None,
        data_dir: Path = DATA_DIR,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.database_path = data_dir / DATABASE_NAME
        self.clock = clock
        self.core = FakeTelegram(clock=clock.now if clock is not None else None)
        self.directory = Directory(self.core)
        self.server = FakeTelegramServer(
            self.core, host=HOST, port=settings.sandbox_port if port is None else port,
            routes=routes(self.directory),
        )
        self.application: Application | None = None
        self._lock_fd: int | None = None
        self._serving = False

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{HOST}:{self.server.port}/"

    async def start(self) -> DemoSummary:
        """Claim the data folder, serve the fake Bot API and the page, seed the demo street, start the bot."""
        self._claim_data_dir()
        try:
            await self.server.start()
        except OSError as exc:
            raise SandboxError(
                f"cannot listen on {HOST}:{self.server.port} ({exc.strerror}); "
                "set SANDBOX_PORT to a free port"
            ) from None
        self._serving = True
        settings = self.settings.model_copy(
            update={
                "bot_token": None,
                "bot_api_url": self.server.base_url,
                "database_path": self.database_path,
                "webhook_url": None,
                "quiet_hours_start": time(0, 0),
                "quiet_hours_end": time(0, 0),
            }
        )
        application = build_application(settings, clock=self.clock)
        self.application = application
        await application.initialize()
        await runtime_of(application).start(application)
        services = services_of(application)
        summary = await seed_demo(services.db, now=services.clock.now())
        await self.directory.open(services.db, summary)
        assert application.updater is not None
        await application.updater.start_polling(allowed_updates=allowed_updates(), timeout=10)
        await application.start()
        return summary

    async def stop(self) -> None:
        """Stop in the order that loses nothing: polling, handlers, the sender and store, then the server."""
        application, self.application = self.application, None
        if application is not None:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await runtime_of(application).stop()
            await application.shutdown()
        if self._serving:
            self._serving = False
            await self.server.stop()
        self._release_data_dir()

    def _claim_data_dir(self) -> None:
        """One sandbox per data folder: the store is rebuilt at start, so a second one must not touch it."""
        if self.database_path.resolve() == self.settings.database_path.resolve():
            raise SandboxError(
                f"DATABASE_PATH is {self.settings.database_path}, the sandbox's own store; "
                "the sandbox never uses the bot's database — point DATABASE_PATH elsewhere"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SandboxError(
                f"another sandbox is running with {self.data_dir}/; stop it first (Ctrl-C in its terminal)"
            ) from None
        self._lock_fd = fd
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                (self.database_path.parent / (self.database_path.name + suffix)).unlink()

    def _release_data_dir(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


def run_sandbox(settings: Settings) -> int:
    """Run until Ctrl-C (SIGINT) or SIGTERM; 0 after a clean stop, 2 when it cannot start."""
    # Every poll, page request and timer tick would be a log line.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        return asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        return 0


async def _serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sandbox = Sandbox(settings)
    try:
        summary = await sandbox.start()
    except SandboxError as exc:
        await sandbox.stop()
        print(f"The sandbox cannot start: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except BaseException:
        await sandbox.stop()
        raise
    print(banner(sandbox, summary), flush=True)
    try:
        await stop.wait()
    finally:
        print("Stopping the sandbox…", flush=True)
        await sandbox.stop()
    print("Sandbox stopped.", flush=True)
    return 0


def banner(sandbox: Sandbox, summary: DemoSummary) -> str:
    return "\n".join(
        [
            "",
            "Gongzhi sandbox: the real bot, an offline Telegram and a demo street, all on this computer.",
            f"  Open {sandbox.url} in a browser to chat as residents and staff.",
            f"  Fake Bot API for other clients: {sandbox.server.base_url}",
            f"  Store: {sandbox.database_path} (rebuilt at every start; never DATABASE_PATH)",
            *("  " + line for line in summary.summary_lines()),
            "  Press Ctrl-C to stop.",
            "",
        ]
    )

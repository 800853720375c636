"""build_application: the one place that wires handlers, jobs, the limiter and the error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot import handlers
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.runtime import RUNTIME_KEY, SERVICES_KEY, Runtime
from bot.services.container import Services
from bot.storage.db import Database

log = logging.getLogger(__name__)
PLACEHOLDER_TOKEN = "0:offline"


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    clock: Clock | None = None,
    token: str | None = None,
) -> Application:
    """Build the bot. `request` replaces the network (the offline Telegram); `clock` replaces time."""
    services = Services(settings=settings, db=Database(settings.database_path), clock=clock or SystemClock())
    runtime = Runtime(services)
    builder = (
        ApplicationBuilder()
        .token(token or settings.token or PLACEHOLDER_TOKEN)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_api_url.replace("/bot", "/file/bot"))
        .defaults(Defaults(parse_mode="HTML", tzinfo=settings.tz, disable_notification=None))
        .rate_limiter(runtime.limiter)
        .post_init(runtime.start)
        .post_shutdown(_stop(runtime))
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    application.bot_data[SERVICES_KEY] = services
    application.bot_data[RUNTIME_KEY] = runtime
    handlers.register_all(application)
    return application


def _stop(runtime: Runtime):  # type: ignore[no-untyped-def]
    async def post_shutdown(_application: Application) -> None:
        await runtime.stop()

    return post_shutdown


def allowed_updates() -> list[str]:
    return [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER, Update.EDITED_MESSAGE]

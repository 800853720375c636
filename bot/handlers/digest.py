"""The daily digest's start-up row, and /digest: the morning list as it stands right now."""

from __future__ import annotations

import logging

from telegram.ext import Application, ContextTypes

from bot.domain.people import STAFF_ROLES
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.i18n import N_
from bot.runtime import services_of
from bot.services import digests
from bot.ui.html import esc
from bot.ui.keyboards import inline

log = logging.getLogger(__name__)


async def cmd_digest(ctx: Ctx) -> None:
    assert ctx.person is not None
    _ = ctx._
    body = await digests.digest_for(ctx.services, ctx.person.id, ctx.locale)
    if body is None:
        await ctx.reply(_("Nothing to report: no open tasks of yours, nothing overdue or waiting in your grids."))
        return
    await ctx.reply(
        _("<b>Your digest right now</b>") + "\n\n" + esc(body),
        inline([[(_("🧰 My tasks"), "tk:l:0")]]),
    )


async def _at_start(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Make sure the digest's row exists; however late the bot starts, this runs once."""
    if await digests.ensure_digest(services_of(context.application)):
        log.info("daily digest scheduled")


def register(application: Application) -> None:
    if application.job_queue is not None:
        application.job_queue.run_once(
            _at_start, when=0, name="digest.start", job_kwargs={"misfire_grace_time": None}
        )
    menu.add_command(
        application,
        menu.Command(
            "digest",
            N_("Your daily digest as it stands now"),
            cmd_digest,
            roles=STAFF_ROLES,
            order=36,
        ),
    )

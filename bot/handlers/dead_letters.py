"""/deadletters: messages the outbox gave up on, with the reason, so street admins can follow up."""

from __future__ import annotations

import re

from telegram.ext import Application

from bot.delivery import outbox
from bot.domain.people import Role
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.i18n import N_
from bot.ui.html import esc, shorten
from bot.ui.timefmt import format_moment

LIMIT = 20
_TAGS = re.compile(r"<[^>]+>")
STATE_LABELS = {"dead": N_("gave up after retries"), "failed": N_("recipient unreachable")}


async def cmd_dead_letters(ctx: Ctx) -> None:
    _ = ctx._
    letters = await outbox.dead_letters(ctx.services.db, limit=LIMIT)
    if not letters:
        await ctx.reply(_("✅ Every message was delivered: nothing is waiting for you here."))
        return
    lines = [_("<b>Undelivered messages</b> (newest {count})").format(count=len(letters))]
    for letter in letters:
        first_line = _TAGS.sub("", _(letter.template)).split("\n")[0]
        recipient = (_("person #{id}").format(id=letter.person_id) if letter.person_id is not None
                     else _("chat {id}").format(id=letter.chat_id))
        lines.append(_("#{id} · {when} · {recipient} · {state}, {attempts} attempts\n  {what}\n  {error}").format(
            id=letter.id, when=format_moment(letter.created_at, ctx.locale, ctx.services.settings.tz),
            recipient=recipient, state=_(STATE_LABELS.get(letter.state, letter.state)),
            attempts=letter.attempts, what=esc(shorten(first_line, 80)),
            error=esc(shorten(letter.last_error or "", 120)),
        ))
    await ctx.reply("\n".join(lines))


def register(application: Application) -> None:
    menu.add_command(application, menu.Command(
        "deadletters", N_("Messages that could not be delivered"), cmd_dead_letters,
        roles=frozenset({Role.ADMIN}), order=85))

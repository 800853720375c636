"""/unreachable: people of the grids in a staff member's care who blocked the bot, so the team can reach
them another way (a phone call, a knock on the door). The phones shown are logged as looked at."""

from __future__ import annotations

from telegram.ext import Application

from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.tasks import moment
from bot.i18n import N_
from bot.services import verification
from bot.ui.html import MESSAGE_LIMIT, esc

STAFF = frozenset(verification.VERIFY_ROLES)


async def cmd_unreachable(ctx: Ctx) -> None:
    assert ctx.person is not None
    _ = ctx._
    found = await verification.unreachable(ctx.services, ctx.person)
    if not found:
        await ctx.reply(_("Nobody in your grids has blocked the bot. 🎉"))
        return
    lines = [_("<b>Blocked the bot</b> — reach them another way. Looking is logged.")]
    for grid, people in found:
        lines.append("")
        lines.append(f"<b>{esc(grid.name)}</b> ({len(people)})")
        for person in people:
            where = _("team member") if person.staff else person.place
            parts = [person.name or "?", person.phone or _("no phone"), where]
            since = _("since {when}").format(when=moment(ctx, person.since))
            lines.append("• " + esc(" · ".join(parts)) + " · " + since)
    await _reply_in_parts(ctx, lines)


async def _reply_in_parts(ctx: Ctx, lines: list[str]) -> None:
    """Long lists go out in several messages, each within Telegram's limit and cut between lines."""
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > MESSAGE_LIMIT - 96:
            await ctx.reply("\n".join(chunk))
            chunk = []
        chunk.append(line)
    await ctx.reply("\n".join(chunk))


def register(application: Application) -> None:
    menu.add_command(
        application,
        menu.Command(
            "unreachable",
            N_("People of your grids who blocked the bot"),
            cmd_unreachable,
            roles=STAFF,
            order=35,
        ),
    )

"""Times people type into a flow ("5-10 19:00", "21:00"): read with the same rules and the same answers
wherever a meeting, an activity or a notice asks for one."""

from __future__ import annotations

from datetime import datetime

from bot.clock import from_db, to_db
from bot.domain.volunteering import parse_end, parse_start
from bot.handlers.common import Ctx
from bot.handlers.flows import Turn
from bot.i18n import N_

IN_THE_PAST = N_("That time has already passed. Please type a time in the future.")
UNREADABLE = N_("Sorry, I couldn't read that.")


async def read_future(ctx: Ctx, text: str) -> datetime | None:
    """A typed date and time still to come; None once the person has been told why it will not do."""
    when = parse_start(text, ctx.now, ctx.services.settings.tz)
    if when is None or when <= ctx.now:
        await ctx.reply(ctx._(UNREADABLE if when is None else IN_THE_PAST))
        return None
    return when


async def read_new_times(turn: Turn) -> tuple[datetime, datetime] | None:
    """The "start" and "end" steps of a reschedule: a start still to come moves the flow on to "end", where
    an end read against that start completes the pair. None while there is more to type."""
    ctx, text = turn.ctx, turn.text or ""
    if turn.draft.step == "start":
        starts = await read_future(ctx, text)
        if starts is not None:
            await turn.goto("end", starts_at=to_db(starts))
        return None
    starts = from_db(turn.draft.data["starts_at"])
    ends = parse_end(text, starts, ctx.now, ctx.services.settings.tz)
    if ends is None:
        await ctx.reply(ctx._(UNREADABLE))
        return None
    return starts, ends

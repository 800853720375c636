"""Times as people read them: the street's timezone, the person's language, deadlines as "in 2 hours".

Every word comes from the catalogs, so `11月27日 周五 17:30` and `Fri 27 Nov 17:30` are one pattern
translated; the pattern's placeholders are the same in every language, only their order differs.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, translator

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MONTHS = (
    N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"),
    N_("Jul"), N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"),
)
MOMENT = N_("{weekday} {day} {month} {time}")

# (singular, plural) per unit, for deadlines ahead and deadlines passed.
_AHEAD = {
    "minute": (N_("in 1 minute"), N_("in {n} minutes")),
    "hour": (N_("in 1 hour"), N_("in {n} hours")),
    "day": (N_("in 1 day"), N_("in {n} days")),
}
_OVERDUE = {
    "minute": (N_("1 minute overdue"), N_("{n} minutes overdue")),
    "hour": (N_("1 hour overdue"), N_("{n} hours overdue")),
    "day": (N_("1 day overdue"), N_("{n} days overdue")),
}
DUE_NOW = N_("due now")


def format_moment(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    """`Fri 27 Nov 17:30` / `11月27日 周五 17:30`, in the street's timezone."""
    _ = translator(locale)
    local = moment.astimezone(tz)
    return _(MOMENT).format(
        weekday=_(WEEKDAYS[local.weekday()]),
        day=local.day,
        month=_(MONTHS[local.month - 1]),
        time=local.strftime("%H:%M"),
    )


def format_relative(moment: datetime, now: datetime, locale: str) -> str:
    """"in 2 hours" / "2 hours overdue", rounded to the nearest minute, hour (under two days) or day."""
    _ = translator(locale)
    minutes = round(abs((moment - now).total_seconds()) / 60)
    if minutes == 0:
        return _(DUE_NOW)
    if minutes < 60:
        unit, n = "minute", minutes
    elif minutes < 48 * 60:
        unit, n = "hour", round(minutes / 60)
    else:
        unit, n = "day", round(minutes / (24 * 60))
    singular, plural = (_AHEAD if moment > now else _OVERDUE)[unit]
    return _(singular) if n == 1 else _(plural).format(n=n)

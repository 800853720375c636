"""The daily digest: at DIGEST_TIME on working days, each grid worker's open tasks (overdue and due today
marked) and each team lead's grid — what is overdue and what nobody has accepted.

The digest is one due-time row (`digest.daily`) created at start-up when missing; firing it reschedules
it for the next working day (holidays skipped, make-up working days included), so a restart neither loses
nor repeats a morning. Someone on leave gets nothing: their list goes to their stand-in. Someone with
nothing to report gets nothing either.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.delivery.outbox import Button, Lane, enqueue
from bot.domain.patrols import Schedule, next_occurrence
from bot.domain.people import ScopeKind
from bot.domain.reports import AWAITING_ACCEPT, Report, ReportState
from bot.domain.roster import Area
from bot.i18n import N_, translator
from bot.services.container import Services
from bot.services.reports import categories, locales_of
from bot.storage import grid_ops
from bot.storage import reports as store
from bot.storage.db import Connection, Reader
from bot.storage.stats import holders_by_scope
from bot.timers.engine import TimerRow, register_timer, schedule, timer_pending
from bot.ui.timefmt import format_moment, format_relative

log = logging.getLogger(__name__)
DIGEST = "digest.daily"
DIGEST_SUBJECT = "street"
# A morning digest that could not go out by noon (the bot was down) is skipped, not sent late.
STALE_AFTER = timedelta(hours=4)
LINES_PER_SECTION = 15
TEMPLATE = N_("☀️ <b>Daily digest</b> · {day}\n\n{body}")


def next_digest(services: Services, now: datetime) -> datetime:
    """The next working day's DIGEST_TIME strictly after `now`."""
    at = services.settings.digest_time
    every_working_day = Schedule(minutes=frozenset({at.minute}), hours=frozenset({at.hour}), workdays=True)
    due = next_occurrence(every_working_day, now, services.calendar, working_time=False)
    assert due is not None, "the calendar has no working day in ten years"
    return due


async def ensure_digest(services: Services) -> bool:
    """Create the digest's row unless one is pending (start-up calls this; idempotent). True when created."""
    async with services.db.transaction() as conn:
        if await timer_pending(conn, DIGEST, DIGEST_SUBJECT):
            return False
        due = next_digest(services, services.clock.now())
        await schedule(conn, kind=DIGEST, subject=DIGEST_SUBJECT, due_at=due)
        return True


@dataclass
class Digest:
    """One person's morning: their own tasks, those of colleagues they stand in for, their grids' troubles."""

    person_id: int
    own: list[Report] = field(default_factory=list)
    standing_in: list[tuple[str, list[Report]]] = field(default_factory=list)
    grids: list[tuple[str, list[Report]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.own or self.standing_in or self.grids)


async def gather(conn: Reader, now: datetime) -> dict[int, Digest]:
    """Every digest due now, by recipient; nobody with nothing to report is in it."""
    away = await grid_ops.on_leave(conn, now)
    found: dict[int, Digest] = {}

    def digest_of(person_id: int) -> Digest:
        taker = away.get(person_id, person_id)
        return found.setdefault(taker, Digest(taker))

    by_assignee: dict[int, list[Report]] = defaultdict(list)
    for task in await store.actionable(conn):
        by_assignee[task.assignee_id or 0].append(task)
    names = await grid_ops.names(conn, by_assignee)
    for assignee, tasks in sorted(by_assignee.items()):
        if assignee in away:
            digest_of(assignee).standing_in.append((names.get(assignee, ""), tasks))
        else:
            digest_of(assignee).own = tasks
    grid_names = {g.id: g.name for g in await grid_ops.grids_in(conn, Area(street=True))}
    for grid_id, leads in sorted((await holders_by_scope(conn, "secretary", ScopeKind.GRID)).items()):
        attention = await store.needing_attention(conn, grid_id, now)
        if not attention:
            continue
        for taker in dict.fromkeys(away.get(lead, lead) for lead in leads):
            digest_of(taker).grids.append((grid_names.get(grid_id, ""), attention))
    return {person_id: digest for person_id, digest in found.items() if not digest.empty}


def _unaccepted(task: Report) -> bool:
    return task.state in AWAITING_ACCEPT or task.state is ReportState.SUBMITTED


class _Writer:
    """Renders digests in one language; task lines are plain text (the outbox escapes them)."""

    def __init__(
        self, services: Services, locale: str, now: datetime, places: dict[int, str], people: dict[int, str]
    ) -> None:
        self.services = services
        self.locale = locale
        self.now = now
        self._ = translator(locale)
        self.places = places
        self.people = people
        self.today = now.astimezone(services.settings.tz).date()

    def body(self, digest: Digest) -> str:
        _ = self._
        blocks = []
        if digest.own:
            blocks.append(
                [_("🧰 Your open tasks ({count}):").format(count=len(digest.own)), *self.lines(digest.own)]
            )
        for name, tasks in digest.standing_in:
            header = _("🤝 Standing in for {name} ({count}):").format(name=name, count=len(tasks))
            blocks.append([header, *self.lines(tasks)])
        for grid, tasks in digest.grids:
            overdue = sum(1 for t in tasks if t.overdue(self.now))
            header = _("👥 {grid}: {overdue} overdue, {unaccepted} not accepted yet").format(
                grid=grid, overdue=overdue, unaccepted=sum(1 for t in tasks if _unaccepted(t))
            )
            blocks.append([header, *self.lines(tasks, with_assignee=True)])
        return "\n\n".join("\n".join(block) for block in blocks)

    def lines(self, tasks: list[Report], *, with_assignee: bool = False) -> list[str]:
        shown = [self.line(t, with_assignee) for t in tasks[:LINES_PER_SECTION]]
        if len(tasks) > LINES_PER_SECTION:
            shown.append(self._("… and {count} more").format(count=len(tasks) - LINES_PER_SECTION))
        return shown

    def line(self, task: Report, with_assignee: bool) -> str:
        _ = self._
        settings = self.services.settings
        category = categories(self.services)[task.category].name(self.locale)
        place = self.places.get(task.building_id, "?") + (f", {task.unit}" if task.unit else "")
        if task.due_at is None:
            mark, when = "•", ""
        elif task.overdue(self.now):
            mark, when = "⚠️", format_relative(task.due_at, self.now, self.locale)
        elif task.due_at.astimezone(settings.tz).date() == self.today:
            local = task.due_at.astimezone(settings.tz)
            mark, when = "⏳", _("due today {time}").format(time=f"{local:%H:%M}")
        else:
            mark, when = "•", format_moment(task.due_at, self.locale, settings.tz)
        line = f"{mark} {task.number} · {category} · {place}" + (f" — {when}" if when else "")
        if with_assignee:
            who = self.people.get(task.assignee_id or 0) or _("nobody yet")
            line += " · " + (_("not accepted: {who}") if _unaccepted(task) else "{who}").format(who=who)
        return line


async def _writer(
    source: Reader, services: Services, digests: list[Digest], locale: str, now: datetime
) -> _Writer:
    places = {r["id"]: r["name"] for r in await source.fetch_all("SELECT id, name FROM buildings")}
    assignees = {t.assignee_id for d in digests for _n, ts in d.grids for t in ts if t.assignee_id}
    return _Writer(services, locale, now, places, await grid_ops.names(source, assignees))


async def digest_for(services: Services, person_id: int, locale: str) -> str | None:
    """What this person's digest would say right now (/digest); None when there is nothing to report."""
    now = services.clock.now()
    digest = (await gather(services.db, now)).get(person_id)
    if digest is None:
        return None
    return (await _writer(services.db, services, [digest], locale, now)).body(digest)


async def send(services: Services, conn: Connection, now: datetime, due_at: datetime) -> int:
    """Queue the digests of the morning `due_at` as things stand `now`; returns how many people get one."""
    digests = await gather(conn, now)
    if not digests:
        return 0
    by_locale: dict[str, list[int]] = defaultdict(list)
    for person_id, locale in (await locales_of(conn, list(digests))).items():
        by_locale[locale].append(person_id)
    for locale, person_ids in sorted(by_locale.items()):
        writer = await _writer(conn, services, list(digests.values()), locale, now)
        for person_id in person_ids:
            digest = digests[person_id]
            buttons = [[Button(N_("🧰 My tasks"), "tk:l:0")]]
            if digest.grids:
                buttons.append([Button(N_("📋 Open reports in your area"), "rs:l:0")])
            await enqueue(
                conn,
                now=now,
                recipients=[person_id],
                template=TEMPLATE,
                params={"day": due_at, "body": writer.body(digest)},
                buttons=buttons,
                lane=Lane.BULK,
            )
    return len(digests)


async def _on_digest(services: Services, conn: Connection, timer: TimerRow) -> None:
    """Reschedule for the next working day, then send this morning's digests (if still morning)."""
    now = services.clock.now()
    await schedule(conn, kind=DIGEST, subject=DIGEST_SUBJECT, due_at=next_digest(services, now))
    day = timer.due_at.astimezone(services.settings.tz).date()
    if now - timer.due_at > STALE_AFTER:
        log.warning("daily digest due %s skipped: the bot was not running then", timer.due_at)
        return
    if not services.calendar.is_working_day(day):  # the holiday file changed since it was scheduled
        return
    sent = await send(services, conn, now, timer.due_at)
    log.info("daily digest queued for %d people", sent)


def register() -> None:
    """The timer kind; idempotent (registries are dicts)."""
    register_timer(DIGEST, _on_digest)


register()

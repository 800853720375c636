"""The organizers' dashboard: figures for a scope and a period, who may see which scope, the weekly chart,
and the weekly report that reaches every organizer on Monday morning.

A street admin sees the street and every community and grid in it; an organizer their communities and
the grids in them; a grid team lead their grids. Every figure comes from bot.domain.rates.

The weekly report is a due-time row (kind `stats.weekly`) that reschedules itself for the next Monday
whenever it fires. Firing splits the work into one row per scope (`stats.weekly_scope`), so each chart
is drawn in its own short transaction and a failure is retried for that scope alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from bot.config import Settings
from bot.delivery.outbox import Lane, enqueue
from bot.domain.people import Person, Role, Scope, ScopeKind
from bot.domain.rates import (
    Assigned,
    Closed,
    Durations,
    Period,
    Rated,
    Rates,
    Ratio,
    durations,
    hours_to_accept,
    hours_to_resolve,
    rates,
    reopen_rate,
    week,
    weeks_back,
)
from bot.i18n import N_, translator
from bot.services import charts
from bot.services.container import Services
from bot.services.reports import categories, locales_of
from bot.storage import deliberation as deliberation_store
from bot.storage import stats as store
from bot.storage.db import Connection, Reader
from bot.timers.engine import TimerRow, register_timer, schedule, timer_pending

log = logging.getLogger(__name__)

STREET = Scope(kind=ScopeKind.STREET)
TREND_WEEKS = 8
# Bars beyond this many grids or communities make an unreadable chart: the busiest are drawn.
CHART_UNITS = 16
WEEKLY = "stats.weekly"
WEEKLY_SUBJECT = "street"
WEEKLY_SCOPE = "stats.weekly_scope"
# A weekly report that could not go out for this long (the bot was down) is skipped, not sent late.
WEEKLY_STALE_AFTER = timedelta(days=6)
CHART_KEEP = timedelta(days=35)
T = TypeVar("T")


# ------------------------------------------------------------------------------------------ scopes


@dataclass(frozen=True)
class ScopeChoice:
    scope: Scope
    name: str


async def viewable_scopes(services: Services, person: Person) -> list[ScopeChoice]:
    """The scopes this person may see, widest first: the street, then each community and its grids."""
    street = person.has(Role.ADMIN)
    own_communities = {s.id for s in person.scopes_for(Role.ORGANIZER) if s.kind is ScopeKind.COMMUNITY}
    own_grids = {s.id for s in person.scopes_for(Role.SECRETARY) if s.kind is ScopeKind.GRID}
    choices: list[ScopeChoice] = []
    if street:
        choices.append(ScopeChoice(STREET, ""))
    grids = await store.grids(services.db)
    for community in await store.communities(services.db):
        if street or community.id in own_communities:
            choices.append(ScopeChoice(Scope(kind=ScopeKind.COMMUNITY, id=community.id), community.name))
        for grid in grids:
            if grid.community_id == community.id and (
                street or community.id in own_communities or grid.id in own_grids
            ):
                choices.append(ScopeChoice(Scope(kind=ScopeKind.GRID, id=grid.id), grid.name))
    return choices


async def viewable(services: Services, person: Person, scope: Scope) -> ScopeChoice | None:
    """The scope with its name when this person may see it; None for anything else (forged data too)."""
    return next((c for c in await viewable_scopes(services, person) if c.scope == scope), None)


# --------------------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class Breakdown:
    """The figures of one grid or one category: where problems stall."""

    key: str
    received: int
    rates: Rates
    overdue: int


@dataclass(frozen=True)
class Dashboard:
    scope: Scope
    period: Period
    received: int
    rates: Rates
    reopen: Ratio
    to_accept: Durations
    to_resolve: Durations
    overdue: int
    by_category: list[Breakdown]
    by_grid: list[Breakdown]
    grid_names: dict[str, str]
    service: store.Service
    attendance: store.Attendance
    topics: int
    turnout: Ratio


@dataclass(frozen=True)
class _Facts:
    received: list[store.Count]
    assigned: list[Assigned]
    closed: list[Closed]
    rated: list[Rated]


async def _facts(source: Reader, scope: Scope, start: datetime, end: datetime) -> _Facts:
    return _Facts(
        await store.received(source, scope, start, end),
        await store.assigned(source, scope, start, end),
        await store.closed(source, scope, start, end),
        await store.rated(source, scope, start, end),
    )


def _grouped(items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def _breakdown(facts: _Facts, overdue: list[store.Count], key: Callable[[object], str]) -> list[Breakdown]:
    """Figures per key (grid or category), busiest first."""
    received: dict[str, int] = defaultdict(int)
    for count in facts.received:
        received[key(count)] += count.count
    late: dict[str, int] = defaultdict(int)
    for count in overdue:
        late[key(count)] += count.count
    assigned, closed, rated = (_grouped(x, key) for x in (facts.assigned, facts.closed, facts.rated))
    keys = set(received) | set(late) | set(assigned) | set(closed) | set(rated)
    rows = [
        Breakdown(k, received[k], rates(assigned.get(k, []), closed.get(k, []), rated.get(k, [])), late[k])
        for k in keys
    ]
    return sorted(rows, key=lambda b: (-b.received, -b.overdue, b.key))


def _by_grid(item: object) -> str:
    return str(item.grid_id)  # type: ignore[attr-defined]


def _by_category(item: object) -> str:
    return str(item.category)  # type: ignore[attr-defined]


async def dashboard(services: Services, scope: Scope, period: Period) -> Dashboard:
    """Every figure /stats shows for `scope` over `period`, with "overdue" as of now."""
    db, calendar = services.db.background, services.calendar
    start, end = period.bounds(services.settings.tz)
    facts = await _facts(db, scope, start, end)
    overdue = await store.overdue(db, scope, services.clock.now())
    topics = await store.closed_topics(db, scope, start, end)
    grid_names = {str(g.id): g.name for g in await store.grids(db)}
    return Dashboard(
        scope=scope,
        period=period,
        received=sum(c.count for c in facts.received),
        rates=rates(facts.assigned, facts.closed, facts.rated),
        reopen=reopen_rate(facts.closed),
        to_accept=durations(hours_to_accept(calendar, facts.assigned)),
        to_resolve=durations(hours_to_resolve(calendar, facts.closed)),
        overdue=sum(c.count for c in overdue),
        by_category=_breakdown(facts, overdue, _by_category),
        by_grid=_breakdown(facts, overdue, _by_grid),
        grid_names=grid_names,
        service=await store.volunteer_service(db, scope, start, end),
        attendance=await store.meeting_attendance(db, scope, start, end),
        topics=len(topics),
        turnout=await turnout(db, topics),
    )


async def turnout(db: Reader, topic_ids: list[int]) -> Ratio:
    """Deliberation turnout over several topics: votes cast / eligible votes (people, or households on
    per-household topics), as each topic's own turnout counts them."""
    eligible = voted = 0
    for topic_id in topic_ids:
        eligible += await deliberation_store.eligible_count(db, topic_id)
        voted += await deliberation_store.voted_count(db, topic_id)
    return Ratio(voted, eligible)


def category_name(services: Services, code: str, locale: str) -> str:
    return categories(services)[code].name(locale)


async def scope_name(services: Services, scope: Scope, locale: str) -> str:
    if scope.kind is ScopeKind.STREET:
        return translator(locale)(N_("Whole street"))
    units = await (store.communities if scope.kind is ScopeKind.COMMUNITY else store.grids)(services.db)
    return next((u.name for u in units if u.id == scope.id), "?")


# ------------------------------------------------------------------------------------------- chart


async def trend(
    services: Services, scope: Scope, last: Period, weeks: int = TREND_WEEKS
) -> list[tuple[Period, Rates]]:
    """The three rates of each of `weeks` weeks ending with `last`'s week, from one read of the range."""
    tz = services.settings.tz
    periods = weeks_back(last, weeks)
    start, end = periods[0].bounds(tz)[0], periods[-1].bounds(tz)[1]
    facts = await _facts(services.db.background, scope, start, end)

    def monday(moment: datetime) -> str:
        return week(moment.astimezone(tz).date()).first.isoformat()

    assigned = _grouped(facts.assigned, lambda a: monday(a.assigned_at))
    closed = _grouped(facts.closed, lambda c: monday(c.closed_at))
    rated = _grouped(facts.rated, lambda r: monday(r.rated_at))
    out = []
    for period in periods:
        key = period.first.isoformat()
        out.append((period, rates(assigned.get(key, []), closed.get(key, []), rated.get(key, []))))
    return out


RATE_NAMES = (N_("Response rate"), N_("Resolution rate"), N_("Satisfaction rate"))


def _values(r: Rates) -> tuple[float | None, float | None, float | None]:
    return (r.response.value, r.resolution.value, r.satisfaction.value)


async def chart_of(services: Services, board: Dashboard, locale: str) -> charts.WeeklyChart:
    """The chart's content in `locale`: the three rates per grid (per community for the whole street) and
    their trend over the weeks up to the period's last week."""
    _ = translator(locale)
    db = services.db.background
    if board.scope.kind is ScopeKind.STREET:
        grid_to_community = {str(g.id): str(g.community_id) for g in await store.grids(db)}
        names = {str(c.id): c.name for c in await store.communities(db)}
        start, end = board.period.bounds(services.settings.tz)
        facts = await _facts(db, board.scope, start, end)
        units = _breakdown(facts, [], lambda item: grid_to_community.get(_by_grid(item), "?"))
        units_title = _("By community")
    else:
        units, names, units_title = board.by_grid, board.grid_names, _("By grid")
    if board.scope.kind is ScopeKind.COMMUNITY:
        # Every grid of the community gets its place, quiet ones too.
        present = {u.key for u in units}
        empty = Rates(Ratio(0, 0), Ratio(0, 0), Ratio(0, 0))
        units = units + [
            Breakdown(str(g.id), 0, empty, 0)
            for g in await store.grids(db)
            if g.community_id == board.scope.id and str(g.id) not in present
        ]
    # The busiest units, then in a fixed order so that one week's chart compares with the next.
    shown = sorted(units[:CHART_UNITS], key=lambda u: int(u.key) if u.key.isdigit() else 0)
    weeks = await trend(services, board.scope, board.period)
    scope_label = await scope_name(services, board.scope, locale)
    r = board.rates
    return charts.WeeklyChart(
        title=_("{scope}: {first} – {last}").format(
            scope=scope_label, first=board.period.first.isoformat(), last=board.period.last.isoformat()
        ),
        subtitle=_(
            "{received} reports received · response rate {response} · resolution rate {resolution} · "
            "satisfaction rate {satisfaction}"
        ).format(
            received=board.received,
            response=r.response.percent(),
            resolution=r.resolution.percent(),
            satisfaction=r.satisfaction.percent(),
        ),
        units_title=units_title,
        trend_title=_("Last {n} weeks").format(n=len(weeks)),
        rate_names=tuple(_(name) for name in RATE_NAMES),  # type: ignore[arg-type]
        units=[(names.get(u.key, "?"), _values(u.rates)) for u in shown],
        weeks=[(f"{p.first:%m-%d}", _values(rates_of_week)) for p, rates_of_week in weeks],
        no_data=_("no data"),
        locale=locale,
    )


async def chart_png(services: Services, board: Dashboard, locale: str) -> bytes:
    """The dashboard as a PNG, drawn off the event loop; `charts.ChartFontMissing` without a CJK font."""
    return await charts.render(await chart_of(services, board, locale), services.settings.chart_font_file)


# ----------------------------------------------------------------------------------- weekly report


def next_weekly_report(settings: Settings, now: datetime) -> datetime:
    """The first Monday at WEEKLY_REPORT_TIME (street time) strictly after `now`."""
    tz = settings.tz
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    due = datetime.combine(monday, settings.weekly_report_time, tzinfo=tz)
    if due <= local:
        due = datetime.combine(monday + timedelta(days=7), settings.weekly_report_time, tzinfo=tz)
    return due.astimezone(now.tzinfo)


async def ensure_weekly_report(services: Services) -> bool:
    """Create the weekly report's row unless one is pending (start-up calls this; idempotent). A row due
    while the bot was down stays as it is and fires now. True when a row was created."""
    async with services.db.transaction() as conn:
        if await timer_pending(conn, WEEKLY, WEEKLY_SUBJECT):
            return False
        due = next_weekly_report(services.settings, services.clock.now())
        await schedule(conn, kind=WEEKLY, subject=WEEKLY_SUBJECT, due_at=due)
        return True


def charts_dir(settings: Settings) -> Path:
    return settings.charts_dir or settings.database_path.resolve().parent / "charts"


async def _recipients(conn: Connection) -> dict[Scope, list[int]]:
    """Each community's organizers, and the street admins for the whole street."""
    found: dict[Scope, list[int]] = {}
    for scope_id, people_ids in (
        await store.holders_by_scope(conn, Role.ORGANIZER, ScopeKind.COMMUNITY)
    ).items():
        found[Scope(kind=ScopeKind.COMMUNITY, id=scope_id)] = people_ids
    admins = (await store.holders_by_scope(conn, Role.ADMIN, ScopeKind.STREET)).get(STREET.id)
    if admins:
        found[STREET] = admins
    return found


async def _on_weekly(services: Services, conn: Connection, timer: TimerRow) -> None:
    """Reschedule for next Monday, then queue one report per scope for the week before this Monday."""
    now = services.clock.now()
    await schedule(
        conn, kind=WEEKLY, subject=WEEKLY_SUBJECT, due_at=next_weekly_report(services.settings, now)
    )
    if now - timer.due_at > WEEKLY_STALE_AFTER:
        log.warning("weekly report due %s skipped: the bot was not running then", timer.due_at)
        return
    reported = week(timer.due_at.astimezone(services.settings.tz).date() - timedelta(days=7))
    for scope in await _recipients(conn):
        await schedule(
            conn,
            kind=WEEKLY_SCOPE,
            subject=f"{scope.kind.value}:{scope.id}:{reported.first.isoformat()}",
            due_at=now,
            payload={"kind": scope.kind.value, "id": scope.id, "week": reported.first.isoformat()},
        )


WEEKLY_TEMPLATE = N_(
    "📊 <b>Weekly report</b> · {scope}\n{first} – {last}\n"
    "Reports received: {received}\n"
    "Response rate {response} · resolution rate {resolution} · satisfaction rate {satisfaction}\n"
    "Median working hours to accept: {accept} · to resolve: {resolve}\n"
    "Overdue now: {overdue}\n"
    "More: /stats"
)


def format_hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


async def _on_weekly_scope(services: Services, conn: Connection, timer: TimerRow) -> None:
    """One scope's report to its organizers: the chart in each recipient language and a short summary."""
    scope = Scope(kind=ScopeKind(timer.payload["kind"]), id=int(timer.payload["id"]))
    period = week(date.fromisoformat(timer.payload["week"]))
    recipients = (await _recipients(conn)).get(scope, [])
    if not recipients:
        return
    now = services.clock.now()
    board = await dashboard(services, scope, period)
    by_locale: dict[str, list[int]] = defaultdict(list)
    for person_id, locale in (await locales_of(conn, recipients)).items():
        by_locale[locale].append(person_id)
    folder = charts_dir(services.settings)
    await asyncio.to_thread(_tidy, folder)
    for locale, people_ids in sorted(by_locale.items()):
        photo = None
        try:
            png = await chart_png(services, board, locale)
        except charts.ChartFontMissing as missing:
            log.error("weekly report for %s goes without its chart: %s", scope, missing)
        else:
            path = folder / f"weekly-{scope.kind.value}-{scope.id}-{period.first.isoformat()}-{locale}.png"
            await asyncio.to_thread(_write, path, png)
            photo = str(path)
        r = board.rates
        await enqueue(
            conn,
            now=now,
            recipients=people_ids,
            template=WEEKLY_TEMPLATE,
            params={
                "scope": await scope_name(services, scope, locale),
                "first": period.first.isoformat(),
                "last": period.last.isoformat(),
                "received": board.received,
                "response": r.response.percent(),
                "resolution": r.resolution.percent(),
                "satisfaction": r.satisfaction.percent(),
                "accept": format_hours(board.to_accept.median),
                "resolve": format_hours(board.to_resolve.median),
                "overdue": board.overdue,
            },
            photo=photo,
            lane=Lane.BULK,
        )


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _tidy(folder: Path) -> None:
    """Charts are kept long enough for the outbox to send them (retries included), then removed. File
    times are the file system's, so they are compared with the system's time, not the bot's clock."""
    if not folder.is_dir():
        return
    oldest = time.time() - CHART_KEEP.total_seconds()
    for old in folder.glob("weekly-*.png"):
        if old.stat().st_mtime < oldest:
            old.unlink(missing_ok=True)


def register() -> None:
    """Timer kinds; idempotent (registries are dicts)."""
    register_timer(WEEKLY, _on_weekly)
    register_timer(WEEKLY_SCOPE, _on_weekly_scope)


register()

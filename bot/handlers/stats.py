"""/stats: the organizers' dashboard for a scope (street, community, grid) and a period (this week, last
week, this month, a date range), with the chart and the rates' definitions one tap away.

Buttons carry `st:<action>:<scope>:<period>`; the scope is re-checked on the server at every tap, so a
forged scope shows nothing. A date range is typed in a small flow (`stats_range`) that ends on the screen
it was asked from (this dashboard, or the export screen, which registers itself in SCREENS).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date

from telegram import InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.people import Role, Scope, ScopeKind
from bot.domain.rates import (
    MAX_RANGE_DAYS,
    BadRange,
    Durations,
    Period,
    PeriodKind,
    Ratio,
    date_range,
    parse_period,
    period_for,
)
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.handlers.tasks import EXPIRED, callback_parts, present
from bot.i18n import N_
from bot.runtime import services_of
from bot.services import charts
from bot.services import stats as stats_service
from bot.services.stats import Breakdown, Dashboard, ScopeChoice
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode, int_part
from bot.ui.html import esc, shorten
from bot.ui.keyboards import Row, inline, paginated

log = logging.getLogger(__name__)

PREFIX = "st"
RANGE_FLOW = "stats_range"
STATS_ROLES = frozenset({Role.ADMIN, Role.ORGANIZER, Role.SECRETARY})
BREAKDOWN_LINES = 10
SCOPES_PER_PAGE = 8
_KIND_CODES = {ScopeKind.STREET: "s", ScopeKind.COMMUNITY: "c", ScopeKind.GRID: "g"}
PERIOD_LABELS = {
    PeriodKind.THIS_WEEK: N_("This week"),
    PeriodKind.LAST_WEEK: N_("Last week"),
    PeriodKind.THIS_MONTH: N_("This month"),
    PeriodKind.RANGE: N_("Dates"),
}
NOT_ALLOWED = N_("You can see the figures of your own area only. Send /stats to start again.")
NO_FONT = N_(
    "Charts cannot be drawn on this server: it has no font with Chinese characters. Please tell the "
    "street admin."
)
RANGE_PROMPT = N_(
    "Type the first and the last day, for example <code>2025-03-01 2025-03-31</code> (up to {days} days)."
)
Screen = Callable[[Ctx, ScopeChoice, Period], Awaitable[None]]
# Where a typed date range leads: "st" this dashboard, "ex" the export screen.
SCREENS: dict[str, Screen] = {}


# ------------------------------------------------------------------------------------------ codes


def scope_code(scope: Scope) -> str:
    return f"{_KIND_CODES[scope.kind]}{scope.id}"


def parse_scope(code: str) -> Scope | None:
    kinds = {letter: kind for kind, letter in _KIND_CODES.items()}
    kind, number = kinds.get(code[:1]), int_part([code[1:]], 0)
    if kind is None or number is None or (kind is ScopeKind.STREET) != (number == 0):
        return None
    return Scope(kind=kind, id=number)


def today(ctx: Ctx) -> date:
    return ctx.now.astimezone(ctx.services.settings.tz).date()


_DATE = re.compile(r"(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})")


def parse_dates(text: str) -> Period | None:
    """The two dates in `2025-03-01 2025-03-31` (or `2025年3月1日 2025年3月31日`) as a range."""
    found = _DATE.findall(text)
    if len(found) != 2:
        return None
    try:
        first, last = (date(int(y), int(m), int(d)) for y, m, d in found)
        return date_range(first, last)
    except (ValueError, BadRange):
        return None


async def allowed(ctx: Ctx, scope: Scope | None) -> ScopeChoice | None:
    """The scope when this person may see it now (roles are read afresh for every tap)."""
    if scope is None or ctx.person is None or not ctx.person.onboarded or not ctx.person.has(*STATS_ROLES):
        return None
    choice = await stats_service.viewable(ctx.services, ctx.person, scope)
    if choice is None:
        return None
    if scope.kind is ScopeKind.STREET:
        return ScopeChoice(scope, ctx._("Whole street"))
    return choice


async def default_scope(ctx: Ctx) -> ScopeChoice | None:
    """The widest scope the person may see: the street for admins, else their first community or grid."""
    assert ctx.person is not None
    choices = await stats_service.viewable_scopes(ctx.services, ctx.person)
    return await allowed(ctx, choices[0].scope) if choices else None


# ------------------------------------------------------------------------------------------- text


def ratio_text(ctx: Ctx, ratio: Ratio) -> str:
    return ctx._("{rate} ({hits} of {total})").format(
        rate=ratio.percent(), hits=ratio.hits, total=ratio.total
    )


def hours_text(ctx: Ctx, spent: Durations) -> str:
    if spent.count == 0:
        return "—"
    return ctx._("median {median} h, 90th percentile {p90} h ({n} reports)").format(
        median=stats_service.format_hours(spent.median),
        p90=stats_service.format_hours(spent.p90),
        n=spent.count,
    )


def period_text(ctx: Ctx, period: Period) -> str:
    return ctx._("{label}: {first} – {last}").format(
        label=ctx._(PERIOD_LABELS[period.kind]), first=period.first.isoformat(), last=period.last.isoformat()
    )


def _breakdown_lines(ctx: Ctx, rows: list[Breakdown], name: Callable[[str], str]) -> list[str]:
    _ = ctx._
    lines = []
    for row in rows[:BREAKDOWN_LINES]:
        late = _(" · ⚠️ {n} overdue").format(n=row.overdue) if row.overdue else ""
        lines.append(
            _("{name}: {received} received · {response} / {resolution} / {satisfaction}{overdue}").format(
                name=esc(shorten(name(row.key), 30)),
                received=row.received,
                response=row.rates.response.percent(),
                resolution=row.rates.resolution.percent(),
                satisfaction=row.rates.satisfaction.percent(),
                overdue=late,
            )
        )
    if len(rows) > BREAKDOWN_LINES:
        lines.append(_("… and {n} more").format(n=len(rows) - BREAKDOWN_LINES))
    return lines


def dashboard_text(ctx: Ctx, choice: ScopeChoice, board: Dashboard) -> str:
    _ = ctx._
    r = board.rates
    lines = [
        f"📊 <b>{esc(choice.name)}</b>",
        period_text(ctx, board.period),
        "",
        _("Reports received: {n}").format(n=board.received),
        _("Response rate: {value}").format(value=ratio_text(ctx, r.response)),
        _("Resolution rate: {value}").format(value=ratio_text(ctx, r.resolution)),
        _("Satisfaction rate: {value}").format(value=ratio_text(ctx, r.satisfaction)),
        _("Working time to accept: {value}").format(value=hours_text(ctx, board.to_accept)),
        _("Working time to resolve: {value}").format(value=hours_text(ctx, board.to_resolve)),
        _("⚠️ Overdue now: {n}").format(n=board.overdue),
        _("Reopen rate: {value}").format(value=ratio_text(ctx, board.reopen)),
    ]
    if board.service.people:
        lines.append(
            _("🙋 Volunteers: {people} · service hours: {hours}").format(
                people=board.service.people, hours=f"{board.service.hours:g}"
            )
        )
    if board.attendance.meetings:
        lines.append(
            _("📅 Meetings held: {meetings} · present: {present} of {going} who said they would come").format(
                meetings=board.attendance.meetings,
                present=board.attendance.present,
                going=board.attendance.going,
            )
        )
    if board.topics:
        lines.append(
            _("🗳 Votes closed: {topics} · turnout: {value}").format(
                topics=board.topics, value=ratio_text(ctx, board.turnout)
            )
        )
    if board.by_category or board.by_grid:
        lines += ["", _("Each line: received · response / resolution / satisfaction rate")]
    if board.by_category:
        lines += ["", _("<b>By category</b>")]
        lines += _breakdown_lines(
            ctx, board.by_category, lambda code: stats_service.category_name(ctx.services, code, ctx.locale)
        )
    if board.by_grid and board.scope.kind is not ScopeKind.GRID:
        stalled = sorted(board.by_grid, key=lambda b: (-b.overdue, b.rates.response.value or 0, -b.received))
        lines += ["", _("<b>By grid</b>, most overdue first")]
        lines += _breakdown_lines(ctx, stalled, lambda key: board.grid_names.get(key, "?"))
    return "\n".join(lines)


DEFINITIONS = N_(
    "<b>How the figures are counted</b>\n\n"
    "<b>Response rate</b>: reports accepted within their sign-for deadline ÷ reports assigned in the period "
    "(by the time of their first assignment).\n"
    "<b>Resolution rate</b>: reports the resident confirmed fixed ÷ reports closed in the period. Closed "
    "unverified, not our responsibility, duplicates and withdrawn reports count in the denominator only.\n"
    "<b>Satisfaction rate</b>: ratings of 4 or 5 stars ÷ ratings given in the period. Every close asks the "
    "reporter for a rating.\n"
    "<b>Working time</b> counts working days and hours only: to accept, from the first assignment to "
    "acceptance; to resolve, from filing to the worker's “resolved”. Median and 90th percentile.\n"
    "<b>Overdue now</b>: open reports past the deadline their assignee works to, as of now.\n"
    "<b>Reopen rate</b>: reports closed in the period that were reopened at least once ÷ reports closed.\n"
    "<b>Turnout</b>: votes cast ÷ eligible votes (people, or households) on topics whose vote closed in the "
    "period."
)


# ------------------------------------------------------------------------------------------ screens


def period_row(ctx: Ctx, prefix: str, scope: Scope, current: Period) -> Row:
    row = []
    for kind in (PeriodKind.THIS_WEEK, PeriodKind.LAST_WEEK, PeriodKind.THIS_MONTH):
        label = ctx._(PERIOD_LABELS[kind])
        row.append(
            ("• " + label if current.kind is kind else label, encode(prefix, "v", scope_code(scope), kind))
        )
    label = ctx._("📅 Dates…")
    row.append(
        (
            "• " + label if current.kind is PeriodKind.RANGE else label,
            encode(PREFIX, "r", scope_code(scope), prefix),
        )
    )
    return row


async def show_dashboard(ctx: Ctx, choice: ScopeChoice, period: Period) -> None:
    _ = ctx._
    board = await stats_service.dashboard(ctx.services, choice.scope, period)
    here = (scope_code(choice.scope), period.code)
    rows = [
        period_row(ctx, PREFIX, choice.scope, period),
        [(_("🔭 Another area"), encode(PREFIX, "p", *here, 0)), (_("📈 Chart"), encode(PREFIX, "c", *here))],
        [(_("ℹ️ Definitions"), encode(PREFIX, "d", *here)), (_("⬇️ Export"), encode("ex", "v", *here))],
    ]
    await present(ctx, dashboard_text(ctx, choice, board), inline(rows))


async def show_scopes(ctx: Ctx, prefix: str, current: Scope, period: Period, page: int) -> None:
    """The areas this person may pick, widest first, eight to a page."""
    assert ctx.person is not None
    choices = await stats_service.viewable_scopes(ctx.services, ctx.person)
    street = ctx._("Whole street")
    rows, _page, _pages = paginated(
        choices,
        page,
        per_page=SCOPES_PER_PAGE,
        per_row=2,
        button=lambda c: (
            shorten(
                ("🏙 " + street)
                if c.scope.kind is ScopeKind.STREET
                else ("🏘 " if c.scope.kind is ScopeKind.COMMUNITY else "▫️ ") + c.name,
                40,
            ),
            encode(prefix, "v", scope_code(c.scope), period.code),
        ),
        nav=lambda p: encode(PREFIX, "p", scope_code(current), period.code, p, prefix),
        counter=ctx._("{page} of {pages}"),
    )
    rows.append([(ctx._("‹ Back"), encode(prefix, "v", scope_code(current), period.code))])
    await present(ctx, ctx._("Which area?"), inline(rows))


async def send_chart(ctx: Ctx, choice: ScopeChoice, period: Period) -> None:
    board = await stats_service.dashboard(ctx.services, choice.scope, period)
    try:
        png = await stats_service.chart_png(ctx.services, board, ctx.locale)
    except charts.ChartFontMissing as missing:
        log.error("chart not drawn: %s", missing)
        await ctx.answer(ctx._(NO_FONT), alert=True)
        return
    await ctx.answer()
    name = f"stats-{scope_code(choice.scope)}-{period.first:%Y%m%d}.png"
    await ctx.context.bot.send_photo(
        chat_id=ctx.user.id,
        photo=InputFile(png, filename=name),
        caption=f"📈 <b>{esc(choice.name)}</b>\n{period_text(ctx, period)}",
        rate_limit_args="reply",
    )


async def scoped_button(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Ctx, str, list[str], ScopeChoice] | None:
    """A dashboard or export button `prefix:action:scope:...`: the scope is checked again on the server,
    and a scope the person may not see is refused here (None)."""
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return None
    _prefix, parts = callback_parts(update)
    choice = await allowed(ctx, parse_scope(parts[1]) if len(parts) > 1 else None)
    if choice is None:
        await ctx.answer(ctx._(NOT_ALLOWED), alert=True)
        return None
    return ctx, parts[0] if parts else "", parts, choice


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    pressed = await scoped_button(update, context)
    if pressed is None:
        return
    ctx, action, parts, choice = pressed
    if action == "r" and len(parts) > 2 and parts[2] in SCREENS:
        await ctx.answer()
        await show(ctx, new_draft(ctx, RANGE_FLOW, "ask", scope=parts[1], screen=parts[2]))
        return
    period = parse_period(parts[2], today(ctx)) if len(parts) > 2 else None
    if period is None:
        await ctx.answer(ctx._(EXPIRED), alert=True)
        return
    if action == "c":
        await send_chart(ctx, choice, period)
        return
    if action == "v":
        await show_dashboard(ctx, choice, period)
    elif action == "d":
        back = [[(ctx._("‹ Back"), encode(PREFIX, "v", parts[1], period.code))]]
        await present(ctx, ctx._(DEFINITIONS), inline(back))
    elif action == "p" and (page := int_part(parts, 3)) is not None:
        screen = parts[4] if len(parts) > 4 and parts[4] in SCREENS else PREFIX
        await show_scopes(ctx, screen, choice.scope, period, page)
    else:
        await ctx.answer(ctx._(EXPIRED), alert=True)
        return
    await ctx.answer()


async def cmd_stats(ctx: Ctx) -> None:
    """`/stats`, or `/stats 2025-03-01 2025-03-31` for a date range."""
    choice = await default_scope(ctx)
    if choice is None:
        await ctx.reply(ctx._(NOT_ALLOWED))
        return
    typed = " ".join(ctx.context.args or [])
    period = parse_dates(typed) if typed else period_for(PeriodKind.THIS_WEEK, today(ctx))
    if period is None:
        await ctx.reply(ctx._(RANGE_PROMPT).format(days=MAX_RANGE_DAYS))
        return
    await show_dashboard(ctx, choice, period)


# -------------------------------------------------------------------------------------- date range


async def _range_view(ctx: Ctx, draft: Draft) -> View:
    text = ctx._(RANGE_PROMPT).format(days=MAX_RANGE_DAYS)
    if draft.data.get("error"):
        text = ctx._("That is not two dates, or the last is before the first.") + "\n" + text
    buttons: list[list[Button]] = [[(ctx._("Cancel"), "cancel")]]
    return text, buttons, None


async def _range_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    choice = await allowed(ctx, parse_scope(str(draft.data.get("scope", ""))))
    screen = SCREENS.get(str(draft.data.get("screen", "")))
    if turn.action == "cancel" or choice is None or screen is None:
        if await end_flow(ctx, draft):
            await present(ctx, ctx._("Cancelled."))
        return
    if turn.action is not None:
        await ctx.answer(ctx._(EXPIRED), alert=True)
        return
    period = parse_dates(turn.text or "")
    if period is None:
        await turn.goto("ask", error=True)
        return
    if await end_flow(ctx, draft):
        await screen(ctx, choice, period)


async def _at_start(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Make sure the weekly report's row exists, and say loudly now if its charts cannot be drawn."""
    services = services_of(context.application)
    if await stats_service.ensure_weekly_report(services):
        log.info("weekly report scheduled")
    try:
        charts.cjk_font(services.settings.chart_font_file, services.settings.default_locale)
    except charts.ChartFontMissing as missing:
        log.error("dashboard charts are unavailable: %s", missing)


def register(application: Application) -> None:
    SCREENS[PREFIX] = show_dashboard
    if application.job_queue is not None:
        # Runs once the bot has started (after migrations); however late, it still runs.
        application.job_queue.run_once(
            _at_start, when=0, name="stats.start", job_kwargs={"misfire_grace_time": None}
        )
    register_flow(application, RANGE_FLOW, Flow(_range_turn, _range_view))
    application.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"), group=COMMANDS)
    menu.add_command(
        application,
        menu.Command(
            "stats",
            N_("Dashboard: the three rates, what is overdue, trends"),
            cmd_stats,
            roles=STATS_ROLES,
            menu_label=N_("📊 Dashboard"),
            order=70,
        ),
    )

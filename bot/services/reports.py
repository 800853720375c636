"""Residents' reports: filing, following, "is it fixed?", ratings, and the machinery every task use case
shares — state moves with their events, pushes through the outbox, SLA clocks as timer rows.

Every change happens in one transaction together with its event row, its outbox rows and its timers, so a
resident is told exactly what was committed and a restart neither loses nor repeats a deadline. A refusal
raises `Refused` inside the transaction: nothing changes, and the handler explains why.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.clock import to_db
from bot.delivery.outbox import (
    Button,
    Lane,
    Param,
    Relative,
    Tr,
    drop_carrying,
    enqueue,
    register_delivered_hook,
    register_drop_check,
    register_refresh,
)
from bot.domain.patrols import patrol_category
from bot.domain.people import Person, Role, ScopeKind, StreetPlace
from bot.domain.reports import (
    AWAITING_ACCEPT,
    BEING_FIXED,
    CLOSE_OUTCOME,
    DESCRIPTION_MAX,
    PHOTOS_MAX,
    WITHDRAWABLE,
    Categories,
    Category,
    Channel,
    Deadlines,
    FixedAnswer,
    IllegalTransition,
    Report,
    ReportEvent,
    ReportState,
    check_move,
    load_categories,
    nearest,
    window,
)
from bot.domain.reports import ReportState as S
from bot.i18n import N_, Translator, translator
from bot.services import routing
from bot.services.accounts import register_personal_data
from bot.services.container import Services
from bot.storage import drafts, people, structure
from bot.storage import reports as store
from bot.storage.db import Connection, Database
from bot.timers.engine import TimerRow, cancel, register_timer, schedule

# Timer kinds (subject: the report id).
ACCEPT_REMIND = "report.accept_remind"
ACCEPT_DUE = "report.accept_due"
FIX_REMIND = "report.fix_remind"
FIX_DUE = "report.fix_due"
VERIFY_DUE = "report.verify_due"
# Outbox reasons (drop checks) and the delivered hook.
# The two reasons a task goes out under (to its assignee, and a copy to whoever is on duty) also read what
# it shows of its reporter when it is sent (`REPORTER_PARAMS`).
FOR_ASSIGNMENT = "report.assignment"  # id: the assignment event
AWAITING_ASSIGNEE = "report.awaiting"  # id: the assignment event; dropped once accepted or moved on
NOT_ACCEPTED = "report.not_accepted"  # id: the report; dropped once anybody accepted it
FROM_REPORTER = "report.from_reporter"  # id: the report; dropped once its reporter erased their data
NOT_FIXED = "report.not_fixed"  # id: the report; dropped once resolved or closed
VERIFYING = "report.verifying"  # id: the report; dropped unless it still waits for "is it fixed?"

STATE_LABELS: dict[ReportState, str] = {
    S.SUBMITTED: N_("🆕 submitted"),
    S.ASSIGNED: N_("⏳ assigned"),
    S.ACCEPTED: N_("✍️ accepted"),
    S.IN_PROGRESS: N_("🔧 in progress"),
    S.RESOLVED: N_("✔️ resolved"),
    S.CLOSED: N_("✅ closed"),
    S.CLOSED_UNVERIFIED: N_("☑️ closed unverified"),
    S.REOPENED: N_("🔁 reopened"),
    S.TRANSFERRED: N_("↪️ transferred"),
    S.NOT_OURS: N_("🚫 not our responsibility"),
    S.DUPLICATE: N_("🔗 duplicate"),
    S.DELIBERATION: N_("🗳 escalated to deliberation"),
    S.WITHDRAWN: N_("↩️ withdrawn"),
}
CHANNEL_LABELS: dict[Channel, str] = {
    Channel.BOT: N_("the bot"),
    Channel.PHONE: N_("phone call"),
    Channel.WALK_IN: N_("walk-in"),
    Channel.HOTLINE: N_("12345 hotline"),
}


class Refused(Exception):
    """A use case said no; `msgid` (marked with N_) tells the person why. Nothing was changed."""

    def __init__(self, msgid: str, **params: object) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params

    def text(self, translate: Callable[[str], str]) -> str:
        return translate(self.msgid).format(**self.params)


STALE = N_("This report has moved on since; nothing was changed. Open it again to see where it stands.")
NOT_YOURS = N_("This is not your report to act on. Nothing was changed.")
UNKNOWN = N_("There is no such report.")
ANSWERED = N_("You have already answered this question.")


@functools.cache
def _categories(path: Path | None, patrol_accept_hours: float, patrol_fix_hours: float) -> Categories:
    street = load_categories(path)
    found = Categories([*street.all, patrol_category(patrol_accept_hours, patrol_fix_hours)])
    found.all = street.all  # what people pick from: patrol tasks are filed by the bot alone
    return found


def categories(services: Services) -> Categories:
    """The street's categories (CATEGORIES_FILE, else the bundled defaults), read once, and the reserved
    category of patrol tasks, which lookups find but `.all` never offers."""
    settings = services.settings
    return _categories(settings.categories_file, settings.patrol_accept_hours, settings.patrol_fix_hours)


def choosable(services: Services, code: str) -> Category | None:
    """A category people may pick for a report (never the reserved patrol category)."""
    return next((c for c in categories(services).all if c.code == code), None)


# ----------------------------------------------------------------------------------------------- who may


def _scope_ids(person: Person, role: Role, kind: ScopeKind) -> set[int]:
    return {s.id for s in person.scopes_for(role) if s.kind is kind}


def oversees(person: Person, report: Report) -> bool:
    """Team leads of the grid, organizers of the community and street admins see and steer a report."""
    return (
        person.has(Role.ADMIN)
        or report.grid_id in _scope_ids(person, Role.SECRETARY, ScopeKind.GRID)
        or report.community_id in _scope_ids(person, Role.ORGANIZER, ScopeKind.COMMUNITY)
    )


def may_work_on(person: Person, report: Report) -> bool:
    return report.assignee_id == person.id or oversees(person, report)


async def may_see(services: Services, person: Person, report: Report) -> bool:
    return (
        report.reporter_id == person.id
        or may_work_on(person, report)
        or await store.is_follower(services.db, report.id, person.id)
    )


def overseen_scopes(person: Person) -> tuple[bool, list[int], list[int]]:
    """(whole street, grid ids, community ids) whose reports this person oversees."""
    return (
        person.has(Role.ADMIN),
        sorted(_scope_ids(person, Role.SECRETARY, ScopeKind.GRID)),
        sorted(_scope_ids(person, Role.ORGANIZER, ScopeKind.COMMUNITY)),
    )


# ---------------------------------------------------------------------------------------- shared moves


async def load_for_update(conn: Connection, report_id: int) -> Report:
    report = await store.get(conn, report_id)
    if report is None:
        raise Refused(UNKNOWN)
    return report


async def move(
    conn: Connection,
    report: Report,
    target: ReportState,
    now: datetime,
    actor_id: int | None,
    kind: str,
    detail: str = "",
    **fields: Any,
) -> int:
    """Change state (if the machine allows it), set `fields`, and write the event; returns the event id."""
    try:
        check_move(report.state, target)
    except IllegalTransition:
        raise Refused(STALE) from None
    if target in CLOSE_OUTCOME:
        fields.setdefault("closed_at", now)
        fields.setdefault("outcome", CLOSE_OUTCOME[target])
        fields.setdefault("due_at", None)
    await store.update(conn, report.id, now, state=target, **fields)
    return await store.add_event(conn, report.id, now, actor_id, kind, report.state, target, detail)


async def locales_of(conn: Connection, person_ids: Iterable[int]) -> dict[int, str]:
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return {}
    rows = await conn.fetch_all(
        f"SELECT id, locale FROM people WHERE id IN ({','.join('?' * len(ids))})", ids
    )
    return {row["id"]: row["locale"] or "zh_Hans" for row in rows}


ParamsFor = Callable[[Translator, str], dict[str, Param]]


async def push(
    conn: Connection,
    now: datetime,
    recipients: Iterable[int],
    template: str,
    params: ParamsFor,
    *,
    buttons: list[list[Button]] | None = None,
    reason: tuple[str, int] | None = None,
    urgent: bool = False,
    photo: str | None = None,
    voice: str | None = None,
    not_before: datetime | None = None,
    on_delivered: tuple[str, int] | None = None,
    lane: Lane = Lane.INTERACTIVE,
) -> None:
    """Queue `template` to each recipient with parameters in their language (category names come from
    the street's categories file, not the catalogs, so they are chosen here per language)."""
    by_locale: dict[str, list[int]] = {}
    for person_id, locale in (await locales_of(conn, recipients)).items():
        by_locale.setdefault(locale, []).append(person_id)
    for locale, ids in by_locale.items():
        await enqueue(
            conn,
            now=now,
            recipients=ids,
            template=template,
            params=params(translator(locale), locale),
            buttons=buttons,
            reason=reason,
            urgent=urgent,
            photo=photo,
            voice=voice,
            not_before=not_before,
            on_delivered=on_delivered,
            lane=lane,
        )


def about(services: Services, report: Report) -> ParamsFor:
    """The parameters most report messages share: number, category, status."""
    cats = categories(services)

    def params(_: Translator, locale: str) -> dict[str, Param]:
        return {
            "number": report.number,
            "category": cats[report.category].name(locale),
            "status": _(STATE_LABELS[report.state]),
        }

    return params


async def tell_residents(
    services: Services,
    conn: Connection,
    report: Report,
    now: datetime,
    template: str,
    extra: dict[str, Param] | None = None,
    *,
    reporter: bool = True,
    photo: str | None = None,
    except_id: int | None = None,
) -> None:
    """A status message to the reporter and everyone following the report (never naming the reporter)."""
    recipients = await store.followers(conn, report.id)
    if reporter and report.reporter_id is not None:
        recipients.insert(0, report.reporter_id)
    recipients = [p for p in recipients if p != except_id]
    base = about(services, report)
    await push(
        conn,
        now,
        recipients,
        template,
        lambda _, loc: {**base(_, loc), **(extra or {})},
        photo=photo,
        urgent=report.urgent,
    )


async def refreshed(conn: Connection, report_id: int) -> Report:
    report = await store.get(conn, report_id)
    assert report is not None
    return report


def subject(report_id: int) -> str:
    return str(report_id)


def sla_window(services: Services, report: Report, start: datetime, *, fix: bool) -> Deadlines:
    """The sign-for window (the fix window with `fix`) from `start`, by the report's category and urgency:
    the one computation behind every SLA deadline, so a recomputed deadline matches a first one."""
    category = categories(services)[report.category]
    hours = category.fix_by_hours if fix else category.accept_by_hours
    return window(services.calendar, start, hours, urgent=report.urgent)


async def start_accept_clock(
    services: Services, conn: Connection, report: Report, now: datetime, assignment_event: int
) -> datetime:
    """The sign-for window of a new assignment: a reminder half-way, supervision at the deadline."""
    deadlines = sla_window(services, report, now, fix=False)
    payload = {"assignment": assignment_event}
    await schedule(
        conn, kind=ACCEPT_REMIND, subject=subject(report.id), due_at=deadlines.remind_at, payload=payload
    )
    await schedule(
        conn, kind=ACCEPT_DUE, subject=subject(report.id), due_at=deadlines.due_at, payload=payload
    )
    return deadlines.due_at


async def stop_accept_clock(conn: Connection, report_id: int) -> None:
    for kind in (ACCEPT_REMIND, ACCEPT_DUE):
        await cancel(conn, kind=kind, subject=subject(report_id))


# The events written where the fix clock starts afresh after the first assignment: a reopening (`_reopen`) and a
# report back from deliberation (services/deliberation.py). A recomputed fix deadline counts from the latest.
FIX_RESTARTS = ("reopened", "resumed")


async def start_fix_clock(
    services: Services, conn: Connection, report: Report, now: datetime
) -> datetime:
    deadlines = sla_window(services, report, now, fix=True)
    await schedule(conn, kind=FIX_REMIND, subject=subject(report.id), due_at=deadlines.remind_at)
    await schedule(conn, kind=FIX_DUE, subject=subject(report.id), due_at=deadlines.due_at)
    return deadlines.due_at


async def stop_fix_clock(conn: Connection, report_id: int) -> None:
    for kind in (FIX_REMIND, FIX_DUE):
        await cancel(conn, kind=kind, subject=subject(report_id))


async def stop_all_clocks(conn: Connection, report_id: int) -> None:
    await stop_accept_clock(conn, report_id)
    await stop_fix_clock(conn, report_id)
    await cancel(conn, kind=VERIFY_DUE, subject=subject(report_id))


TASK_TEMPLATE = N_(
    "🆕 <b>Task {number}</b> · {category}{urgent}\n{description}\n📍 {place}\n👤 {reporter}\n"
    "⏳ Accept by {accept_by} ({accept_in}) · fix by {fix_by}"
)


async def assign(
    services: Services,
    conn: Connection,
    report: Report,
    assignee_id: int,
    now: datetime,
    actor_id: int | None,
    detail: str = "",
) -> Report:
    """Make `assignee_id` responsible: state assigned, a fresh sign-for window, the task pushed to them."""
    event = await move(
        conn,
        report,
        S.ASSIGNED,
        now,
        actor_id,
        "assigned",
        detail or str(assignee_id),
        assignee_id=assignee_id,
    )
    due = await start_accept_clock(services, conn, report, now, event)
    first = report.assigned_at is None
    fields: dict[str, Any] = {"assignment_event": event, "due_at": due}
    if first:
        fields |= {
            "assigned_at": now,
            "accept_by": due,
            "fix_by": await start_fix_clock(services, conn, report, now),
        }
    await store.update(conn, report.id, now, **fields)
    report = await refreshed(conn, report.id)
    await push_task(services, conn, report, now)
    return report


async def place_text(services: Services, report: Report) -> str:
    return await place_text_for(services, report.building_id, report.unit)


async def place_text_for(services: Services, building_id: int, unit: str | None) -> str:
    return await _place_text(services.db, building_id, unit)


async def _place_text(db: Database, building_id: int, unit: str | None) -> str:
    """`Building A, 1-101`: where a problem is, as people say it."""
    place = await structure.place(db, building_id)
    name = place.building_name if place else "?"
    return f"{name}, {unit}" if unit else name


ANONYMOUS = N_("anonymous — use “Ask the reporter”")
ERASED = N_("(removed at the reporter's request)")
# The parameters of a task message that show what the store holds about its reporter. They are queued as
# None and read when the message is sent (`reporter_params`, registered as the refresh of the reasons tasks
# go out under), so the queued row never keeps them, and a reporter who erases their data before it goes
# (a report filed at night waits for the morning) never has their name, phone, home or words sent.
REPORTER_PARAMS: dict[str, Param] = dict.fromkeys(("description", "place", "reporter"))


async def reporter_params(db: Database, report: Report) -> dict[str, Param]:
    """`REPORTER_PARAMS` as the store holds them now: the description (or a voice note's mention while the
    note is kept, or that the reporter had it removed), where, and the reporter's name and phone unless
    anonymous. An erased reporter's report is anonymous and keeps neither words nor voice nor unit."""
    contact = await reporter_contact(db, report)
    description: Param = report.description or Tr(N_("(voice note)") if report.voice else ERASED)
    return {
        "description": description,
        "place": await _place_text(db, report.building_id, report.unit),
        "reporter": Tr(ANONYMOUS) if contact is None else " · ".join(contact),
    }


def open_task_button(report_id: int) -> list[list[Button]]:
    """The "📋 Open task" row every push about a task carries, so the worker gets to its card in one tap."""
    return [[Button(N_("📋 Open task"), f"tk:o:{report_id}")]]


async def push_task(services: Services, conn: Connection, report: Report, now: datetime) -> None:
    """The task to the assignee, then the reporter's voice note as a voice message, then the photos, all
    under the assignment's reason so they are dropped together if the task moves on before they go.
    The task stays a text message of its own: a caption would cut a long description to 1,024 characters,
    and its buttons edit it in place. What it shows of the reporter is read when it is sent
    (`REPORTER_PARAMS`); their name and phone go along unless anonymous, and that disclosure is logged like
    any other look at a reporter's contact details."""
    assert report.assignee_id is not None and report.assignment_event is not None
    if await reporter_contact(conn, report) is not None:
        await people.audit(conn, now, report.assignee_id, "report.contact_sent", report.number)
    base = about(services, report)

    def params(_: Translator, locale: str) -> dict[str, Param]:
        return {
            **base(_, locale),
            **REPORTER_PARAMS,
            "urgent": _(" · ⚠️ urgent") if report.urgent else "",
            "accept_by": report.due_at,
            "accept_in": Relative(report.due_at or now),
            "fix_by": report.fix_by,
        }

    buttons = [
        [Button(N_("✅ Accept"), f"tk:a:{report.id}"), Button(N_("↩️ Not mine"), f"tk:n:{report.id}")],
        *open_task_button(report.id),
    ]
    reason = (FOR_ASSIGNMENT, report.assignment_event)
    await push(
        conn,
        now,
        [report.assignee_id],
        TASK_TEMPLATE,
        params,
        buttons=buttons,
        reason=reason,
        urgent=report.urgent,
    )
    if report.voice:
        await push(
            conn,
            now,
            [report.assignee_id],
            N_("🎤 Voice note for task {number}"),
            lambda _, loc: {"number": report.number},
            voice=report.voice,
            reason=reason,
            urgent=report.urgent,
        )
    photos = [
        file_id for _p, kind, file_id in await store.media(conn, report.id, "report") if kind == "photo"
    ]
    for index, file_id in enumerate(photos, start=1):
        await push(
            conn,
            now,
            [report.assignee_id],
            N_("📷 {number}: photo {n} of {total}"),
            lambda _, loc, n=index: {"number": report.number, "n": n, "total": len(photos)},
            photo=file_id,
            reason=reason,
            urgent=report.urgent,
        )


async def reporter_contact(source: store.Reader, report: Report) -> tuple[str, ...] | None:
    """The reporter's name and phone (or the caller's, for reports filed on their behalf); None when
    anonymous. Callers log each disclosure."""
    if report.anonymous:
        return None
    if report.reporter_id is None:
        return tuple(x for x in (report.contact_name, report.contact_phone) if x) or None
    row = await source.fetch_one("SELECT name, phone FROM people WHERE id = ?", (report.reporter_id,))
    if row is None:
        return None
    return tuple(x for x in (row["name"], row["phone"]) if x) or None


async def close_and_ask_rating(
    services: Services,
    conn: Connection,
    report: Report,
    now: datetime,
    *,
    ask_reporter: bool,
) -> None:
    """After any close: tell the followers and the assignee, and ask the reporter for a 1–5 rating
    (through the outbox unless the reporter is the one who closed it and is answered directly)."""
    await stop_all_clocks(conn, report.id)
    await tell_residents(
        services, conn, report, now, N_("Report {number} ({category}) is now {status}."), reporter=False
    )
    if ask_reporter and report.reporter_id is not None:
        await push(
            conn,
            now,
            [report.reporter_id],
            RATE_TEMPLATE,
            about(services, report),
            buttons=rating_buttons(report.id),
        )


RATE_TEMPLATE = N_("Report {number} ({category}) is now {status}. How did we do? Rate 1 to 5 stars.")


def rating_buttons(report_id: int) -> list[list[Button]]:
    return [[Button("⭐" * n, f"mr:s:{report_id}:{n}") for n in range(1, 6)]]


# ---------------------------------------------------------------------------------------------- filing


class ReportInput(BaseModel):
    """What the /report flow (or a team lead filing on a resident's behalf) collected."""

    category: str
    description: str = ""
    voice: str | None = None
    photos: list[str] = []
    building_id: int
    unit: str | None = None
    lat: float | None = None
    lon: float | None = None
    urgent: bool = False
    anonymous: bool = False
    channel: Channel = Channel.BOT
    contact_name: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class Filed:
    report: Report
    assignee_id: int | None


ALREADY_FILED = N_("This report was already sent. See /myreports.")
TOO_MANY = N_(
    "You have sent {limit} reports in the last hour, the most we take. Please try again later, "
    "or call your grid worker if it cannot wait."
)


def check_input(services: Services, data: ReportInput) -> Category:
    """Refuse what the flow should never have let through (forged or stale drafts)."""
    category = choosable(services, data.category)
    if category is None:
        raise Refused(N_("That category no longer exists. Please start again with /report."))
    if not (data.description.strip() or data.voice) or len(data.description) > DESCRIPTION_MAX:
        raise Refused(
            N_("A report needs a description of up to {limit} characters, or a voice note."),
            limit=DESCRIPTION_MAX,
        )
    if len(data.photos) > PHOTOS_MAX or (data.urgent and not category.allows_urgent):
        raise Refused(STALE)
    return category


async def submit_report(
    services: Services,
    reporter: Person | None,
    data: ReportInput,
    *,
    telegram_id: int,
    draft_version: int,
    filed_by: Person | None = None,
) -> Filed:
    """File a report, route it and push the task, all in one transaction; the draft version makes a
    double tap or a replay file it once (the second gets `Refused(ALREADY_FILED)`)."""
    check_input(services, data)
    place = await structure.place(services.db, data.building_id)
    if place is None:
        raise Refused(N_("That building is not in this street. Please pick it again."))
    now = services.clock.now()
    limit = services.settings.reports_per_hour
    async with services.db.transaction() as conn:
        if not await drafts.clear(conn, telegram_id, version=draft_version):
            raise Refused(ALREADY_FILED)
        if filed_by is None and reporter is not None:
            if await store.filed_since(conn, reporter.id, now - timedelta(hours=1)) >= limit:
                raise Refused(TOO_MANY, limit=limit)
        return await file_and_route(
            services, conn, data, place, now, reporter_id=reporter.id if reporter else None,
            filed_by_id=filed_by.id if filed_by else None,
        )


# Run in the filing transaction once a new report is routed (the duty roster copies urgent ones at night).
FiledHook = Callable[[Services, Connection, Report, datetime], Awaitable[None]]
_filed_hooks: dict[str, FiledHook] = {}


def register_filed_hook(name: str, hook: FiledHook) -> None:
    """`hook(services, conn, report, now)` runs after every new report is filed and routed."""
    _filed_hooks[name] = hook


async def file_and_route(
    services: Services,
    conn: Connection,
    data: ReportInput,
    place: StreetPlace,
    now: datetime,
    *,
    reporter_id: int | None,
    filed_by_id: int | None,
) -> Filed:
    """Number, store and route a report in the caller's transaction: what residents, staff filing on a
    resident's behalf and patrols (filed by the bot) share once the caller has checked the input."""
    number = await store.next_number(conn, now.astimezone(services.settings.tz).year)
    report_id = await store.insert(
        conn,
        now=now,
        number=number,
        category=data.category,
        urgent=data.urgent,
        anonymous=data.anonymous,
        description=data.description.strip(),
        voice=data.voice,
        building_id=place.building_id,
        unit=data.unit,
        lat=data.lat,
        lon=data.lon,
        grid_id=place.grid_id,
        community_id=place.community_id,
        reporter_id=reporter_id,
        channel=data.channel,
        filed_by=filed_by_id,
        contact_name=data.contact_name,
        contact_phone=data.contact_phone,
    )
    await store.add_media(conn, report_id, now, reporter_id, "report", "photo", data.photos)
    if data.voice:
        await store.add_media(conn, report_id, now, reporter_id, "report", "voice", [data.voice])
    await store.add_event(
        conn, report_id, now, filed_by_id or reporter_id, "filed", None, S.SUBMITTED, data.channel.value
    )
    report = await refreshed(conn, report_id)
    routed = await routing.route(conn, place.grid_id, place.community_id, now)
    if routed is not None:
        report = await assign(services, conn, report, routed[0], now, None, f"{routed[0]}:{routed[1].value}")
    for hook in _filed_hooks.values():
        await hook(services, conn, report, now)
    return Filed(report, routed[0] if routed else None)


async def similar_open(services: Services, category: str, building_id: int) -> list[Report]:
    """Open reports of the same category in the same building from the duplicate window, newest first."""
    since = services.clock.now() - timedelta(days=services.settings.duplicate_window_days)
    return await store.open_duplicates(services.db, building_id, category, since)


async def follow_instead(
    services: Services, person: Person, report_id: int, *, telegram_id: int, draft_version: int
) -> Report:
    """Follow an open report rather than file a duplicate: its updates reach the person, its count rises."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        if not await drafts.clear(conn, telegram_id, version=draft_version):
            raise Refused(ALREADY_FILED)
        report = await load_for_update(conn, report_id)
        if not report.is_open:
            raise Refused(N_("That report has been closed meanwhile. Please file yours with /report."))
        if report.reporter_id != person.id and await store.follow(conn, report.id, person.id, now):
            await store.add_event(conn, report.id, now, person.id, "followed")
        return await refreshed(conn, report.id)


# ------------------------------------------------------------------------------------------ reading


async def get(services: Services, report_id: int) -> Report | None:
    return await store.get(services.db, report_id)


async def visible(services: Services, person: Person, report_id: int) -> Report:
    """A report this person may look at, else `Refused` (a forged or foreign id)."""
    report = await store.get(services.db, report_id)
    if report is None or not await may_see(services, person, report):
        raise Refused(UNKNOWN)
    return report


async def timeline(services: Services, report_id: int) -> list[ReportEvent]:
    return await store.events(services.db, report_id)


async def media(services: Services, report_id: int) -> list[tuple[str, str, str]]:
    return await store.media(services.db, report_id)


async def my_reports(
    services: Services, person: Person, *, page: int, per_page: int
) -> tuple[list[Report], int]:
    return await store.reports_of(services.db, person.id, offset=page * per_page, limit=per_page)


async def rating(services: Services, report_id: int) -> tuple[int, str | None] | None:
    return await store.rating(services.db, report_id)


async def buildings(services: Services, person: Person | None = None) -> list[tuple[int, str, str]]:
    """(id, code, name) of the buildings a report may be filed for; with `person`, those they oversee."""
    rows = await store.buildings(services.db)
    if person is not None:
        street, grids, communities = overseen_scopes(person)
        rows = [r for r in rows if street or r["grid_id"] in grids or r["community_id"] in communities]
    return [(r["id"], r["code"], r["name"]) for r in rows]


async def building_near(services: Services, lat: float, lon: float) -> int | None:
    """The building nearest a location pin, or None when the pin is farther than the street allows."""
    rows = await store.buildings(services.db)
    points = [(r["id"], r["lat"], r["lon"]) for r in rows if r["lat"] is not None and r["lon"] is not None]
    return nearest(lat, lon, points, services.settings.location_max_distance_m)


async def over_hourly_limit(services: Services, person: Person) -> bool:
    since = services.clock.now() - timedelta(hours=1)
    return await store.filed_since(services.db, person.id, since) >= services.settings.reports_per_hour


async def question_report(services: Services, person: Person, question_id: int) -> Report:
    """The report a worker's question is about, when this person is its reporter and has not answered."""
    row = await store.question(services.db, question_id)
    report = await store.get(services.db, row["report_id"]) if row is not None else None
    if row is None or report is None or report.reporter_id != person.id:
        raise Refused(UNKNOWN)
    if row["answer"] is not None:
        raise Refused(ANSWERED)
    return report


# ---------------------------------------------------------------------------------- resident actions


def _own(report: Report, person: Person) -> None:
    if report.reporter_id != person.id:
        raise Refused(NOT_YOURS)


async def add_information(
    services: Services,
    person: Person,
    report_id: int,
    *,
    text: str | None = None,
    photo: str | None = None,
    voice: str | None = None,
) -> Report:
    """More words, a photo or a voice note for an open report, passed on to whoever handles it: the photo or
    the voice note goes as itself with the words as its caption (one message carries one of them, as a
    Telegram message does). Its whole point is the reporter's words, so it is dropped if they erase their data
    before it goes (`FROM_REPORTER`)."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await load_for_update(conn, report_id)
        _own(report, person)
        if not report.is_open:
            raise Refused(N_("This report is closed. To report something new, use /report."))
        for kind, file_id in (("photo", photo), ("voice", voice)):
            if file_id:
                await store.add_media(conn, report.id, now, person.id, "info", kind, [file_id])
        await store.add_event(conn, report.id, now, person.id, "information", detail=text or "")
        if report.assignee_id is not None:
            template = N_("ℹ️ New information on task {number}: {text}")
            await push(
                conn,
                now,
                [report.assignee_id],
                template,
                lambda _, loc: {
                    "number": report.number,
                    "text": text or (_("a voice note") if voice else _("a photo")),
                },
                photo=photo,
                voice=voice,
                buttons=open_task_button(report.id),
                reason=(FROM_REPORTER, report.id),
                urgent=report.urgent,
            )
        return report


async def withdraw(services: Services, person: Person, report_id: int) -> Report:
    """The reporter takes back a report nobody has accepted yet."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await load_for_update(conn, report_id)
        _own(report, person)
        if report.state not in WITHDRAWABLE:
            raise Refused(N_("Somebody has already accepted this report, so it can no longer be withdrawn."))
        return await _closed_by_reporter(
            services, conn, report, person, now, S.WITHDRAWN, "withdrawn",
            N_("Task {number} ({category}) was withdrawn by the reporter; nothing more to do."),
        )


async def _closed_by_reporter(
    services: Services, conn: Connection, report: Report, person: Person, now: datetime,
    state: S, event: str, notice: str,
) -> Report:
    """The reporter ended it (withdrawn, or confirmed fixed): the assignee, if any, hears `notice`; the
    reporter is not asked to rate what they closed themselves."""
    await move(conn, report, state, now, person.id, event)
    closed = await refreshed(conn, report.id)
    if report.assignee_id is not None:
        await push(conn, now, [report.assignee_id], notice, about(services, closed))
    await close_and_ask_rating(services, conn, closed, now, ask_reporter=False)
    return closed


async def answer_fixed(services: Services, person: Person, report_id: int, answer: FixedAnswer) -> Report:
    """The reporter's "is it fixed?": yes closes it, no reopens it to the worker (the team lead is told),
    not sure asks the team lead for a return visit and leaves the question open."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await load_for_update(conn, report_id)
        _own(report, person)
        if report.state is not S.RESOLVED:
            raise Refused(STALE)
        if answer is FixedAnswer.YES:
            return await _closed_by_reporter(
                services, conn, report, person, now, S.CLOSED, "confirmed_fixed",
                N_("✅ The reporter confirmed task {number} ({category}) is fixed. Thank you!"),
            )
        if answer is FixedAnswer.NO:
            return await _reopen(services, conn, report, person, now)
        await store.add_event(conn, report.id, now, person.id, "not_sure")
        await push(
            conn,
            now,
            await routing.supervisors(conn, report, now),
            N_(
                "The reporter of {number} ({category}) is not sure it is fixed. Please arrange a return "
                "visit."
            ),
            about(services, report),
            buttons=open_task_button(report.id),
        )
        return report


async def _reopen(
    services: Services, conn: Connection, report: Report, person: Person, now: datetime
) -> Report:
    await move(
        conn,
        report,
        S.REOPENED,
        now,
        person.id,
        "reopened",
        reopen_count=report.reopen_count + 1,
        resolved_at=None,
        verify_delivered_at=None,
    )
    await cancel(conn, kind=VERIFY_DUE, subject=subject(report.id))
    reopened = await refreshed(conn, report.id)
    fix_by = await start_fix_clock(services, conn, reopened, now)
    await store.update(conn, report.id, now, fix_by=fix_by, due_at=fix_by)
    reopened = await refreshed(conn, report.id)
    base = about(services, reopened)
    params: ParamsFor = lambda _, loc: {**base(_, loc), "count": reopened.reopen_count, "fix_by": fix_by}  # noqa: E731
    if reopened.assignee_id is not None:
        await push(
            conn,
            now,
            [reopened.assignee_id],
            N_(
                "🔁 Task {number} ({category}) is reopened: the reporter says it is not fixed (reopened "
                "{count} times). Fix by {fix_by}."
            ),
            params,
            buttons=open_task_button(report.id),
            urgent=reopened.urgent,
        )
    await push(
        conn,
        now,
        await routing.supervisors(conn, reopened, now),
        N_("🔁 Report {number} ({category}) was reopened by its reporter ({count} times so far)."),
        params,
    )
    await tell_residents(
        services, conn, reopened, now, N_("Report {number} ({category}) is now {status}."), reporter=False
    )
    return reopened


async def rate(services: Services, person: Person, report_id: int, stars: int) -> Report:
    """The reporter's 1–5 rating of a closed report; pressing another star changes it."""
    if not 1 <= stars <= 5:
        raise Refused(STALE)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        report = await load_for_update(conn, report_id)
        _own(report, person)
        if report.is_open:
            raise Refused(N_("You can rate a report once it is closed."))
        if not await store.rate(conn, report.id, person.id, stars, now):
            raise Refused(NOT_YOURS)
        await store.add_event(conn, report.id, now, person.id, "rated", detail=str(stars))
        return report


async def comment_rating(services: Services, person: Person, report_id: int, comment: str) -> None:
    async with services.db.transaction() as conn:
        if not await store.set_rating_comment(conn, report_id, person.id, comment):
            raise Refused(N_("Please rate the report with the stars first."))


async def answer_question(services: Services, person: Person, question_id: int, answer: str) -> Report:
    """The reporter answers a worker's question; the answer is relayed without naming them, unless they
    erase their data before it goes (`FROM_REPORTER`)."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        row = await store.question(conn, question_id)
        if row is None:
            raise Refused(UNKNOWN)
        report = await load_for_update(conn, row["report_id"])
        _own(report, person)
        if not await store.answer_question(conn, question_id, answer, now):
            raise Refused(ANSWERED)
        await store.add_event(conn, report.id, now, person.id, "answer", detail=answer)
        if row["asker_id"] is not None:
            await push(
                conn,
                now,
                [row["asker_id"]],
                N_("💬 The reporter of {number} answered:\n{answer}\n\nYour question: {question}"),
                lambda _, loc: {"number": report.number, "answer": answer, "question": row["question"]},
                buttons=open_task_button(report.id),
                reason=(FROM_REPORTER, report.id),
            )
        return report


# ------------------------------------------------------------------------------- timers and drop checks


async def _on_accept_remind(services: Services, conn: Connection, timer: TimerRow) -> None:
    report = await store.get(conn, int(timer.subject))
    if report is None or report.state is not S.ASSIGNED or report.assignee_id is None:
        return
    await push(
        conn,
        services.clock.now(),
        [report.assignee_id],
        N_("⏰ Task {number} ({category}) is waiting for you to accept it, due {due}."),
        lambda _, loc: {**about(services, report)(_, loc), "due": Relative(report.due_at or timer.due_at)},
        buttons=[
            [Button(N_("✅ Accept"), f"tk:a:{report.id}"), Button(N_("📋 Open task"), f"tk:o:{report.id}")]
        ],
        reason=(AWAITING_ASSIGNEE, report.assignment_event or 0),
        urgent=report.urgent,
    )


async def _on_accept_due(services: Services, conn: Connection, timer: TimerRow) -> None:
    report = await store.get(conn, int(timer.subject))
    if report is None or report.state not in AWAITING_ACCEPT:
        return
    now = services.clock.now()
    await store.update(conn, report.id, now, accept_overdue_at=now)
    await store.add_event(conn, report.id, now, None, "accept_overdue")
    await push(
        conn,
        now,
        await routing.supervisors(conn, report, now),
        N_("⚠️ Overdue notice: report {number} ({category}) was not accepted in time ({status})."),
        about(services, report),
        buttons=open_task_button(report.id),
        reason=(NOT_ACCEPTED, report.id),
        urgent=report.urgent,
    )


async def _on_fix_remind(services: Services, conn: Connection, timer: TimerRow) -> None:
    report = await store.get(conn, int(timer.subject))
    if report is None or report.state not in BEING_FIXED | AWAITING_ACCEPT or report.assignee_id is None:
        return
    await push(
        conn,
        services.clock.now(),
        [report.assignee_id],
        N_("⏰ Task {number} ({category}) is to be fixed {due}."),
        lambda _, loc: {**about(services, report)(_, loc), "due": Relative(report.fix_by or timer.due_at)},
        buttons=open_task_button(report.id),
        reason=(NOT_FIXED, report.id),
        urgent=report.urgent,
    )


async def _on_fix_due(services: Services, conn: Connection, timer: TimerRow) -> None:
    report = await store.get(conn, int(timer.subject))
    if report is None or report.state not in BEING_FIXED | AWAITING_ACCEPT:
        return
    now = services.clock.now()
    await store.update(conn, report.id, now, fix_overdue_at=now)
    await store.add_event(conn, report.id, now, None, "fix_overdue")
    await push(
        conn,
        now,
        await routing.supervisors(conn, report, now, escalate=True),
        N_("⚠️ Overdue notice: report {number} ({category}) was not fixed in time ({status})."),
        about(services, report),
        buttons=open_task_button(report.id),
        reason=(NOT_FIXED, report.id),
        urgent=report.urgent,
    )


async def _on_verify_due(services: Services, conn: Connection, timer: TimerRow) -> None:
    """No answer to "is it fixed?" within the window after delivery: closed unverified."""
    report = await store.get(conn, int(timer.subject))
    if report is None or report.state is not S.RESOLVED:
        return
    now = services.clock.now()
    await move(conn, report, S.CLOSED_UNVERIFIED, now, None, "closed_unverified")
    closed = await refreshed(conn, report.id)
    await close_and_ask_rating(services, conn, closed, now, ask_reporter=True)


async def _on_verify_delivered(conn: Connection, report_id: int, delivered_at: datetime) -> None:
    """The "is it fixed?" window starts when the question reached the reporter, not when it was queued."""
    row = await conn.fetch_one(
        "SELECT verify_hours FROM reports WHERE id = ? AND state = 'resolved' "
        "AND verify_delivered_at IS NULL",
        (report_id,),
    )
    if row is None or row["verify_hours"] is None:
        return
    await conn.execute(
        "UPDATE reports SET verify_delivered_at = ? WHERE id = ?", (to_db(delivered_at), report_id)
    )
    await schedule(
        conn,
        kind=VERIFY_DUE,
        subject=subject(report_id),
        due_at=delivered_at + timedelta(hours=int(row["verify_hours"])),
    )


async def _assignment_gone(db: Database, event_id: int) -> bool:
    return (
        await db.fetch_one(f"SELECT 1 FROM reports WHERE assignment_event = ? AND {store.OPEN}", (event_id,))
        is None
    )


async def _accepted_or_moved(db: Database, event_id: int) -> bool:
    return (
        await db.fetch_one(
            "SELECT 1 FROM reports WHERE assignment_event = ? AND state = 'assigned'", (event_id,)
        )
        is None
    )


async def _anybody_accepted(db: Database, report_id: int) -> bool:
    states = ",".join(f"'{s.value}'" for s in AWAITING_ACCEPT)
    return (
        await db.fetch_one(f"SELECT 1 FROM reports WHERE id = ? AND state IN ({states})", (report_id,))
        is None
    )


async def _fixed_or_closed(db: Database, report_id: int) -> bool:
    states = ",".join(f"'{s.value}'" for s in BEING_FIXED | AWAITING_ACCEPT)
    return (
        await db.fetch_one(f"SELECT 1 FROM reports WHERE id = ? AND state IN ({states})", (report_id,))
        is None
    )


async def _no_longer_verifying(db: Database, report_id: int) -> bool:
    return (
        await db.fetch_one("SELECT 1 FROM reports WHERE id = ? AND state = 'resolved'", (report_id,)) is None
    )


async def _reporter_gone(db: Database, report_id: int) -> bool:
    """Only erasure takes a report's reporter away (see `_erase`), and with them the words they added."""
    return (
        await db.fetch_one("SELECT 1 FROM reports WHERE id = ? AND reporter_id IS NOT NULL", (report_id,))
        is None
    )


async def _reporter_of_assignment(db: Database, event_id: int) -> dict[str, Param]:
    report_id = await db.fetch_value("SELECT id FROM reports WHERE assignment_event = ?", (event_id,))
    return {} if report_id is None else await _reporter_of(db, report_id)


async def _reporter_of(db: Database, report_id: int) -> dict[str, Param]:
    report = await store.get(db, report_id)
    return {} if report is None else await reporter_params(db, report)


# --------------------------------------------------------------------------------------- personal data


async def _export(db: Database, person_id: int) -> list[dict[str, Any]]:
    rows = await db.fetch_all(
        "SELECT number, category, state, urgent, anonymous, description, unit, channel, created_at, "
        "closed_at, "
        "outcome FROM reports WHERE reporter_id = ? ORDER BY id",
        (person_id,),
    )
    followed = await db.fetch_all(
        "SELECT r.number, f.followed_at FROM report_followers f JOIN reports r ON r.id = f.report_id "
        "WHERE f.person_id = ?",
        (person_id,),
    )
    ratings = await db.fetch_all(
        "SELECT r.number, g.stars, g.comment, g.rated_at FROM report_ratings g "
        "JOIN reports r ON r.id = g.report_id "
        "WHERE g.person_id = ?",
        (person_id,),
    )
    answers = await db.fetch_all(
        "SELECT r.number, q.question, q.answer, q.answered_at FROM report_questions q "
        "JOIN reports r ON r.id = q.report_id WHERE r.reporter_id = ? AND q.answer IS NOT NULL",
        (person_id,),
    )
    return (
        [{"report": dict(r)} for r in rows]
        + [{"following": dict(r)} for r in followed]
        + [{"rating": dict(r)} for r in ratings]
        + [{"answer": dict(r)} for r in answers]
    )


async def _erase(conn: Connection, person_id: int) -> None:
    """Reports stay for the street's records, without the person: their words and media go (queued
    messages still carrying their photos or voice notes with them; queued tasks show what is left when
    they are sent, see `REPORTER_PARAMS`, and what they added later is dropped, see `FROM_REPORTER`), the
    reporter link goes, and so do follows and rating comments."""
    mine = "SELECT id FROM reports WHERE reporter_id = ?"
    media = await conn.fetch_all(
        f"DELETE FROM report_media WHERE added_by = ? AND report_id IN ({mine}) RETURNING file_id",
        (person_id, person_id),
    )
    await drop_carrying(conn, [row["file_id"] for row in media], "the person who sent it erased their data")
    await conn.execute(
        f"UPDATE report_questions SET answer = '' WHERE answer IS NOT NULL AND report_id IN ({mine})",
        (person_id,),
    )
    await conn.execute(
        "UPDATE report_events SET detail = '' WHERE actor_id = ? AND kind IN ('information', 'answer')",
        (person_id,),
    )
    await conn.execute(
        "UPDATE reports SET description = '', voice = NULL, unit = NULL, lat = NULL, lon = NULL, "
        "reporter_id = NULL, anonymous = 1 WHERE reporter_id = ?",
        (person_id,),
    )
    await conn.execute("DELETE FROM report_followers WHERE person_id = ?", (person_id,))
    await conn.execute(
        "UPDATE report_ratings SET comment = NULL, person_id = NULL WHERE person_id = ?", (person_id,)
    )


def register() -> None:
    """Timer kinds, drop checks, refreshes, the delivered hook and personal data; idempotent (registries
    are dicts)."""
    register_timer(ACCEPT_REMIND, _on_accept_remind)
    register_timer(ACCEPT_DUE, _on_accept_due)
    register_timer(FIX_REMIND, _on_fix_remind)
    register_timer(FIX_DUE, _on_fix_due)
    register_timer(VERIFY_DUE, _on_verify_due)
    register_drop_check(FOR_ASSIGNMENT, _assignment_gone)
    register_drop_check(AWAITING_ASSIGNEE, _accepted_or_moved)
    register_drop_check(NOT_ACCEPTED, _anybody_accepted)
    register_drop_check(NOT_FIXED, _fixed_or_closed)
    register_drop_check(VERIFYING, _no_longer_verifying)
    register_drop_check(FROM_REPORTER, _reporter_gone)
    register_refresh(FOR_ASSIGNMENT, _reporter_of_assignment)
    register_refresh(NOT_ACCEPTED, _reporter_of)
    register_delivered_hook(VERIFYING, _on_verify_delivered)
    register_personal_data("reports", _export, _erase)


register()

"""Volunteering use cases: join, browse, sign up, cancel, confirm an offer; create, reschedule, cancel,
check in, verify hours; export hours and issue service records.

Every use case that acts for staff re-checks on the server that this person manages this activity;
every push to someone else goes through the outbox in the same transaction as the change.
"""

from __future__ import annotations

import csv
import html
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from bot.clock import to_db
from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.outbox import Button, Lane, Relative
from bot.domain.broadcasts import Topic
from bot.domain.capacity import Counts, EventKey, Seat, SeatState, SignUpOutcome
from bot.domain.event_times import TimeProblem
from bot.domain.people import Person, Role, Scope, ScopeKind
from bot.domain.volunteering import (
    KIND,
    MANAGER_ROLES,
    Availability,
    CheckInMethod,
    HoursSummary,
    Opportunity,
    Project,
    ProjectStatus,
    RosterLine,
    ServiceEntry,
    ServiceStatus,
    Skill,
    Volunteer,
    check_in_open,
    event_key,
    format_hours,
    manages,
    manages_projects_of,
    no_show_allowed,
    summarize,
    time_problem,
)
from bot.i18n import N_, Translator
from bot.services import accounts, capacity
from bot.services.capacity import CancelOutcome, CapacityResult, ConfirmOutcome, Notice, SlotKind
from bot.services.container import Services
from bot.storage import broadcasts as broadcasts_store
from bot.storage import people, structure
from bot.storage import volunteering as store
from bot.storage.db import Connection, Database
from bot.ui.callbacks import encode
from bot.ui.spreadsheet import cell

CALLBACK = "vol"  # prefix of volunteering buttons on pushed messages (bot/handlers/volunteer.py)
CODE_ATTEMPTS = 20


def button_data(action: str, *ids: object) -> str:
    return encode(CALLBACK, action, *ids)


def _window(settings: Settings) -> timedelta:
    return timedelta(hours=settings.volunteer_confirm_hours)


# ---- the pushes --------------------------------------------------------------------------------------


async def _opportunity(conn: Connection, opportunity_id: int) -> Opportunity:
    found = await store.opportunity_in(conn, opportunity_id)
    assert found is not None, f"opportunity {opportunity_id} is gone"
    return found


async def _offer_notice(conn: Connection, seat: Seat) -> Notice:
    opp = await _opportunity(conn, seat.key.event_id)
    return Notice(
        N_("🙋 A place is free for you at <b>{title}</b> ({starts}). Please confirm within {hours} h of this "
           "message, or it passes to the next person on the waitlist."),
        {"title": opp.title, "starts": opp.starts_at, "hours": format_hours((seat.offer_minutes or 0) / 60)},
        [[Button(N_("✅ Confirm my place"), button_data("cf", opp.id)),
          Button(N_("Give it up"), button_data("no", opp.id))]],
    )


async def _reminder_notice(conn: Connection, seat: Seat, offset: timedelta) -> Notice:
    opp = await _opportunity(conn, seat.key.event_id)
    return Notice(
        N_("⏰ Reminder: <b>{title}</b> starts {when} ({starts}) at {place}. Show your check-in code to the "
           "organizer when you arrive."),
        {"title": opp.title, "when": Relative(opp.starts_at), "starts": opp.starts_at, "place": opp.place},
        [[Button(N_("🔢 My check-in code"), button_data("code", opp.id)),
          Button(N_("I can't come"), button_data("cl", opp.id))]],
    )


async def _lapse_notice(conn: Connection, seat: Seat) -> Notice:
    opp = await _opportunity(conn, seat.key.event_id)
    return Notice(
        N_("⌛ The place at <b>{title}</b> was not confirmed in time and has passed to the next person."),
        {"title": opp.title},
    )


capacity.register_slot_kind(
    KIND, SlotKind(confirm_window=_window, offer_notice=_offer_notice, reminder_notice=_reminder_notice,
                   lapse_notice=_lapse_notice),
)


# ---- who may do what ---------------------------------------------------------------------------------


async def community_of_scope(db: Database, scope: Scope) -> int | None:
    """The community an activity at `scope` belongs to (None for the whole street)."""
    if scope.kind is ScopeKind.COMMUNITY:
        return scope.id
    if scope.kind is ScopeKind.GRID:
        return await store.community_of_grid(db, scope.id)
    return None


@dataclass(frozen=True)
class Home:
    """Where a person belongs for volunteering: their home's community and grid, else where they volunteer."""

    community_id: int | None
    grid_id: int | None


async def home_of(services: Services, person: Person) -> Home:
    if person.building_id is not None:
        place = await structure.place(services.db, person.building_id)
        if place is not None:
            return Home(place.community_id, place.grid_id)
    communities = [s.id for s in person.scopes_for(Role.VOLUNTEER) if s.kind is ScopeKind.COMMUNITY]
    return Home(communities[0] if communities else None, None)


def eligible(opp: Opportunity, home: Home) -> bool:
    """May someone living at `home` sign up? The whole street: anyone; else their community or grid."""
    if opp.scope.kind is ScopeKind.STREET:
        return True
    if opp.scope.kind is ScopeKind.COMMUNITY:
        return home.community_id == opp.scope.id
    return home.grid_id == opp.scope.id


def is_manager(person: Person | None) -> bool:
    return person is not None and person.has(*MANAGER_ROLES)


async def managed_opportunity(services: Services, staff: Person, opportunity_id: int) -> Opportunity | None:
    """The activity if it exists and `staff` manages it; None otherwise (forged or stale ids)."""
    opp = await store.opportunity(services.db, opportunity_id)
    if opp is None or not manages(staff, opp.scope, opp.community_id):
        return None
    return opp


async def creatable_scopes(services: Services, staff: Person) -> list[tuple[Scope, str]]:
    """The scopes `staff` may create activities in, with their names, widest first."""
    found: list[tuple[Scope, str]] = []
    if staff.has(Role.ADMIN):
        found.append((Scope(kind=ScopeKind.STREET), ""))
    for community in await structure.communities(services.db):
        scope = Scope(kind=ScopeKind.COMMUNITY, id=community.id)
        if manages(staff, scope, community.id):
            found.append((scope, community.name))
    for community in await structure.communities(services.db):
        for grid in await structure.grids(services.db, community.id):
            scope = Scope(kind=ScopeKind.GRID, id=grid.id)
            if manages(staff, scope, community.id):
                found.append((scope, grid.name))
    return found


# ---- volunteers --------------------------------------------------------------------------------------


async def volunteer(services: Services, person: Person) -> Volunteer | None:
    return await store.volunteer(services.db, person.id)


class JoinOutcome(StrEnum):
    JOINED = "joined"
    UPDATED = "updated"
    NO_HOME = "no_home"  # a volunteer belongs to a community: set a home first


async def join(
    services: Services, person: Person, skills: list[Skill], availability: list[Availability]
) -> JoinOutcome:
    """Become a volunteer of one's community (or update skills and availability), with consent given."""
    home = await home_of(services, person)
    if home.community_id is None:
        return JoinOutcome.NO_HOME
    now = services.clock.now()
    existing = await store.volunteer(services.db, person.id)
    async with services.db.transaction() as conn:
        await store.save_volunteer(conn, person.id, skills, availability, now)
        scope = Scope(kind=ScopeKind.COMMUNITY, id=home.community_id)
        await people.grant(conn, person.id, Role.VOLUNTEER, scope, now)
        if existing is None:
            await people.audit(conn, now, person.id, "volunteer.join", str(person.id))
    return JoinOutcome.UPDATED if existing else JoinOutcome.JOINED


# ---- browsing ----------------------------------------------------------------------------------------


async def upcoming_for(
    services: Services, person: Person, *, project_id: int | None = None
) -> list[Opportunity]:
    home = await home_of(services, person)
    return await store.upcoming(services.db, now=services.clock.now(), community_id=home.community_id,
                                grid_id=home.grid_id, project_id=project_id)


@dataclass(frozen=True)
class Card:
    """An activity as one person sees it: the places left and their own seat."""

    opportunity: Opportunity
    counts: Counts
    seat: Seat | None
    position: int | None
    eligible: bool
    started: bool


async def card(services: Services, person: Person, opportunity_id: int) -> Card | None:
    opp = await store.opportunity(services.db, opportunity_id)
    if opp is None:
        return None
    seat = await capacity.seat_of(services.db, opp.key, person.id)
    return Card(
        opportunity=opp, counts=await capacity.counts(services.db, opp.key), seat=seat,
        position=await capacity.waitlist_position(services.db, seat) if seat else None,
        eligible=eligible(opp, await home_of(services, person)),
        started=services.clock.now() >= opp.starts_at,
    )


async def my_sign_ups(services: Services, person: Person) -> list[tuple[Opportunity, SeatState]]:
    return await store.signed_up(services.db, person.id, now=services.clock.now())


async def projects_for(services: Services, person: Person) -> list[Project]:
    """Projects residents may read: those of their community that are planned or running."""
    home = await home_of(services, person)
    if home.community_id is None:
        return []
    return await store.projects(services.db, [home.community_id],
                                statuses=(ProjectStatus.PLANNED, ProjectStatus.ACTIVE))


async def project(services: Services, project_id: int) -> Project | None:
    return await store.project(services.db, project_id)


# ---- signing up --------------------------------------------------------------------------------------


class Refusal(StrEnum):
    NOT_VOLUNTEER = "not_volunteer"
    NOT_ELIGIBLE = "not_eligible"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class SignUp:
    outcome: SignUpOutcome | Refusal | None = None  # None with `overlaps`: asked to confirm first
    position: int | None = None
    overlaps: list[str] = field(default_factory=list)  # titles of the person's overlapping shifts


async def sign_up(services: Services, person: Person, opportunity_id: int, *, accept_overlap: bool = False
                  ) -> SignUp:
    """Sign up, or join the waitlist; an overlapping shift is warned about before anything changes."""
    opp = await store.opportunity(services.db, opportunity_id)
    if opp is None:
        return SignUp(Refusal.NOT_FOUND)
    if await store.volunteer(services.db, person.id) is None:
        return SignUp(Refusal.NOT_VOLUNTEER)
    if not eligible(opp, await home_of(services, person)):
        return SignUp(Refusal.NOT_ELIGIBLE)
    if not accept_overlap:
        clashes = await capacity.overlapping(services.db, person.id, opp.starts_at, opp.ends_at,
                                             exclude=opp.key)
        titles = [await _title(services.db, key) for key in clashes]
        current = await capacity.seat_of(services.db, opp.key, person.id)
        if titles and not (current and current.active):
            return SignUp(None, overlaps=titles)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        result = await capacity.sign_up(services, conn, opp.key, person.id, now=now)
    return SignUp(result.outcome, position=result.position)


async def _title(db: Database, key: EventKey) -> str:
    if key.kind == KIND:
        opp = await store.opportunity(db, key.event_id)
        if opp is not None:
            return opp.title
    return ""


async def cancel(services: Services, person: Person, opportunity_id: int) -> CancelOutcome:
    """Leave an activity (or its waitlist, or decline an offer) before it starts."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        result = await capacity.cancel_seat(services, conn, event_key(opportunity_id), person.id, now=now)
    return result.outcome


async def confirm(services: Services, person: Person, opportunity_id: int) -> ConfirmOutcome:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        return await capacity.confirm_offer(conn, event_key(opportunity_id), person.id, now=now)


async def check_in_code(services: Services, person: Person, opportunity_id: int) -> str | None:
    """The person's one-time check-in code for a confirmed place (made on first request)."""
    key = event_key(opportunity_id)
    async with services.db.transaction() as conn:
        seat = await capacity.seat_of(conn, key, person.id)
        if seat is None or seat.state is not SeatState.CONFIRMED:
            return None
        existing = await store.code_of(conn, seat.id)
        if existing:
            return existing
        for _attempt in range(CODE_ATTEMPTS):
            code = f"{secrets.randbelow(10**6):06d}"
            if await store.set_code(conn, seat_id=seat.id, opportunity_id=opportunity_id, person_id=person.id,
                                    code=code):
                return code
    raise RuntimeError("no free check-in code after many attempts")


# ---- creating and managing ---------------------------------------------------------------------------


class NewOpportunity(BaseModel):
    title: str
    description: str
    scope: Scope
    place: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    skills: list[Skill]
    hours: float
    points: int
    project_id: int | None = None


class PublishRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    BAD_PROJECT = "bad_project"
    PAST = "past"
    BAD_TIMES = "bad_times"


@dataclass(frozen=True)
class Published:
    opportunity_id: int
    announced: int


async def publish(services: Services, staff: Person, new: NewOpportunity) -> Published | PublishRefusal:
    """Create the activity and announce it (bulk lane) to the volunteers of its scope."""
    community_id = await community_of_scope(services.db, new.scope)
    if not manages(staff, new.scope, community_id):
        return PublishRefusal.NOT_ALLOWED
    if new.project_id is not None:
        proj = await store.project(services.db, new.project_id)
        if proj is None or proj.status is ProjectStatus.COMPLETED or (
            community_id is not None and proj.community_id != community_id
        ):
            return PublishRefusal.BAD_PROJECT
    now = services.clock.now()
    problem = time_problem(new.starts_at, new.ends_at, now)
    if problem is not None:
        return PublishRefusal.PAST if problem is TimeProblem.PAST else PublishRefusal.BAD_TIMES
    muted = await broadcasts_store.muting(services.db, Topic.VOLUNTEERING)  # /notifications choices
    audience = [
        p for p in await store.volunteers_for(services.db, new.scope, community_id) if p != staff.id and p not in muted
    ]
    async with services.db.transaction() as conn:
        opportunity_id = await store.insert_opportunity(
            conn, title=new.title, description=new.description, scope=new.scope, community_id=community_id,
            place=new.place, skills=new.skills, hours=new.hours, points=new.points, project_id=new.project_id,
            created_by=staff.id, now=now,
        )
        await capacity.open_event(conn, event_key(opportunity_id), capacity=new.capacity,
                                  starts_at=new.starts_at, ends_at=new.ends_at, now=now)
        await outbox.enqueue(
            conn, now=now, recipients=audience, lane=Lane.BULK,
            template=N_("🙋 New volunteer activity: <b>{title}</b>\n{starts} · {place}\nplaces: {capacity} · "
                        "service hours: {hours} · points: {points}"),
            params={"title": new.title, "starts": new.starts_at, "place": new.place, "capacity": new.capacity,
                    "hours": format_hours(new.hours), "points": new.points},
            buttons=[[Button(N_("View and sign up"), button_data("o", opportunity_id))]],
            reason=(ANNOUNCEMENT, opportunity_id),
        )
        await people.audit(conn, now, staff.id, "volunteer.publish", str(opportunity_id), new.title)
    return Published(opportunity_id, len(audience))


ANNOUNCEMENT = "opportunity.announcement"  # outbox reason of announcements: dropped once cancelled or started


async def _announcement_gone(db: Database, opportunity_id: int) -> bool:
    event = await capacity.get_event(db, event_key(opportunity_id))
    return event is None or not event.open


outbox.register_drop_check(ANNOUNCEMENT, _announcement_gone)


async def change_capacity(services: Services, staff: Person, opportunity_id: int, new_capacity: int
                          ) -> CapacityResult | None:
    """None when `staff` may not manage this activity."""
    opp = await managed_opportunity(services, staff, opportunity_id)
    if opp is None:
        return None
    now = services.clock.now()
    async with services.db.transaction() as conn:
        result = await capacity.set_capacity(services, conn, opp.key, new_capacity, now=now)
        if result.outcome is capacity.CapacityChange.CHANGED:
            await people.audit(conn, now, staff.id, "volunteer.capacity", str(opp.id), str(new_capacity))
    return result


class ChangeOutcome(StrEnum):
    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    CLOSED = "closed"  # already cancelled
    STARTED = "started"
    PAST = "past"
    BAD_TIMES = "bad_times"


async def _changeable(services: Services, staff: Person, opportunity_id: int, now: datetime
                      ) -> Opportunity | ChangeOutcome:
    """The activity if `staff` may still move or cancel it, else why not: both changes refuse alike."""
    opp = await managed_opportunity(services, staff, opportunity_id)
    if opp is None:
        return ChangeOutcome.NOT_ALLOWED
    if not opp.open:
        return ChangeOutcome.CLOSED
    if now >= opp.starts_at:
        return ChangeOutcome.STARTED
    return opp


async def reschedule(services: Services, staff: Person, opportunity_id: int, starts_at: datetime,
                     ends_at: datetime) -> ChangeOutcome:
    """Move an activity that has not started; everyone signed up is told and the reminders move."""
    now = services.clock.now()
    opp = await _changeable(services, staff, opportunity_id, now)
    if isinstance(opp, ChangeOutcome):
        return opp
    problem = time_problem(starts_at, ends_at, now)
    if problem is not None:
        return ChangeOutcome.PAST if problem is TimeProblem.PAST else ChangeOutcome.BAD_TIMES
    async with services.db.transaction() as conn:
        seats = await capacity.reschedule(conn, opp.key, starts_at=starts_at, ends_at=ends_at, now=now)
        await outbox.enqueue(
            conn, now=now, recipients=[s.person_id for s in seats], lane=Lane.INTERACTIVE,
            template=N_("📅 <b>{title}</b> has moved to {starts} – {ends}. Your place on the list is kept; "
                        "if you can no longer come, please cancel so someone else can."),
            params={"title": opp.title, "starts": starts_at, "ends": ends_at},
            buttons=[[Button(N_("View"), button_data("o", opp.id))]],
        )
        await people.audit(conn, now, staff.id, "volunteer.reschedule", str(opp.id), to_db(starts_at))
    return ChangeOutcome.DONE


async def cancel_opportunity(services: Services, staff: Person, opportunity_id: int) -> ChangeOutcome:
    """Cancel an activity that has not started; everyone signed up or waiting is told."""
    now = services.clock.now()
    opp = await _changeable(services, staff, opportunity_id, now)
    if isinstance(opp, ChangeOutcome):
        return opp
    async with services.db.transaction() as conn:
        seats = await capacity.cancel_event(conn, opp.key)
        await outbox.enqueue(
            conn, now=now, recipients=[s.person_id for s in seats], lane=Lane.INTERACTIVE,
            template=N_("❌ <b>{title}</b> ({starts}) has been cancelled by the organizer. Thank you for "
                        "signing up."),
            params={"title": opp.title, "starts": opp.starts_at},
        )
        await people.audit(conn, now, staff.id, "volunteer.cancel", str(opp.id))
    return ChangeOutcome.DONE


@dataclass(frozen=True)
class Roster:
    opportunity: Opportunity
    counts: Counts
    lines: list[RosterLine]  # confirmed first, then offered, then the waitlist in order

    def with_service(self, *statuses: ServiceStatus) -> list[RosterLine]:
        return [line for line in self.lines if line.service in statuses]


async def roster(services: Services, staff: Person, opportunity_id: int) -> Roster | None:
    opp = await managed_opportunity(services, staff, opportunity_id)
    if opp is None:
        return None
    lines = await store.roster_lines(services.db, opp.id)
    return Roster(opp, await capacity.counts(services.db, opp.key), lines)


class CheckIn(StrEnum):
    DONE = "done"
    ALREADY = "already"  # a second check-in (or a no-show already marked)
    NOT_CONFIRMED = "not_confirmed"  # no confirmed place
    TOO_EARLY = "too_early"
    UNKNOWN_CODE = "unknown_code"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class CheckInResult:
    outcome: CheckIn
    name: str = ""


async def check_in(services: Services, staff: Person, opportunity_id: int, *, seat_id: int | None = None,
                   code: str | None = None) -> CheckInResult:
    """Mark attendance from the roster (`seat_id`) or by the code the volunteer shows; only once."""
    opp = await managed_opportunity(services, staff, opportunity_id)
    if opp is None:
        return CheckInResult(CheckIn.NOT_ALLOWED)
    now = services.clock.now()
    if not check_in_open(now, opp.starts_at):
        return CheckInResult(CheckIn.TOO_EARLY)
    async with services.db.transaction() as conn:
        if code is not None:
            seat_id = await store.seat_by_code(conn, opp.id, code)
            if seat_id is None:
                return CheckInResult(CheckIn.UNKNOWN_CODE)
        seat = await capacity.seat_by_id(conn, seat_id) if seat_id is not None else None
        if seat is None or seat.key != opp.key or seat.state is not SeatState.CONFIRMED:
            return CheckInResult(CheckIn.NOT_CONFIRMED)
        name = await store.person_name(conn, seat.person_id)
        method = CheckInMethod.CODE if code is not None else CheckInMethod.ROSTER
        marked = await store.mark(
            conn, seat_id=seat.id, opportunity_id=opp.id, person_id=seat.person_id,
            status=ServiceStatus.ATTENDED, method=method, hours=opp.hours, by=staff.id, now=now,
        )
        return CheckInResult(CheckIn.DONE if marked else CheckIn.ALREADY, name)


async def mark_no_show(services: Services, staff: Person, opportunity_id: int, seat_id: int) -> CheckInResult:
    """A confirmed volunteer who did not come: no hours, no points."""
    opp = await managed_opportunity(services, staff, opportunity_id)
    if opp is None:
        return CheckInResult(CheckIn.NOT_ALLOWED)
    now = services.clock.now()
    if not no_show_allowed(now, opp.starts_at):
        return CheckInResult(CheckIn.TOO_EARLY)
    async with services.db.transaction() as conn:
        seat = await capacity.seat_by_id(conn, seat_id)
        if seat is None or seat.key != opp.key or seat.state is not SeatState.CONFIRMED:
            return CheckInResult(CheckIn.NOT_CONFIRMED)
        marked = await store.mark(conn, seat_id=seat.id, opportunity_id=opp.id, person_id=seat.person_id,
                                  status=ServiceStatus.NO_SHOW, method=None, hours=0, by=staff.id, now=now)
        return CheckInResult(CheckIn.DONE if marked else CheckIn.ALREADY, await store.person_name(conn, seat.person_id))


async def verify(services: Services, staff: Person, opportunity_id: int, seat_ids: list[int] | None = None
                 ) -> int | None:
    """Verify the hours of attended volunteers (all, or these seats) and grant the activity's points.

    Each volunteer is told. Returns how many were verified now; None when not allowed.
    """
    opp = await managed_opportunity(services, staff, opportunity_id)
    if opp is None:
        return None
    now = services.clock.now()
    async with services.db.transaction() as conn:
        attended = await store.attended(conn, opp.id)
        wanted = list(attended) if seat_ids is None else [s for s in seat_ids if s in attended]
        done = await store.verify(conn, seat_ids=wanted, points=opp.points, by=staff.id, now=now)
        for seat_id in done:
            person_id, hours = attended[seat_id]
            await outbox.enqueue(
                conn, now=now, recipients=[person_id], lane=Lane.INTERACTIVE,
                template=N_("✅ Your service at <b>{title}</b> is verified: {hours} h, and {points} points "
                            "added. Thank you! See /myhours."),
                params={"hours": format_hours(hours), "title": opp.title, "points": opp.points},
            )
        if done:
            await people.audit(conn, now, staff.id, "volunteer.verify", str(opp.id), str(len(done)))
    return len(done)


# ---- projects ----------------------------------------------------------------------------------------


async def project_communities(services: Services, staff: Person) -> list[tuple[int, str]]:
    """Communities whose projects `staff` may create and manage."""
    communities = await structure.communities(services.db)
    return [(c.id, c.name) for c in communities if manages_projects_of(staff, c.id)]


async def managed_projects(services: Services, staff: Person) -> list[Project]:
    """Projects `staff` may attach activities to or manage (organizers and team leads: their community)."""
    if staff.has(Role.ADMIN):
        return await store.projects(services.db, None)
    communities = {s.id for s in staff.scopes_for(Role.ORGANIZER) if s.kind is ScopeKind.COMMUNITY}
    for grid in staff.scopes_for(Role.SECRETARY):
        community = await community_of_scope(services.db, grid)
        if community is not None:
            communities.add(community)
    return await store.projects(services.db, sorted(communities))


async def create_project(
    services: Services, staff: Person, *, name: str, organisation: str, description: str, community_id: int
) -> int | None:
    if not manages_projects_of(staff, community_id):
        return None
    if await structure.community(services.db, community_id) is None:
        return None
    now = services.clock.now()
    async with services.db.transaction() as conn:
        project_id = await store.insert_project(
            conn, name=name, organisation=organisation, description=description, community_id=community_id,
            created_by=staff.id, now=now,
        )
        await people.audit(conn, now, staff.id, "volunteer.project", str(project_id), name)
    return project_id


async def set_project_status(
    services: Services, staff: Person, project_id: int, status: ProjectStatus
) -> bool:
    proj = await store.project(services.db, project_id)
    if proj is None or not manages_projects_of(staff, proj.community_id):
        return False
    async with services.db.transaction() as conn:
        return await store.set_project_status(conn, project_id, status)


# ---- hours: /myhours, the service record, the CSV export ---------------------------------------------


async def my_hours(services: Services, person: Person) -> tuple[HoursSummary, list[ServiceEntry]]:
    entries = await store.service_of_person(services.db, person.id)
    return summarize(entries), entries


STATUS_LABELS: dict[ServiceStatus, str] = {
    ServiceStatus.EXPECTED: N_("signed up"),
    ServiceStatus.ATTENDED: N_("attended, hours pending verification"),
    ServiceStatus.NO_SHOW: N_("did not come"),
    ServiceStatus.VERIFIED: N_("hours verified"),
}


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes


async def service_record(services: Services, person: Person, _: Translator) -> Document | None:
    """A printable record of the person's verified service; None when there is none yet."""
    summary, entries = await my_hours(services, person)
    verified = [e for e in entries if e.status is ServiceStatus.VERIFIED]
    if not verified:
        return None
    now = services.clock.now()
    async with services.db.transaction() as conn:
        number = await store.insert_record(conn, person_id=person.id, hours=summary.verified_hours,
                                           points=summary.points, activities=summary.activities, now=now)
    tz = services.settings.tz
    esc = html.escape
    rows = "".join(
        f"<tr><td>{e.starts_at.astimezone(tz):%Y-%m-%d}</td><td>{esc(e.title)}</td>"
        f"<td>{format_hours(e.hours)}</td><td>{e.points}</td><td>{esc(e.verified_by_name or '')}</td></tr>"
        for e in verified
    )
    fields = [
        (_("Record number"), number),
        (_("Volunteer"), person.name),
        (_("Verified service hours"), format_hours(summary.verified_hours)),
        (_("Points"), str(summary.points)),
        (_("Activities"), str(summary.activities)),
        (_("Issued by"), services.settings.volunteer_record_issuer),
        (_("Date of issue"), f"{now.astimezone(tz):%Y-%m-%d}"),
    ]
    title, history = _("Volunteer service record"), _("Service history")
    columns = [_("Date"), _("Activity"), _("Hours"), _("Points"), _("Verified by")]
    document = (
        f"<!DOCTYPE html>\n<html lang=\"{esc(_.locale.replace('_', '-'))}\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)} {esc(number)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:left}</style>"
        f"</head><body><h1>{esc(title)}</h1><table>"
        + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in fields)
        + f"</table><h2>{esc(history)}</h2><table><tr>"
        + "".join(f"<th>{esc(c)}</th>" for c in columns)
        + f"</tr>{rows}</table></body></html>\n"
    )
    return Document(f"service-record-{number}.html", document.encode("utf-8"))


async def export_hours(services: Services, staff: Person, _: Translator, opportunity_id: int | None = None
                       ) -> Document | None:
    """Service hours of one activity, or of every activity `staff` manages, as CSV that opens in Excel."""
    if opportunity_id is not None:
        opp = await managed_opportunity(services, staff, opportunity_id)
        if opp is None:
            return None
        opportunities = [opp]
    else:
        opportunities = await managed_all(services, staff)
    entries = await store.service_of(services.db, [o.id for o in opportunities])
    tz = services.settings.tz
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_("Activity"), _("Date"), _("Volunteer"), _("Status"), _("Hours"), _("Points"),
                     _("Checked in"), _("Verified"), _("Verified by")])
    for e in entries:
        if e.status is ServiceStatus.EXPECTED:
            continue
        writer.writerow([cell(e.title), f"{e.starts_at.astimezone(tz):%Y-%m-%d %H:%M}", cell(e.person_name),
                         _(STATUS_LABELS[e.status]), format_hours(e.hours), e.points,
                         f"{e.checked_in_at.astimezone(tz):%Y-%m-%d %H:%M}" if e.checked_in_at else "",
                         f"{e.verified_at.astimezone(tz):%Y-%m-%d %H:%M}" if e.verified_at else "",
                         cell(e.verified_by_name or "")])
    stamp = f"{services.clock.now().astimezone(tz):%Y%m%d}"
    name = f"volunteer-hours-{opportunity_id or 'all'}-{stamp}.csv"
    # UTF-8 with a byte-order mark: Excel then reads Chinese names correctly.
    return Document(name, buffer.getvalue().encode("utf-8-sig"))


async def managed_all(
    services: Services, staff: Person, *, since: datetime | None = None
) -> list[Opportunity]:
    """Every activity `staff` manages (ending after `since`, default: all), soonest first."""
    street = staff.has(Role.ADMIN)
    communities = [s.id for s in staff.scopes_for(Role.ORGANIZER) if s.kind is ScopeKind.COMMUNITY]
    grids = [s.id for s in staff.scopes_for(Role.SECRETARY) if s.kind is ScopeKind.GRID]
    found = await store.managed(services.db, street=street, community_ids=communities, grid_ids=grids,
                                since=since)
    return [o for o in found if manages(staff, o.scope, o.community_id)]


# ---- personal data -----------------------------------------------------------------------------------


async def _erase_volunteering(conn: Connection, person_id: int) -> None:
    """Leave every activity (places pass on), forget skills and records; hours stay, anonymised."""
    await capacity.release_person(conn, person_id)
    await store.erase_person(conn, person_id)


accounts.register_personal_data("volunteering", store.export_person, _erase_volunteering)

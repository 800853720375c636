"""Deliberation use cases: propose, accept or decline, escalate a report, set up and announce, questions and
answers, open (freezing the eligible list), vote, remind, close, outcome statement, follow-ups and ratings.

Every use case re-checks on the server who may do what against the stored topic, whatever button or data it
came from; a refusal raises `Refused` before anything is written. Every push to someone else goes through
the outbox in the transaction of the change, and every due time (opening, closing, the reminder to those who
have not voted, the outcome's review date) is a timer row, so a restart neither loses nor repeats one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.delivery import outbox
from bot.delivery.outbox import Button, Lane, Param, Relative, Tr
from bot.domain.broadcasts import Audience, Footprint, area
from bot.domain.deliberation import (
    ANSWER_MAX,
    ASKING_STATES,
    ATTACHMENTS_MAX,
    BACKGROUND_MAX,
    FOLLOWUP_MAX,
    OUTCOME_MAX,
    PUBLIC_STATES,
    QUESTION_MAX,
    REASON_MAX,
    TITLE_MAX,
    BallotProblem,
    Panel,
    Rules,
    SetupProblem,
    Tally,
    Topic,
    TopicState,
    Track,
    ballot_problem,
    choices_of,
    household_key,
    manages,
    results_visible,
    setup_problem,
    tally,
    voter_key,
)
from bot.domain.people import Person, Role, Scope, ScopeKind
from bot.domain.reports import Report, ReportState
from bot.domain.volunteering import clean_text
from bot.i18n import N_
from bot.services import accounts, audiences, routing
from bot.services import reports as report_service
from bot.services.container import Services
from bot.services.reports import Refused
from bot.storage import deliberation as store
from bot.storage import invites, people
from bot.storage import reports as report_store
from bot.storage.db import Connection, Database
from bot.timers import engine as timers
from bot.timers.engine import TimerRow
from bot.ui.callbacks import encode
from bot.ui.html import shorten

CALLBACK = "dv"  # residents' buttons (bot/handlers/deliberation.py)
ADMIN_CALLBACK = "dva"  # organizers' buttons (bot/handlers/deliberation_admin.py)
# Timer kinds (subject: the topic id).
OPEN = "deliberation.open"
CLOSE = "deliberation.close"
REMIND = "deliberation.remind"
REVIEW = "deliberation.review"
# Outbox reasons: a topic's notices are dropped once it is over; a reminder once its vote is cast. A
# resident's proposal and question reach the organizers only while the resident has not erased them
# (/deleteme: their words go); an answer shows its question as it stands when it is sent.
TOPIC_NOTICE = "deliberation.topic"  # id: the topic
VOTE_REMINDER = "deliberation.remind"  # id: the eligible row
PROPOSAL = "deliberation.proposal"  # id: the topic
QUESTION = "deliberation.question"  # id: the question
ASKER_ERASED = N_("(removed at the asker's request)")
QUESTIONS_OPEN_MAX = 3  # unanswered questions one person may have on a topic

TRACK_LABELS: dict[Track, str] = {
    Track.SMALL: N_("small issue — decided by those concerned"),
    Track.BIG: N_("community consultation"),
}
UNKNOWN = N_("There is no such topic.")
NOT_ELIGIBLE = N_(
    "You are not among the people who decide this topic, so you cannot see it or vote on it. If you think you "
    "should be, ask your community's organizer."
)
NOT_MANAGER = N_("Only the community's organizers and street admins can do this.")
STALE = N_("This topic has moved on since; nothing was changed.")
CLOSED = N_("This vote has closed: your tap came too late and nothing was counted. The results are on the topic "
            "card.")
NOT_YET = N_("Voting on this topic has not opened yet; the topic card says when it opens.")
FINAL = N_("You have already voted on this topic, and its ballots are final.")
HOUSEHOLD_VOTED = N_("Your household's vote has already been cast by another member.")
BAD_CHOICE = N_("That choice is not valid for this topic. Nothing was counted.")
TOO_MANY = N_("Pick at most {limit} options.")
SETUP_PROBLEMS: dict[SetupProblem, str] = {
    SetupProblem.NO_BUILDINGS: N_("Pick at least one building."),
    SetupProblem.TOO_FEW_OPTIONS: N_("Give at least two options."),
    SetupProblem.TOO_MANY_OPTIONS: N_("Give at most ten options."),
    SetupProblem.BAD_MAX_CHOICES: N_("How many options may each person pick? Between 2 and the number of options."),
    SetupProblem.BAD_QUORUM: N_("The quorum is a share between 0% and 100%."),
    SetupProblem.CLOSES_TOO_SOON: N_("Voting must stay open for at least an hour."),
    SetupProblem.TOO_LONG: N_("Voting can stay open for at most 60 days."),
}


def button_data(action: str, *ids: object) -> str:
    return encode(CALLBACK, action, *ids)


def admin_data(action: str, *ids: object) -> str:
    return encode(ADMIN_CALLBACK, action, *ids)


def _open_button(topic_id: int) -> list[list[Button]]:
    return [[Button(N_("🗳 Open the topic"), button_data("o", topic_id))]]


def _manage_button(topic_id: int) -> list[list[Button]]:
    return [[Button(N_("🗂 Manage the topic"), admin_data("t", topic_id))]]


# ---- who ---------------------------------------------------------------------------------------------


def managed_area(person: Person) -> Footprint:
    """The communities whose topics this person runs; None: the whole street."""
    return area(person)


def _require_manager(person: Person, topic: Topic | None) -> Topic:
    if topic is None:
        raise Refused(UNKNOWN)
    if not manages(person, topic.community_id):
        raise Refused(NOT_MANAGER)
    return topic


async def _topic(source: report_store.Reader, topic_id: int) -> Topic:
    topic = await store.get(source, topic_id)
    if topic is None:
        raise Refused(UNKNOWN)
    return topic


async def _managers(conn: Connection, topic: Topic) -> list[int]:
    """Who hears about proposals and questions: the community's organizers, else the street admins."""
    if topic.community_id is not None:
        found = await report_store.holders(conn, Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=topic.community_id))
        if found:
            return found
    return await report_store.holders(conn, Role.ADMIN, Scope(kind=ScopeKind.STREET))


async def _live_rows(source: report_store.Reader, topic: Topic) -> list[tuple[int, str, Panel]]:
    """The eligible list as it would be frozen now: (person, voter key, panel)."""
    return [
        (c.person_id, voter_key(topic.rules.vote_unit, c.person_id, household_key(c.building_id, c.unit)), c.panel)
        for c in await store.live_candidates(source, topic.id)
    ]


async def eligible_people(source: report_store.Reader, topic: Topic) -> list[int]:
    """Everyone a topic's notices reach: the frozen list once voting opened, else who is eligible now."""
    if topic.state in (TopicState.OPEN, TopicState.CLOSED):
        return await store.eligible_people(source, topic.id)
    if topic.state is TopicState.ANNOUNCED:
        return [c.person_id for c in await store.live_candidates(source, topic.id)]
    return []


async def is_eligible(source: report_store.Reader, topic: Topic, person: Person) -> bool:
    if topic.state in (TopicState.OPEN, TopicState.CLOSED):
        return await store.eligible_of(source, topic.id, person.id) is not None
    if topic.state is TopicState.ANNOUNCED:
        return bool(await store.live_candidates(source, topic.id, person.id))
    return False


async def _tell(
    conn: Connection, now: datetime, recipients: Iterable[int], template: str,
    params: dict[str, Param], *, buttons: list[list[Button]] | None = None, lane: Lane = Lane.INTERACTIVE,
    reason: tuple[str, int] | None = None,
) -> None:
    await outbox.enqueue(conn, now=now, recipients=recipients, template=template, params=params, buttons=buttons,
                         lane=lane, reason=reason)


# ---- proposals -------------------------------------------------------------------------------------------


def _text(value: str | None, limit: int, problem: str, *, multiline: bool = False) -> str:
    cleaned = clean_text(value, limit, multiline=multiline)
    if cleaned is None:
        raise Refused(problem, limit=limit)
    return cleaned


TITLE_PROBLEM = N_("A title is one line of up to {limit} characters.")
BACKGROUND_PROBLEM = N_("Please write up to {limit} characters.")


async def propose(services: Services, person: Person, title: str, background: str) -> Topic:
    """A resident proposes a topic to their community's organizers."""
    title = _text(title, TITLE_MAX, TITLE_PROBLEM)
    background = _text(background, BACKGROUND_MAX, BACKGROUND_PROBLEM, multiline=True)
    community_id = None
    if person.building_id is not None:
        community_id = await services.db.fetch_value(
            "SELECT g.community_id FROM buildings b JOIN grids g ON g.id = b.grid_id WHERE b.id = ?",
            (person.building_id,),
        )
    if community_id is None:
        raise Refused(N_("Proposals go to your community's organizers: set your home with /profile first."))
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic_id = await store.insert_proposal(
            conn, person_id=person.id, community_id=community_id, title=title, background=background, now=now,
            pending_max=services.settings.proposals_pending_max,
        )
        if topic_id is None:
            raise Refused(N_("You already have {limit} proposals waiting for an organizer. Please wait for their "
                             "answer."), limit=services.settings.proposals_pending_max)
        topic = await _topic(conn, topic_id)
        await _tell(conn, now, await _managers(conn, topic),
                    N_("💡 <b>New proposal</b> #{id}: {title}\n\n{background}"),
                    {"id": topic.id, "title": title, "background": background}, buttons=_manage_button(topic.id),
                    reason=(PROPOSAL, topic.id))
    return topic


async def proposals_for(services: Services, person: Person) -> list[Topic]:
    if not manages_anything(person):
        return []
    return await store.proposals(services.db, managed_area(person))


def manages_anything(person: Person) -> bool:
    return person.has(Role.ORGANIZER, Role.ADMIN) and managed_area(person) != frozenset()


async def accept_proposal(services: Services, organizer: Person, topic_id: int, track: Track) -> Topic:
    """Take a proposal up as a small issue or a community consultation; the organizer then sets it up."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        if not await store.move(conn, topic_id, (TopicState.PROPOSED,), TopicState.DRAFT, track=track.value,
                                decided_by=organizer.id, created_by=organizer.id):
            raise Refused(STALE)
        if topic.proposed_by is not None:
            await _tell(conn, now, [topic.proposed_by],
                        N_("✅ Your proposal “{title}” was taken up as a {track}. You will hear when it opens."),
                        {"title": topic.title, "track": Tr(TRACK_LABELS[track])})
        await people.audit(conn, now, organizer.id, "topic.accept", str(topic_id), track.value)
        return await _topic(conn, topic_id)


async def decline_proposal(services: Services, organizer: Person, topic_id: int, reason: str) -> Topic:
    why = _text(reason, REASON_MAX, N_("Please give a reason of up to {limit} characters."), multiline=True)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        if not await store.move(conn, topic_id, (TopicState.PROPOSED,), TopicState.DECLINED, decline_reason=why,
                                decided_by=organizer.id):
            raise Refused(STALE)
        if topic.proposed_by is not None:
            await _tell(conn, now, [topic.proposed_by],
                        N_("Your proposal “{title}” was not taken up. The organizer's reason: {reason}"),
                        {"title": topic.title, "reason": why})
        await people.audit(conn, now, organizer.id, "topic.decline", str(topic_id))
        return await _topic(conn, topic_id)


async def my_proposals(services: Services, person: Person) -> list[Topic]:
    return await store.proposed_by(services.db, person.id)


# ---- escalating a report -----------------------------------------------------------------------------------


async def escalate_report(services: Services, staff: Person, number: str) -> Topic:
    """Turn a report into a small-track topic for its building: the report moves to "escalated to
    deliberation", its SLA clock stops while the people concerned decide, and its reporter and followers
    are told. An organizer then sets the topic up."""
    report = await report_store.by_number(services.db, number.strip().upper())
    if report is None:
        raise Refused(report_service.UNKNOWN)
    if not report_service.oversees(staff, report):
        raise Refused(N_("Only the grid's team lead, the community's organizers and street admins can do this."))
    now = services.clock.now()
    category = report_service.categories(services)[report.category].name(services.settings.default_locale)
    async with services.db.transaction() as conn:
        report = await report_service.load_for_update(conn, report.id)
        if report.state is ReportState.DELIBERATION:
            raise Refused(N_("This report has already been escalated to deliberation."))
        topic_id = await store.insert_topic(
            conn, state=TopicState.DRAFT, track=Track.SMALL, community_id=report.community_id,
            title=clean_text(f"{report.number} · {category}", TITLE_MAX) or report.number,
            background=report.description[:BACKGROUND_MAX], now=now, created_by=staff.id, report_id=report.id,
            building_ids=[report.building_id],
        )
        await report_service.move(conn, report, ReportState.DELIBERATION, now, staff.id, "escalated",
                                  f"topic {topic_id}", due_at=None)
        await report_service.stop_fix_clock(conn, report.id)
        escalated = await report_service.refreshed(conn, report.id)
        if report.assignee_id is not None and report.assignee_id != staff.id:
            await _tell(conn, now, [report.assignee_id],
                        N_("🗳 Report {number} was escalated to deliberation as topic #{id}; its fix deadline is "
                           "suspended until the outcome."), {"number": report.number, "id": topic_id})
        await report_service.tell_residents(
            services, conn, escalated, now,
            N_("🗳 Report {number} ({category}) was escalated to deliberation as topic #{topic}: the people "
               "concerned will decide it together, and you will hear the outcome."),
            {"topic": topic_id},
        )
        topic = await _topic(conn, topic_id)
        managers = [m for m in await _managers(conn, topic) if m != staff.id]
        await _tell(conn, now, managers,
                    N_("🗳 Report {number} was escalated into topic #{id}. Set it up and announce it."),
                    {"number": report.number, "id": topic_id}, buttons=_manage_button(topic_id))
        await people.audit(conn, now, staff.id, "topic.escalate", str(topic_id), report.number)
        return topic


# ---- setting up and announcing ---------------------------------------------------------------------------


@dataclass
class Setup:
    """Everything an organizer gives a topic before it is announced."""

    track: Track
    community_id: int | None
    title: str
    background: str
    rules: Rules
    closes_at: datetime
    opens_at: datetime | None = None  # None: open at once
    options: list[str] = field(default_factory=list)
    building_ids: list[int] = field(default_factory=list)
    attachments: list[tuple[str, str, str]] = field(default_factory=list)  # (photo|document, file id, name)


async def _check_setup(services: Services, organizer: Person, setup: Setup, now: datetime) -> Rules:
    if not manages(organizer, setup.community_id):
        raise Refused(NOT_MANAGER)
    if setup.track is Track.SMALL and setup.community_id is None:
        raise Refused(N_("A small issue belongs to one community: pick its buildings there."))
    _text(setup.title, TITLE_MAX, TITLE_PROBLEM)
    _text(setup.background, BACKGROUND_MAX, BACKGROUND_PROBLEM, multiline=True)
    if len(setup.attachments) > ATTACHMENTS_MAX:
        raise Refused(N_("At most {limit} attachments."), limit=ATTACHMENTS_MAX)
    if setup.building_ids:
        inside = await services.db.fetch_value(
            "SELECT COUNT(*) FROM buildings b JOIN grids g ON g.id = b.grid_id WHERE g.community_id = ? "
            f"AND b.id IN ({','.join('?' * len(setup.building_ids))})",
            (setup.community_id, *setup.building_ids),
        )
        if inside != len(set(setup.building_ids)):
            raise Refused(STALE)
    rules = setup.rules.normalized()
    problem = setup_problem(
        track=setup.track, building_ids=setup.building_ids, rules=rules, options=setup.options,
        opens_at=setup.opens_at or now, closes_at=setup.closes_at, now=now,
    )
    if problem is not None:
        raise Refused(SETUP_PROBLEMS[problem])
    return rules


async def publish(services: Services, organizer: Person, setup: Setup, draft_id: int | None = None) -> Topic:
    """Announce a topic (a new one, or a draft from a proposal or a report): the eligible people hear of it
    now, and voting opens at its time — at once when no opening time was given."""
    now = services.clock.now()
    rules = await _check_setup(services, organizer, setup, now)
    opens_at = setup.opens_at if setup.opens_at is not None and setup.opens_at > now else now
    async with services.db.transaction() as conn:
        if draft_id is None:
            draft_id = await store.insert_topic(
                conn, state=TopicState.DRAFT, track=setup.track, community_id=setup.community_id,
                title=setup.title, background=setup.background, now=now, created_by=organizer.id,
            )
        else:
            draft = await _topic(conn, draft_id)
            if not manages(organizer, draft.community_id):
                raise Refused(NOT_MANAGER)
        if not await store.set_up(
            conn, draft_id, track=setup.track, community_id=setup.community_id, title=setup.title.strip(),
            background=setup.background.strip(), rules=rules, options=setup.options,
            building_ids=setup.building_ids if setup.track is Track.SMALL else [], opens_at=opens_at,
            closes_at=setup.closes_at, created_by=organizer.id, now=now,
        ):
            raise Refused(STALE)
        await store.add_attachments(conn, draft_id, setup.attachments)
        topic = await _topic(conn, draft_id)
        await people.audit(conn, now, organizer.id, "topic.announce", str(draft_id))
        if opens_at <= now:
            await _open(services, conn, topic, now)
        else:
            await timers.schedule(conn, kind=OPEN, subject=str(draft_id), due_at=opens_at)
            await _tell(conn, now, await eligible_people(conn, topic),
                        N_("🗳 <b>A topic for you to decide</b> #{id}: {title}\n{track}\nVoting opens {opens} and "
                           "closes {closes}. Read the background and ask questions before then."),
                        {"id": topic.id, "title": topic.title, "track": Tr(TRACK_LABELS[setup.track]),
                         "opens": opens_at, "closes": setup.closes_at},
                        buttons=_open_button(topic.id), lane=Lane.BULK, reason=(TOPIC_NOTICE, topic.id))
        return await _topic(conn, draft_id)


async def _open(services: Services, conn: Connection, topic: Topic, now: datetime) -> None:
    """Freeze the eligible list, open voting and tell everyone on the list; schedule the close and the
    reminder. Later moves, new residents or rejoining change nothing for this topic."""
    rows = await _live_rows(conn, topic)
    if not await store.move(conn, topic.id, (TopicState.ANNOUNCED,), TopicState.OPEN, opened_at=now, opens_at=now):
        return
    await store.freeze(conn, topic.id, rows)
    assert topic.closes_at is not None
    await timers.schedule(conn, kind=CLOSE, subject=str(topic.id), due_at=topic.closes_at)
    remind_at = topic.closes_at - timedelta(hours=services.settings.deliberation_reminder_hours)
    if remind_at > now:
        await timers.schedule(conn, kind=REMIND, subject=str(topic.id), due_at=remind_at)
    await _tell(conn, now, [person for person, _key, _panel in rows],
                N_("🗳 <b>Voting is open</b> #{id}: {title}\nIt closes {closes}."),
                {"id": topic.id, "title": topic.title, "closes": topic.closes_at},
                buttons=[[Button(N_("🗳 Vote"), button_data("b", topic.id, 0))]], lane=Lane.BULK,
                reason=(TOPIC_NOTICE, topic.id))


async def _close(services: Services, conn: Connection, topic: Topic, now: datetime) -> None:
    closes_at = min(topic.closes_at or now, now)
    if not await store.move(conn, topic.id, (TopicState.OPEN,), TopicState.CLOSED, closed_at=now,
                            closes_at=closes_at):
        return
    for kind in (CLOSE, REMIND):
        await timers.cancel(conn, kind=kind, subject=str(topic.id))
    closed = await _topic(conn, topic.id)
    result = await _tally(conn, closed)
    await _tell(conn, now, await store.eligible_people(conn, topic.id),
                N_("🗳 <b>Voting has closed</b> #{id}: {title}\nTurnout {turnout}% ({voted} of {eligible}). {validity}"),
                {"id": topic.id, "title": topic.title, "turnout": result.turnout_percent, "voted": result.voted,
                 "eligible": result.eligible, "validity": Tr(VALIDITY[result.quorum_met])},
                buttons=[[Button(N_("📊 Results"), button_data("r", topic.id))]], lane=Lane.BULK)


VALIDITY = {True: N_("The result is valid."), False: N_("The quorum was not reached: the result is not valid.")}


async def open_now(services: Services, organizer: Person, topic_id: int) -> Topic:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        if topic.state is not TopicState.ANNOUNCED:
            raise Refused(STALE)
        if topic.closes_at is not None and topic.closes_at - now < timedelta(hours=1):
            raise Refused(SETUP_PROBLEMS[SetupProblem.CLOSES_TOO_SOON])
        await timers.cancel(conn, kind=OPEN, subject=str(topic_id))
        await _open(services, conn, topic, now)
        await people.audit(conn, now, organizer.id, "topic.open", str(topic_id))
        return await _topic(conn, topic_id)


async def close_now(services: Services, organizer: Person, topic_id: int) -> Topic:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        if topic.state is not TopicState.OPEN:
            raise Refused(STALE)
        await _close(services, conn, topic, now)
        await people.audit(conn, now, organizer.id, "topic.close", str(topic_id))
        return await _topic(conn, topic_id)


CALLED_OFF = N_("✖️ Topic #{id} “{title}” was called off.")
CALLED_OFF_AND_REPORT = N_(
    "✖️ Topic #{id} “{title}” was called off.\n\n🔧 Report {number} ({category}) is now {status}; fix by {fix_by}."
)
CALLED_OFF_TO_ASSIGNEE = N_(
    "✖️ Topic #{id} was called off, and task {number} ({category}) is now {status}.\n🛠 Fix by {fix_by} ({fix_in})."
)


async def cancel_topic(services: Services, organizer: Person, topic_id: int) -> Topic:
    """Call a topic off before voting opens; those already told hear it. A report escalated into it goes back
    to work as after an outcome (see `_end_topic`): nothing will be decided, so its wait is over."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        told = await eligible_people(conn, topic)
        if not await store.move(conn, topic_id, (TopicState.DRAFT, TopicState.ANNOUNCED), TopicState.CANCELLED):
            raise Refused(STALE)
        await timers.cancel(conn, kind=OPEN, subject=str(topic_id))
        await _end_topic(services, conn, topic, organizer, now, told, Ending(
            news=CALLED_OFF, news_and_report=CALLED_OFF_AND_REPORT, to_assignee=CALLED_OFF_TO_ASSIGNEE,
            params={"id": topic.id, "title": topic.title}, detail=f"topic {topic_id} called off",
        ))
        await people.audit(conn, now, organizer.id, "topic.cancel", str(topic_id))
        return await _topic(conn, topic_id)


async def set_anonymous(services: Services, organizer: Person, topic_id: int, anonymous: bool) -> Topic:
    """Switch secrecy before the first ballot; anonymous topics are final and show results after close."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        _require_manager(organizer, await store.get(conn, topic_id))
        if not await store.set_anonymous(conn, topic_id, anonymous):
            raise Refused(N_("Secrecy is fixed once the first ballot is cast (and cannot change after close)."))
        await people.audit(conn, now, organizer.id, "topic.anonymous", str(topic_id), str(int(anonymous)))
        return await _topic(conn, topic_id)


async def invite_stakeholder(services: Services, organizer: Person, topic_id: int) -> str:
    """A single-use link that makes its holder a stakeholder of this small-track topic (property
    management, owners' committee): eligible from the moment voting opens."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        if topic.track is not Track.SMALL:
            raise Refused(N_("Stakeholders are invited to small issues; community consultations include the "
                             "representatives."))
        if topic.state not in (TopicState.DRAFT, TopicState.ANNOUNCED):
            raise Refused(N_("Voting has opened, so the eligible list is frozen: no one can join this topic now."))
        token = await invites.create(
            conn, role=Role.STAKEHOLDER, scope=Scope(kind=ScopeKind.TOPIC, id=topic_id), created_by=organizer.id,
            now=now, ttl=timedelta(days=services.settings.invite_ttl_days),
        )
        await people.audit(conn, now, organizer.id, "invite.create", f"stakeholder@topic:{topic_id}")
    return token


# ---- voting -------------------------------------------------------------------------------------------


class CastOutcome(StrEnum):
    CAST = "cast"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


async def cast_ballot(services: Services, person: Person, topic_id: int, mask: int) -> CastOutcome:
    """Vote, or change a named vote until close. Everything is checked in the one transaction that writes:
    the topic open and not past its close at this very moment, the person on the frozen list, the ballot
    valid, the person's (or household's) vote not yet cast — or, to change it, theirs and changeable."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = await _topic(conn, topic_id)
        if topic.state is TopicState.ANNOUNCED:
            raise Refused(NOT_YET if await store.live_candidates(conn, topic_id, person.id) else NOT_ELIGIBLE)
        eligible = await store.eligible_of(conn, topic_id, person.id)
        if eligible is None:
            raise Refused(NOT_ELIGIBLE)
        if not topic.voting_open(now):
            raise Refused(CLOSED)
        problem = ballot_problem(topic, mask)
        if problem is BallotProblem.TOO_MANY:
            raise Refused(TOO_MANY, limit=topic.rules.max_choices)
        if problem is not None:
            raise Refused(BAD_CHOICE)
        choices = choices_of(mask)
        cast = await store.voter(conn, topic_id, eligible.voter_key)
        if cast is None:
            if not await store.cast(conn, topic=topic, voter_key=eligible.voter_key, person_id=person.id,
                                    panel=eligible.panel, choices=choices, now=now):
                raise Refused(CLOSED)
            return CastOutcome.CAST
        if cast.person_id != person.id:
            raise Refused(HOUSEHOLD_VOTED)
        if not topic.changeable:
            raise Refused(FINAL)
        assert cast.ballot_id is not None
        if await store.named_choices(conn, cast.ballot_id) == choices:
            return CastOutcome.UNCHANGED
        if not await store.change(conn, topic_id=topic_id, voter_key=eligible.voter_key, person_id=person.id,
                                  choices=choices, now=now):
            raise Refused(CLOSED)
        return CastOutcome.CHANGED


@dataclass(frozen=True)
class MyVote:
    """What a voter may see of their own vote: cast or not, by them or their household, and on a named topic
    their own choices (an anonymous ballot is nobody's to show, its voter's included)."""

    cast: bool
    by_me: bool
    choices: tuple[int, ...] | None
    voted_at: datetime | None


async def my_vote(services: Services, topic: Topic, person: Person) -> MyVote | None:
    """None when the person is not on the frozen list (or voting has not opened)."""
    eligible = await store.eligible_of(services.db, topic.id, person.id)
    if eligible is None:
        return None
    cast = await store.voter(services.db, topic.id, eligible.voter_key)
    if cast is None:
        return MyVote(False, False, None, None)
    by_me = cast.person_id == person.id
    choices = None
    if by_me and cast.ballot_id is not None and not topic.rules.anonymous:
        choices = await store.named_choices(services.db, cast.ballot_id)
    return MyVote(True, by_me, choices, cast.voted_at)


async def _tally(source: report_store.Reader, topic: Topic) -> Tally:
    return tally(topic, eligible=await store.eligible_count(source, topic.id),
                 voted=await store.voted_count(source, topic.id), ballots=await store.ballots(source, topic.id))


@dataclass(frozen=True)
class Turnout:
    eligible: int
    voted: int


async def turnout(services: Services, topic: Topic) -> Turnout:
    """What may always be shown: how many may vote and how many did (before opening: eligible now)."""
    if topic.state in (TopicState.OPEN, TopicState.CLOSED):
        db = services.db
        return Turnout(await store.eligible_count(db, topic.id), await store.voted_count(db, topic.id))
    if topic.state is TopicState.ANNOUNCED:
        return Turnout(len({key for _p, key, _panel in await _live_rows(services.db, topic)}), 0)
    return Turnout(0, 0)


async def results(services: Services, topic: Topic, *, has_voted: bool) -> Tally | None:
    """The tally, only when the topic's visibility allows it now (never before close when anonymous)."""
    if not results_visible(topic, has_voted=has_voted):
        return None
    return await _tally(services.db, topic)


# ---- what residents see ---------------------------------------------------------------------------------


async def my_topics(services: Services, person: Person) -> list[Topic]:
    return await store.topics_of_person(services.db, person.id)


async def voted_topics(services: Services, person: Person) -> set[int]:
    return await store.voted_topics(services.db, person.id)


async def visible_topic(services: Services, person: Person, topic_id: int) -> Topic:
    """A topic as a voter may see it: refused to anyone not eligible (a forwarded button shows nothing)."""
    topic = await store.get(services.db, topic_id)
    if topic is None or topic.state not in PUBLIC_STATES:
        raise Refused(UNKNOWN)
    if not await is_eligible(services.db, topic, person):
        raise Refused(NOT_ELIGIBLE)
    return topic


async def managed_topic(services: Services, person: Person, topic_id: int) -> Topic:
    return _require_manager(person, await store.get(services.db, topic_id))


async def managed_topics(services: Services, person: Person) -> list[Topic]:
    if not manages_anything(person):
        return []
    return await store.managed(services.db, managed_area(person))


async def attachments(services: Services, topic_id: int) -> list[tuple[str, str, str]]:
    return await store.attachments(services.db, topic_id)


async def answered_questions(services: Services, topic_id: int) -> list[store.Question]:
    return await store.questions(services.db, topic_id, answered=True)


async def open_questions(services: Services, topic_id: int) -> list[store.Question]:
    return await store.questions(services.db, topic_id, answered=False)


async def followups(services: Services, topic_id: int) -> list[tuple[str, datetime]]:
    return await store.followups(services.db, topic_id)


async def rating_summary(services: Services, topic_id: int) -> tuple[float | None, int]:
    return await store.ratings(services.db, topic_id)


async def my_rating(services: Services, topic_id: int, person: Person) -> int | None:
    return await store.my_rating(services.db, topic_id, person.id)


async def is_participant(services: Services, topic_id: int, person: Person) -> bool:
    return person.id in await store.participants(services.db, topic_id)


# ---- questions and answers -----------------------------------------------------------------------------


async def ask(services: Services, person: Person, topic_id: int, text: str) -> store.Question:
    """An eligible person asks before or during the vote; the organizers are told."""
    question_text = _text(text, QUESTION_MAX, BACKGROUND_PROBLEM, multiline=True)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = await _topic(conn, topic_id)
        if topic.state not in ASKING_STATES:
            raise Refused(N_("Questions are taken before and during the vote only."))
        if not await is_eligible(conn, topic, person):
            raise Refused(NOT_ELIGIBLE)
        question_id = await store.add_question(conn, topic_id=topic_id, person_id=person.id, text=question_text,
                                               now=now, open_max=QUESTIONS_OPEN_MAX)
        if question_id is None:
            raise Refused(N_("You have {limit} questions on this topic waiting for an answer already."),
                          limit=QUESTIONS_OPEN_MAX)
        await _tell(conn, now, await _managers(conn, topic),
                    N_("❓ <b>Question on topic #{id}</b> “{title}”:\n{question}"),
                    {"id": topic.id, "title": topic.title, "question": None},  # read when sent: _question_now
                    buttons=[[Button(N_("✍️ Answer"), admin_data("qa", question_id))]],
                    reason=(QUESTION, question_id))
        found = await store.question(conn, question_id)
        assert found is not None
        return found


async def answer(services: Services, organizer: Person, question_id: int, text: str) -> store.Question:
    """The organizer's answer goes to every eligible person, with the question (never the asker's name)."""
    answer_text = _text(text, ANSWER_MAX, BACKGROUND_PROBLEM, multiline=True)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        question = await store.question(conn, question_id)
        if question is None:
            raise Refused(UNKNOWN)
        topic = _require_manager(organizer, await store.get(conn, question.topic_id))
        if topic.state not in PUBLIC_STATES or not await store.answer(conn, question_id, answer_text, organizer.id,
                                                                      now):
            raise Refused(N_("This question has already been answered."))
        await _tell(conn, now, await eligible_people(conn, topic),
                    N_("💬 <b>Questions and answers</b> · topic #{id} “{title}”\n❓ {question}\n💬 {answer}"),
                    {"id": topic.id, "title": topic.title, "question": None, "answer": answer_text},
                    buttons=_open_button(topic.id), lane=Lane.BULK, reason=(QUESTION, question_id))
        found = await store.question(conn, question_id)
        assert found is not None
        return found


async def question_of(services: Services, organizer: Person, question_id: int) -> store.Question:
    question = await store.question(services.db, question_id)
    if question is None:
        raise Refused(UNKNOWN)
    _require_manager(organizer, await store.get(services.db, question.topic_id))
    return question


# ---- after: outcome, follow-ups, ratings ------------------------------------------------------------------


OUTCOME = N_("📜 <b>Outcome</b> · topic #{id} “{title}”\nDecision: {decision}\nActions: {actions}\n"
             "Responsible: {responsible}\nReview: {review}")
# What the reporter and followers of an escalated report get instead: the outcome and where their report stands.
OUTCOME_AND_REPORT = N_(
    "📜 <b>Outcome</b> · topic #{id} “{title}”\nDecision: {decision}\nActions: {actions}\n"
    "Responsible: {responsible}\nReview: {review}\n\n🔧 Report {number} ({category}) is now {status}; fix by "
    "{fix_by}."
)
OUTCOME_TO_ASSIGNEE = N_("📜 Topic #{id} has its outcome, and task {number} ({category}) is now {status}.\n"
                         "Decision: {decision}\n🛠 Fix by {fix_by} ({fix_in}).")
DECISION_SHORT = 200  # how much of the decision the assignee of a resumed task reads in its notice


async def publish_outcome(
    services: Services, organizer: Person, topic_id: int, *, decision: str, actions: str, responsible: str,
    review_at: datetime,
) -> Topic:
    """The outcome statement goes to the eligible people (and, for an escalated report, its reporter and
    followers); the review date becomes a timer that reminds the organizers. An escalated report still
    waiting for the outcome goes back to work in the same transaction (see `_end_topic`), and its reporter
    and followers read where it stands in the outcome's own message."""
    problem = N_("Please write up to {limit} characters.")
    decision = _text(decision, OUTCOME_MAX, problem, multiline=True)
    actions = _text(actions, OUTCOME_MAX, problem, multiline=True)
    responsible = _text(responsible, OUTCOME_MAX, problem, multiline=True)
    now = services.clock.now()
    if review_at <= now:
        raise Refused(N_("The review date must be in the future."))
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        if topic.state is not TopicState.CLOSED:
            raise Refused(N_("The outcome is published after voting has closed."))
        if not await store.set_outcome(conn, topic_id, decision=decision, actions=actions, responsible=responsible,
                                       review_at=review_at, by=organizer.id, now=now):
            raise Refused(N_("The outcome of this topic has already been published."))
        await timers.schedule(conn, kind=REVIEW, subject=str(topic_id), due_at=review_at)
        await _end_topic(services, conn, topic, organizer, now, await store.eligible_people(conn, topic_id), Ending(
            news=OUTCOME, news_and_report=OUTCOME_AND_REPORT, to_assignee=OUTCOME_TO_ASSIGNEE,
            params={"id": topic.id, "title": topic.title, "decision": decision, "actions": actions,
                    "responsible": responsible, "review": review_at},
            assignee_params={"decision": shorten(decision, DECISION_SHORT)}, buttons=_open_button(topic.id),
            detail=f"topic {topic_id}",
        ))
        await people.audit(conn, now, organizer.id, "topic.outcome", str(topic_id))
        return await _topic(conn, topic_id)


@dataclass(frozen=True)
class Ending:
    """How a topic ended (its outcome, or called off), as each audience reads it: `news` for everyone told of
    the topic; for a topic made of a report, `news_and_report` for the report's reporter and followers instead
    (the news and where their report stands) and `to_assignee` (with `assignee_params`) for whoever works on
    the report again. `detail` goes on the report's "resumed" event."""

    news: str
    news_and_report: str
    to_assignee: str
    params: dict[str, Param]
    detail: str
    assignee_params: dict[str, Param] = field(default_factory=dict)
    buttons: list[list[Button]] | None = None


async def _end_topic(
    services: Services, conn: Connection, topic: Topic, organizer: Person, now: datetime, told: list[int],
    ending: Ending,
) -> None:
    """Tell `told` how the topic ended. A report escalated into it and still waiting for it goes back to work
    in the same transaction (see `_resume_report`), and its reporter and followers get one message: the news
    and where their report stands. A report already moved on by hand is left alone, and they get the news."""
    recipients = told
    if topic.report_id is not None:
        report = await report_store.get(conn, topic.report_id)
        residents = await report_store.followers(conn, topic.report_id)
        if report is not None and report.reporter_id is not None:
            residents.insert(0, report.reporter_id)
        resumed = await _resume_report(services, conn, topic.id, report, organizer, now, ending)
        if resumed is None:
            recipients = [*told, *residents]
        else:
            recipients = [p for p in told if p not in residents]
            base, fix_by = report_service.about(services, resumed), resumed.fix_by
            await report_service.push(
                conn, now, residents, ending.news_and_report,
                lambda _, loc: {**base(_, loc), **ending.params, "fix_by": fix_by},
                buttons=ending.buttons, urgent=resumed.urgent,
            )
    await _tell(conn, now, recipients, ending.news, ending.params, buttons=ending.buttons, lane=Lane.BULK)


async def _resume_report(
    services: Services, conn: Connection, topic_id: int, report: Report | None, organizer: Person, now: datetime,
    ending: Ending,
) -> Report | None:
    """The escalated report goes back to work now that its topic is over: its fix clock starts afresh from now
    by its category's hours, and its assignee carries on (in progress) and hears how the topic ended and the
    new deadline. An assignee who has since erased their account cannot, so the report is routed again as a
    new one is. None when there is nothing to resume: someone already moved the report on by hand."""
    if report is None or report.state is not ReportState.DELIBERATION:
        return None
    fix_by = await report_service.start_fix_clock(services, conn, report, now)
    if report.assignee_id is not None and not await people.is_erased(conn, report.assignee_id):
        await report_service.move(conn, report, ReportState.IN_PROGRESS, now, organizer.id, "resumed",
                                  ending.detail, fix_by=fix_by, due_at=fix_by)
        resumed = await report_service.refreshed(conn, report.id)
    else:
        await report_store.update(conn, report.id, now, fix_by=fix_by)
        await report_store.add_event(conn, report.id, now, organizer.id, "resumed", detail=ending.detail)
        routed = await routing.route(conn, report.grid_id, report.community_id, now)
        taker, how = (routed[0], routed[1].value) if routed is not None else (organizer.id, "deliberation")
        resumed = await report_service.assign(services, conn, await report_service.refreshed(conn, report.id),
                                              taker, now, organizer.id, f"{taker}:{how}")
    assert resumed.assignee_id is not None
    if resumed.assignee_id != organizer.id:
        base = report_service.about(services, resumed)
        await report_service.push(
            conn, now, [resumed.assignee_id], ending.to_assignee,
            lambda _, loc: {**base(_, loc), "id": topic_id, **ending.assignee_params, "fix_by": fix_by,
                            "fix_in": Relative(fix_by)},
            buttons=report_service.open_task_button(report.id), urgent=resumed.urgent,
        )
    return resumed


def rating_buttons(topic_id: int) -> list[list[Button]]:
    return [[Button(f"{n}⭐", button_data("rt", topic_id, n)) for n in range(1, 6)]]


async def post_followup(services: Services, organizer: Person, topic_id: int, text: str) -> None:
    """An update on carrying out the decision, to everyone who voted, who may rate how it is going."""
    body = _text(text, FOLLOWUP_MAX, N_("Please write up to {limit} characters."), multiline=True)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = _require_manager(organizer, await store.get(conn, topic_id))
        if topic.outcome_at is None:
            raise Refused(N_("Follow-ups come after the outcome is published."))
        await store.add_followup(conn, topic_id, body, organizer.id, now)
        await _tell(conn, now, await store.participants(conn, topic_id),
                    N_("📣 <b>Follow-up</b> · topic #{id} “{title}”\n{text}\n\nHow is the decision being carried "
                       "out? Rate it from 1 to 5."),
                    {"id": topic.id, "title": topic.title, "text": body}, buttons=rating_buttons(topic_id),
                    lane=Lane.BULK)
        await people.audit(conn, now, organizer.id, "topic.followup", str(topic_id))


async def rate(services: Services, person: Person, topic_id: int, stars: int) -> None:
    if not 1 <= stars <= 5:
        raise Refused(BAD_CHOICE)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        topic = await _topic(conn, topic_id)
        if topic.outcome_at is None:
            raise Refused(N_("Ratings open once the outcome is published."))
        if person.id not in await store.participants(conn, topic_id):
            raise Refused(N_("Only those who voted on this topic rate how its decision is carried out."))
        await store.rate(conn, topic_id, person.id, stars, now)


# ---- timers and drop checks ---------------------------------------------------------------------------


async def _timer_topic(conn: Connection, timer: TimerRow) -> Topic | None:
    return await store.get(conn, int(timer.subject))


async def _on_open(services: Services, conn: Connection, timer: TimerRow) -> None:
    topic = await _timer_topic(conn, timer)
    if topic is not None and topic.state is TopicState.ANNOUNCED:
        await _open(services, conn, topic, services.clock.now())


async def _on_close(services: Services, conn: Connection, timer: TimerRow) -> None:
    topic = await _timer_topic(conn, timer)
    if topic is not None and topic.state is TopicState.OPEN:
        await _close(services, conn, topic, services.clock.now())


async def _on_remind(services: Services, conn: Connection, timer: TimerRow) -> None:
    """"Closing soon" — only to eligible people whose vote (or household's) is not cast."""
    topic = await _timer_topic(conn, timer)
    if topic is None or topic.state is not TopicState.OPEN or topic.closes_at is None:
        return
    now = services.clock.now()
    for row in await store.not_voted(conn, topic.id):
        await _tell(conn, now, [row.person_id],
                    N_("⏰ Voting on topic #{id} “{title}” closes {closes}, and you have not voted yet."),
                    {"id": topic.id, "title": topic.title, "closes": topic.closes_at},
                    buttons=[[Button(N_("🗳 Vote"), button_data("b", topic.id, 0))]], lane=Lane.BULK,
                    reason=(VOTE_REMINDER, row.id))


async def _on_review(services: Services, conn: Connection, timer: TimerRow) -> None:
    topic = await _timer_topic(conn, timer)
    if topic is None:
        return
    managers = await _managers(conn, topic)
    if topic.created_by is not None and topic.created_by not in managers:
        managers.append(topic.created_by)
    await _tell(conn, services.clock.now(), managers,
                N_("⏰ Review date for topic #{id} “{title}”: post a follow-up on how the decision is being "
                   "carried out."),
                {"id": topic.id, "title": topic.title}, buttons=_manage_button(topic.id))


async def _topic_over(db: Database, topic_id: int) -> bool:
    state = await db.fetch_value("SELECT state FROM deliberation_topics WHERE id = ?", (topic_id,))
    return state not in (TopicState.ANNOUNCED.value, TopicState.OPEN.value)


async def _already_voted(db: Database, eligible_id: int) -> bool:
    return not await store.still_to_vote(db, eligible_id)


async def _proposer_gone(db: Database, topic_id: int) -> bool:
    """Only erasure takes a proposal's proposer away (`store.erase_person`), with the words still waiting."""
    return await db.fetch_one(
        "SELECT 1 FROM deliberation_topics WHERE id = ? AND proposed_by IS NOT NULL", (topic_id,)) is None


async def _nothing_to_answer(db: Database, question_id: int) -> bool:
    """The asker erased an unanswered question (`store.erase_person` blanks it): nothing is left to answer."""
    question = await store.question(db, question_id)
    return question is None or (not question.question and question.answer is None)


async def _question_now(db: Database, question_id: int) -> dict[str, Param]:
    """A question's messages are queued without its words and show them as they stand when sent."""
    question = await store.question(db, question_id)
    return {} if question is None else {"question": question.question or Tr(ASKER_ERASED)}


# ---- the audience for notices and minutes ------------------------------------------------------------------


async def _audience_people(db: Database, audience: Audience) -> audiences.Reach:
    found: list[int] = []
    for topic_id in audience.ids:
        topic = await store.get(db, topic_id)
        if topic is not None:
            found += await eligible_people(db, topic)
    return audiences.Reach(people=tuple(dict.fromkeys(found)))


async def _audience_footprint(db: Database, audience: Audience) -> Footprint:
    communities: set[int] = set()
    for topic_id in audience.ids:
        topic = await store.get(db, topic_id)
        if topic is None or topic.community_id is None:
            return None
        communities.add(topic.community_id)
    return frozenset(communities)


async def _audience_choices(db: Database, person: Person) -> list[audiences.Choice]:
    if not manages_anything(person):
        return []
    return [audiences.Choice(t.id, f"#{t.id} {t.title}") for t in await store.managed(db, managed_area(person))
            if t.state in PUBLIC_STATES]


async def _audience_titles(db: Database, audience: Audience) -> list[str]:
    return [f"#{t.id} {t.title}" for t in [await store.get(db, i) for i in audience.ids] if t is not None]


timers.register_timer(OPEN, _on_open)
timers.register_timer(CLOSE, _on_close)
timers.register_timer(REMIND, _on_remind)
timers.register_timer(REVIEW, _on_review)
outbox.register_drop_check(TOPIC_NOTICE, _topic_over)
outbox.register_drop_check(VOTE_REMINDER, _already_voted)
outbox.register_drop_check(PROPOSAL, _proposer_gone)
outbox.register_drop_check(QUESTION, _nothing_to_answer)
outbox.register_refresh(QUESTION, _question_now)
accounts.register_personal_data("deliberation", store.export_person, store.erase_person)
audiences.register_audience(audiences.DELIBERATION, audiences.AudienceKind(
    N_("🗳 Eligible people of a topic"), _audience_people, _audience_footprint, _audience_choices,
    _audience_titles, order=45,
))

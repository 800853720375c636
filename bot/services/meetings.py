"""Meetings: create, answer a notice (Going / Maybe / Can't go), waitlist offers, reminders, reschedule,
cancel, attendance and minutes.

Places, the waitlist, offers and the 24 h / 2 h reminders are the shared capacity service under the
event kind "meeting": a "going" answer takes a seat (or a place in the queue), reminders go to
confirmed seats and move when the meeting moves. Answers about a person's own sign-up (confirmations,
offers, reminders, a reschedule, a cancellation, minutes of a meeting they attended) always arrive,
whatever topics they muted. Only the organizer sees who answered; residents see their own answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from bot.clock import to_db
from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.outbox import Button, Lane, Param, Relative
from bot.domain.broadcasts import Audience, area, may_send
from bot.domain.capacity import Counts, Seat, SeatState, SignUpOutcome
from bot.domain.event_times import TimeProblem
from bot.domain.meetings import (
    KIND,
    Answer,
    AnswerLine,
    Meeting,
    event_key,
    manages,
    time_problem,
)
from bot.domain.people import Person
from bot.i18n import N_
from bot.services import accounts, audiences, capacity
from bot.services.capacity import ConfirmOutcome, Notice, SlotKind
from bot.services.container import Services
from bot.storage import broadcasts as broadcast_store
from bot.storage import meetings as store
from bot.storage import people
from bot.storage.db import Connection, Database
from bot.ui.callbacks import encode

log = logging.getLogger(__name__)

CALLBACK = "mtg"  # buttons on meeting pushes and notices (bot/handlers/meetings.py)
ANSWER_CODES = {"g": Answer.GOING, "m": Answer.MAYBE, "n": Answer.NO}


def button_data(action: str, *ids: object) -> str:
    return encode(CALLBACK, action, *ids)


def answer_buttons(meeting_id: int) -> list[list[Button]]:
    return [[Button(N_("✅ Going"), button_data("r", meeting_id, "g")),
             Button(N_("🤔 Maybe"), button_data("r", meeting_id, "m")),
             Button(N_("❌ Can't go"), button_data("r", meeting_id, "n"))]]


def _window(settings: Settings) -> timedelta:
    return timedelta(hours=settings.meeting_confirm_hours)


async def _meeting(conn: Connection, meeting_id: int) -> Meeting:
    found = await store.get(conn, meeting_id)
    assert found is not None, f"meeting {meeting_id} is gone"
    return found


# ---- the capacity pushes --------------------------------------------------------------------------------


async def _offer_notice(conn: Connection, seat: Seat) -> Notice:
    meeting = await _meeting(conn, seat.key.event_id)
    return Notice(
        N_("🙋 A place is free for you at the meeting <b>{title}</b> ({starts}). Please confirm within {hours} h "
           "of this message, or it passes to the next person on the waitlist."),
        {"title": meeting.title, "starts": meeting.starts_at, "hours": f"{(seat.offer_minutes or 0) / 60:g}"},
        [[Button(N_("✅ Confirm my place"), button_data("cf", meeting.id)),
          Button(N_("Give it up"), button_data("r", meeting.id, "n"))]],
    )


async def _reminder_notice(conn: Connection, seat: Seat, offset: timedelta) -> Notice:
    meeting = await _meeting(conn, seat.key.event_id)
    return Notice(
        N_("⏰ Reminder: the meeting <b>{title}</b> starts {when} ({starts}) at {place}."),
        {"title": meeting.title, "when": Relative(meeting.starts_at), "starts": meeting.starts_at,
         "place": meeting.place},
        [[Button(N_("🗓 Calendar file"), button_data("ics", meeting.id)),
          Button(N_("❌ Can't go"), button_data("r", meeting.id, "n"))]],
    )


async def _lapse_notice(conn: Connection, seat: Seat) -> Notice:
    meeting = await _meeting(conn, seat.key.event_id)
    return Notice(N_("⌛ The place at the meeting <b>{title}</b> was not confirmed in time and has passed to the "
                     "next person."), {"title": meeting.title})


capacity.register_slot_kind(KIND, SlotKind(confirm_window=_window, offer_notice=_offer_notice,
                                           reminder_notice=_reminder_notice, lapse_notice=_lapse_notice))


# ---- the notice -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """What a push says, before it is rendered for each recipient."""

    template: str
    params: dict[str, Param]
    buttons: list[list[Button]] | None = None


def notice(meeting: Meeting, note: str) -> Message:
    """The meeting notice: what, when, where, the agenda, the organizer's note, and the answer buttons."""
    params: dict[str, Param] = {"title": meeting.title, "starts": meeting.starts_at, "ends": meeting.ends_at,
                                "place": meeting.place, "agenda": meeting.agenda, "text": note}
    template = N_("📅 <b>Meeting notice: {title}</b>\n🗓 {starts} – {ends}\n📍 {place}\n\n{agenda}\n\n{text}")
    if not note:
        template = N_("📅 <b>Meeting notice: {title}</b>\n🗓 {starts} – {ends}\n📍 {place}\n\n{agenda}")
    return Message(template, params, answer_buttons(meeting.id))


# ---- who may do what ------------------------------------------------------------------------------------


def is_manager(person: Person | None) -> bool:
    """Meetings are called by those who send notices: organizers and street admins."""
    return may_send(person)


async def managed(services: Services, staff: Person, meeting_id: int) -> Meeting | None:
    """The meeting if it exists and `staff` manages it; None for forged or stale ids."""
    meeting = await store.get(services.db, meeting_id)
    if meeting is None or not is_manager(staff) or not manages(staff, meeting.community_id):
        return None
    return meeting


async def managed_list(services: Services, staff: Person, *, since: datetime) -> list[Meeting]:
    return [m for m in await store.listed(services.db, since=since) if manages(staff, m.community_id)]


async def creatable_areas(services: Services, staff: Person) -> list[tuple[int | None, str]]:
    """Where `staff` may hold meetings: (None, "") for the whole street, then their communities."""
    if not is_manager(staff):
        return []
    allowed = area(staff)
    rows = await services.db.fetch_all("SELECT id, name FROM communities ORDER BY code")
    found: list[tuple[int | None, str]] = [(None, "")] if allowed is None else []
    return found + [(r["id"], r["name"]) for r in rows if allowed is None or r["id"] in allowed]


# ---- creating -------------------------------------------------------------------------------------------


class NewMeeting(BaseModel):
    title: str
    agenda: str
    place: str
    community_id: int | None
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    topic_id: int | None = None


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    PAST = "past"
    BAD_TIMES = "bad_times"
    CLOSED = "closed"
    STARTED = "started"
    NOT_STARTED = "not_started"
    ALREADY = "already"


def _time_refusal(problem: TimeProblem | None) -> Refusal | None:
    if problem is None:
        return None
    return Refusal.PAST if problem is TimeProblem.PAST else Refusal.BAD_TIMES


async def create(services: Services, staff: Person, new: NewMeeting) -> int | Refusal:
    if new.community_id not in {a for a, _name in await creatable_areas(services, staff)}:
        return Refusal.NOT_ALLOWED
    now = services.clock.now()
    refusal = _time_refusal(time_problem(new.starts_at, new.ends_at, now))
    if refusal is not None:
        return refusal
    async with services.db.transaction() as conn:
        meeting_id = await store.insert(conn, title=new.title, agenda=new.agenda, place=new.place,
                                        community_id=new.community_id, topic_id=new.topic_id, created_by=staff.id,
                                        now=now)
        await capacity.open_event(conn, event_key(meeting_id), capacity=new.capacity, starts_at=new.starts_at,
                                  ends_at=new.ends_at, now=now)
        await people.audit(conn, now, staff.id, "meeting.create", str(meeting_id), new.title)
    return meeting_id


# ---- answering ------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    GOING = "going"  # a confirmed place
    WAITLISTED = "waitlisted"
    ALREADY_GOING = "already_going"
    MAYBE = "maybe"
    NO = "no"
    CLOSED = "closed"  # cancelled or unknown
    STARTED = "started"


@dataclass(frozen=True)
class AnswerResult:
    outcome: Outcome
    meeting: Meeting | None = None
    position: int | None = None


async def answer(services: Services, person: Person, meeting_id: int, given: Answer) -> AnswerResult:
    """Record an answer; "going" takes a place or joins the waitlist, any other answer frees a held place."""
    now = services.clock.now()
    key = event_key(meeting_id)
    async with services.db.transaction() as conn:
        meeting = await store.get(conn, meeting_id)
        if meeting is None or not meeting.open:
            return AnswerResult(Outcome.CLOSED, meeting)
        if now >= meeting.starts_at:
            return AnswerResult(Outcome.STARTED, meeting)
        if given is Answer.GOING:
            result = await _going(services, conn, meeting, person, now)
        else:
            await capacity.cancel_seat(services, conn, key, person.id, now=now)
            result = AnswerResult(Outcome.MAYBE if given is Answer.MAYBE else Outcome.NO, meeting)
        if result.outcome is not Outcome.CLOSED:
            await store.set_answer(conn, meeting_id, person.id, given, now)
    return result


async def _going(services: Services, conn: Connection, meeting: Meeting, person: Person,
                 now: datetime) -> AnswerResult:
    current = await capacity.seat_of(conn, meeting.key, person.id)
    if current is not None and current.state is SeatState.OFFERED:
        confirmed = await capacity.confirm_offer(conn, meeting.key, person.id, now=now)
        if confirmed is ConfirmOutcome.CONFIRMED:
            return AnswerResult(Outcome.GOING, meeting)
    signed = await capacity.sign_up(services, conn, meeting.key, person.id, now=now)
    if signed.outcome is SignUpOutcome.CONFIRMED:
        return AnswerResult(Outcome.GOING, meeting)
    if signed.outcome is SignUpOutcome.WAITLISTED:
        return AnswerResult(Outcome.WAITLISTED, meeting, signed.position)
    if signed.outcome is SignUpOutcome.ALREADY:
        if signed.seat is not None and signed.seat.state is SeatState.WAITLISTED:
            return AnswerResult(Outcome.WAITLISTED, meeting, signed.position)
        return AnswerResult(Outcome.ALREADY_GOING, meeting)
    return AnswerResult(Outcome.STARTED if signed.outcome is SignUpOutcome.STARTED else Outcome.CLOSED, meeting)


async def confirm_offer(services: Services, person: Person, meeting_id: int) -> tuple[ConfirmOutcome, Meeting | None]:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        outcome = await capacity.confirm_offer(conn, event_key(meeting_id), person.id, now=now)
        meeting = await store.get(conn, meeting_id)
    return outcome, meeting


async def own_answer(services: Services, person: Person, meeting_id: int) -> tuple[Meeting | None, Answer | None]:
    """The meeting and this person's own answer (never anyone else's)."""
    meeting = await store.get(services.db, meeting_id)
    if meeting is None:
        return None, None
    return meeting, await store.answer_of(services.db, meeting_id, person.id)


async def calendar_meeting(services: Services, person: Person, meeting_id: int) -> Meeting | None:
    """The meeting for a calendar file: for those who answered it, and its managers."""
    meeting, given = await own_answer(services, person, meeting_id)
    if meeting is None or (given is None and not manages(person, meeting.community_id)):
        return None
    return meeting


# ---- the organizer's view -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    meeting: Meeting
    counts: Counts
    lines: list[AnswerLine]

    def answered(self, given: Answer) -> int:
        return sum(1 for line in self.lines if line.answer is given)

    @property
    def attended(self) -> list[AnswerLine]:
        return [line for line in self.lines if line.attended]


async def overview(services: Services, staff: Person, meeting_id: int) -> Overview | None:
    meeting = await managed(services, staff, meeting_id)
    if meeting is None:
        return None
    return Overview(meeting, await capacity.counts(services.db, meeting.key),
                    await store.answer_lines(services.db, meeting_id))


async def mark_attendance(services: Services, staff: Person, meeting_id: int, person_id: int,
                          attended: bool) -> Refusal | None:
    """Mark someone who answered as present or absent, once the meeting has started."""
    meeting = await managed(services, staff, meeting_id)
    if meeting is None:
        return Refusal.NOT_ALLOWED
    if services.clock.now() < meeting.starts_at:
        return Refusal.NOT_STARTED
    async with services.db.transaction() as conn:
        if not await store.mark(conn, meeting_id, person_id, attended):
            return Refusal.NOT_ALLOWED
    return None


# ---- changing and cancelling ----------------------------------------------------------------------------


async def reschedule(services: Services, staff: Person, meeting_id: int, starts_at: datetime,
                     ends_at: datetime) -> Refusal | None:
    """Move a meeting that has not started: everyone who answered is told, and the reminders move."""
    meeting = await managed(services, staff, meeting_id)
    now = services.clock.now()
    refusal = changeable(meeting, now) or _time_refusal(time_problem(starts_at, ends_at, now))
    if refusal is not None:
        return refusal
    assert meeting is not None
    async with services.db.transaction() as conn:
        await capacity.reschedule(conn, meeting.key, starts_at=starts_at, ends_at=ends_at, now=now)
        await store.bump_sequence(conn, meeting_id)
        await outbox.enqueue(
            conn, now=now, recipients=await store.answered(conn, meeting_id), lane=Lane.INTERACTIVE,
            template=N_("📅 The meeting <b>{title}</b> has moved to {starts} – {ends}, at {place}. Your answer "
                        "stands; change it below if you need to."),
            params={"title": meeting.title, "starts": starts_at, "ends": ends_at, "place": meeting.place},
            buttons=[*answer_buttons(meeting_id), [Button(N_("🗓 Calendar file"), button_data("ics", meeting_id))]],
        )
        await people.audit(conn, now, staff.id, "meeting.reschedule", str(meeting_id), to_db(starts_at))
    return None


def changeable(meeting: Meeting | None, now: datetime) -> Refusal | None:
    """Why a meeting can no longer be moved or cancelled (None: it can)."""
    if meeting is None:
        return Refusal.NOT_ALLOWED
    if not meeting.open:
        return Refusal.CLOSED
    if now >= meeting.starts_at:
        return Refusal.STARTED
    return None


async def cancel(services: Services, staff: Person, meeting_id: int) -> Refusal | None:
    """Cancel a meeting that has not started: everyone who answered or got its notice is told."""
    meeting = await managed(services, staff, meeting_id)
    now = services.clock.now()
    refusal = changeable(meeting, now)
    if refusal is not None:
        return refusal
    assert meeting is not None
    notices = await broadcast_store.for_meeting(services.db, meeting_id)
    reached = await broadcast_store.person_ids_sent(services.db, [b.id for b in notices])
    groups = [c for b in notices if b.audience.kind == audiences.GROUPS for c in b.audience.ids]
    async with services.db.transaction() as conn:
        await capacity.cancel_event(conn, meeting.key)
        await store.bump_sequence(conn, meeting_id)
        await outbox.enqueue(
            conn, now=now, recipients=[*await store.answered(conn, meeting_id), *reached], chat_ids=groups,
            lane=Lane.INTERACTIVE,
            template=N_("❌ The meeting <b>{title}</b> ({starts}) has been cancelled by the organizer."),
            params={"title": meeting.title, "starts": meeting.starts_at},
        )
        await people.audit(conn, now, staff.id, "meeting.cancel", str(meeting_id))
    return None


# ---- minutes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinutesResult:
    refusal: Refusal | None
    attended: int = 0
    eligible: int = 0


async def post_minutes(services: Services, staff: Person, meeting_id: int, minutes: str) -> MinutesResult:
    """Send the minutes, once, to those who attended and, for a linked deliberation, its eligible people."""
    meeting = await managed(services, staff, meeting_id)
    now = services.clock.now()
    if meeting is None:
        return MinutesResult(Refusal.NOT_ALLOWED)
    if not meeting.open:
        return MinutesResult(Refusal.CLOSED)
    if now < meeting.starts_at:
        return MinutesResult(Refusal.NOT_STARTED)
    attended = [line.person_id for line in await store.answer_lines(services.db, meeting_id) if line.attended]
    eligible = await _eligible(services.db, meeting)
    recipients = list(dict.fromkeys([*attended, *eligible]))
    async with services.db.transaction() as conn:
        if not await store.set_minutes(conn, meeting_id, minutes, staff.id, now):
            return MinutesResult(Refusal.ALREADY)
        await outbox.enqueue(
            conn, now=now, recipients=recipients, lane=Lane.BULK,
            template=N_("📝 <b>Minutes: {title}</b> ({starts})\n\n{minutes}"),
            params={"title": meeting.title, "starts": meeting.starts_at, "minutes": minutes},
        )
        await people.audit(conn, now, staff.id, "meeting.minutes", str(meeting_id), str(len(recipients)))
    return MinutesResult(None, attended=len(attended), eligible=len(set(eligible) - set(attended)))


async def _eligible(db: Database, meeting: Meeting) -> list[int]:
    """The eligible people of the linked deliberation, when the deliberation feature provides them."""
    if meeting.topic_id is None:
        return []
    audience = Audience(kind=audiences.DELIBERATION, ids=(meeting.topic_id,))
    try:
        return list((await audiences.resolve(db, audience)).people)
    except audiences.UnknownAudience:
        log.warning("meeting %d links topic %d, but no deliberation audience is registered", meeting.id,
                    meeting.topic_id)
        return []


# ---- personal data --------------------------------------------------------------------------------------


async def _export(db: Database, person_id: int) -> list[dict[str, Any]]:
    return await store.export_for(db, person_id)


async def _erase(conn: Connection, person_id: int) -> None:
    """Forget answers; places held pass to the waitlist (the capacity service offers them)."""
    await capacity.release_person(conn, person_id)
    await store.erase_for(conn, person_id)


accounts.register_personal_data("meeting_answers", _export, _erase)

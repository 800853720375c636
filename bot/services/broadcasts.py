"""Notices to an audience: preview, submit, approve, schedule, send, stop, progress and the final report.

A notice is resolved to people and groups when it starts going out (not when it was written), minus
the people who muted its topic (safety cannot be muted). Every row goes through the outbox with the
reason ("broadcast", id): stopping a notice makes its drop check true, so its rows still waiting are
dropped, not sent. Safety notices go in the interactive lane and ignore quiet hours; every other
notice goes in the bulk lane, and the sender holds it during quiet hours.

Who may do what is checked again at every step: when the audience is picked, at submission, at
approval and when it starts sending (a person who lost their role sends nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel

from bot.delivery import outbox
from bot.delivery.outbox import Button, Lane, Param, Tr
from bot.domain.broadcasts import (
    Audience,
    Broadcast,
    Progress,
    State,
    Topic,
    may_approve,
    may_send,
    may_target,
    needs_approval,
)
from bot.domain.people import Person, Role, Scope, ScopeKind
from bot.i18n import N_
from bot.services import accounts, audiences
from bot.services import meetings as meeting_service
from bot.services.container import Services
from bot.storage import broadcasts as store
from bot.storage import meetings as meeting_store
from bot.storage import people
from bot.storage.db import Connection, Database, Reader
from bot.timers import engine as timers
from bot.ui.callbacks import encode

log = logging.getLogger(__name__)

REASON = "broadcast"  # outbox reason of every row of a notice: dropped once the notice is stopped
SEND = "broadcast.send"  # timer: a scheduled notice starts going out
CHECK = "broadcast.check"  # timer: is everything out? then the final report
CALLBACK = "bc"  # buttons on pushes about notices (bot/handlers/broadcast.py)
AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)

TOPIC_LABELS: dict[Topic, str] = {
    Topic.MEETINGS: N_("📅 Meetings"),
    Topic.COMMUNITY: N_("📢 Community notices"),
    Topic.VOLUNTEERING: N_("🙋 Volunteering"),
    Topic.SAFETY: N_("🚨 Safety"),
}
TEMPLATES: dict[Topic, str] = {
    Topic.MEETINGS: N_("📅 <b>Meeting notice</b>\n\n{text}"),
    Topic.COMMUNITY: N_("📢 <b>Community notice</b>\n\n{text}"),
    Topic.VOLUNTEERING: N_("🙋 <b>Volunteering notice</b>\n\n{text}"),
    Topic.SAFETY: N_("🚨 <b>Safety notice</b>\n\n{text}"),
}


def button_data(action: str, *ids: object) -> str:
    return encode(CALLBACK, action, *ids)


class NewBroadcast(BaseModel):
    """What the author composed: audience, topic, words (and a photo or a document), when."""

    audience: Audience
    topic: Topic
    body: str
    photo: str | None = None
    document: str | None = None
    meeting_id: int | None = None
    send_at: datetime | None = None


# ---- what a notice says ----------------------------------------------------------------------------------


async def message_of(reader: Reader, composed: NewBroadcast | Broadcast
                     ) -> meeting_service.Message | None:
    """The push every recipient gets (and the preview shows); None when its meeting is gone."""
    if composed.meeting_id is not None:
        meeting = await meeting_store.get(reader, composed.meeting_id)
        return None if meeting is None else meeting_service.notice(meeting, composed.body)
    return meeting_service.Message(TEMPLATES[composed.topic], {"text": composed.body})


def _lane(topic: Topic) -> tuple[Lane, bool]:
    """Safety notices go at once, day or night; the rest in the bulk lane, held in quiet hours."""
    return (Lane.INTERACTIVE, True) if topic is Topic.SAFETY else (Lane.BULK, False)


# ---- reach and permission ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReachSummary:
    people: int
    groups: int
    muted: int
    needs_approval: bool
    names: list[str]


async def _allowed(services: Services, person: Person, audience: Audience) -> bool:
    if not may_send(person) or audiences.kind_of(audience.kind) is None:
        return False
    return may_target(person, await audiences.footprint(services.db, audience))


async def summary(services: Services, person: Person, audience: Audience, topic: Topic | None = None
                  ) -> ReachSummary | None:
    """How many people and groups a notice would reach now; None when this person may not send it."""
    if not await audiences.valid_pick(services.db, person, audience) or not await _allowed(services, person, audience):
        return None
    reach = await audiences.resolve(services.db, audience)
    muted = await store.muting(services.db, topic) if topic is not None and topic is not Topic.SAFETY else set()
    counted = [p for p in reach.people if p not in muted]
    footprint = await audiences.footprint(services.db, audience)
    return ReachSummary(people=len(counted), groups=len(reach.chats), muted=len(reach.people) - len(counted),
                        needs_approval=needs_approval(person, footprint),
                        names=await audiences.describe(services.db, audience))


async def meeting_for_notice(services: Services, person: Person, meeting_id: int) -> meeting_service.Meeting | None:
    """A meeting whose notice this person may send: one they manage, open and not started."""
    meeting = await meeting_service.managed(services, person, meeting_id)
    if meeting is None or not meeting.open or services.clock.now() >= meeting.starts_at:
        return None
    return meeting


# ---- preview --------------------------------------------------------------------------------------------


async def send_preview(services: Services, person: Person, composed: NewBroadcast) -> bool:
    """The notice to its author alone, through the same outbox rendering, so it looks exactly as it will."""
    message = await message_of(services.db, composed)
    if message is None:
        return False
    now = services.clock.now()
    async with services.db.transaction() as conn:
        await outbox.enqueue(conn, now=now, recipients=[person.id], template=message.template,
                             params=message.params, buttons=message.buttons, lane=Lane.INTERACTIVE, urgent=True,
                             photo=composed.photo, document=composed.document)
    return True


async def preview_stored(services: Services, person: Person, broadcast_id: int) -> bool:
    """The preview of a notice already submitted, for its author or an admin deciding on it."""
    broadcast = await visible(services, person, broadcast_id)
    if broadcast is None:
        return False
    return await send_preview(services, person, _composed(broadcast))


def _composed(broadcast: Broadcast) -> NewBroadcast:
    return NewBroadcast(audience=broadcast.audience, topic=broadcast.topic, body=broadcast.body,
                        photo=broadcast.photo, document=broadcast.document, meeting_id=broadcast.meeting_id,
                        send_at=broadcast.send_at)


# ---- submitting ----------------------------------------------------------------------------------------


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"
    MEETING_GONE = "meeting_gone"
    PAST = "past"
    WRONG_STATE = "wrong_state"


@dataclass(frozen=True)
class Submitted:
    broadcast_id: int
    state: State


async def submit(services: Services, author: Person, composed: NewBroadcast) -> Submitted | Refusal:
    """Store the notice; it waits for approval, waits for its time, or starts going out now."""
    if await summary(services, author, composed.audience, composed.topic) is None:
        return Refusal.NOT_ALLOWED
    if composed.meeting_id is not None and await meeting_for_notice(services, author, composed.meeting_id) is None:
        return Refusal.MEETING_GONE
    now = services.clock.now()
    if composed.send_at is not None and composed.send_at <= now:
        return Refusal.PAST
    approval = needs_approval(author, await audiences.footprint(services.db, composed.audience))
    state = State.AWAITING_APPROVAL if approval else State.SCHEDULED
    async with services.db.transaction() as conn:
        broadcast_id = await store.insert(
            conn, created_by=author.id, audience=composed.audience, topic=composed.topic, body=composed.body,
            photo=composed.photo, document=composed.document, meeting_id=composed.meeting_id, state=state,
            send_at=composed.send_at, now=now, approved_by=None if approval else author.id,
        )
        await people.audit(conn, now, author.id, "broadcast.submit", str(broadcast_id), composed.audience.kind)
        if approval:
            await _ask_admins(services, conn, author, broadcast_id, composed, now)
        else:
            await _schedule_or_begin(services, conn, broadcast_id, composed.send_at, now)
        stored = await store.get(conn, broadcast_id)
    assert stored is not None
    return Submitted(broadcast_id, stored.state)


async def _schedule_or_begin(services: Services, conn: Connection, broadcast_id: int,
                             send_at: datetime | None, now: datetime) -> None:
    if send_at is not None and send_at > now:
        await timers.schedule(conn, kind=SEND, subject=str(broadcast_id), due_at=send_at)
    else:
        await _begin(services, conn, broadcast_id, now)


async def _ask_admins(services: Services, conn: Connection, author: Person, broadcast_id: int,
                      composed: NewBroadcast, now: datetime) -> None:
    admins = [p.id for p in await people.with_role(services.db, Role.ADMIN, Scope(kind=ScopeKind.STREET))]
    reach = await audiences.resolve(services.db, composed.audience)
    kind = audiences.kind_of(composed.audience.kind)
    assert kind is not None
    when: Param = composed.send_at if composed.send_at is not None else Tr(N_("as soon as approved"))
    await outbox.enqueue(
        conn, now=now, recipients=admins, lane=Lane.INTERACTIVE,
        template=N_("🗳 Notice #{id} from {author} waits for your approval.\nAudience: {kind} {names} — {people} "
                    "people, {groups} groups\nTopic: {topic}\nWhen: {when}\n\n{text}"),
        params={"id": broadcast_id, "author": author.name, "kind": Tr(kind.label),
                "names": ", ".join(await audiences.describe(services.db, composed.audience)),
                "people": len(reach.people), "groups": len(reach.chats), "topic": Tr(TOPIC_LABELS[composed.topic]),
                "when": when, "text": composed.body},
        buttons=[[Button(N_("✅ Approve"), button_data("ok", broadcast_id)),
                  Button(N_("✖️ Reject"), button_data("no", broadcast_id))],
                 [Button(N_("👁 Preview"), button_data("pv", broadcast_id))]],
        reason=(REASON + ".approval", broadcast_id),
    )


# ---- approving, cancelling, stopping ----------------------------------------------------------------------


async def approve(services: Services, admin: Person, broadcast_id: int) -> Refusal | State:
    """An admin approves: it goes out now, or at its time. The author's right to send is checked again."""
    if not may_approve(admin):
        return Refusal.NOT_ALLOWED
    broadcast = await store.get(services.db, broadcast_id)
    if broadcast is None or broadcast.state is not State.AWAITING_APPROVAL:
        return Refusal.WRONG_STATE
    author = None if broadcast.created_by is None else await people.by_id(services.db, broadcast.created_by)
    if author is None or not await _allowed(services, author, broadcast.audience):
        return Refusal.NOT_ALLOWED
    now = services.clock.now()
    async with services.db.transaction() as conn:
        if not await store.move_state(conn, broadcast_id, [State.AWAITING_APPROVAL], State.SCHEDULED, now,
                                      approved_by=admin.id, decided_at=now):
            return Refusal.WRONG_STATE
        await _tell_author(conn, broadcast, now, N_("✅ Your notice #{id} was approved by {admin}."),
                           {"admin": admin.name})
        await people.audit(conn, now, admin.id, "broadcast.approve", str(broadcast_id))
        send_at = broadcast.send_at if broadcast.send_at is not None and broadcast.send_at > now else None
        await _schedule_or_begin(services, conn, broadcast_id, send_at, now)
        stored = await store.get(conn, broadcast_id)
    assert stored is not None
    return stored.state


async def reject(services: Services, admin: Person, broadcast_id: int) -> Refusal | State:
    if not may_approve(admin):
        return Refusal.NOT_ALLOWED
    now = services.clock.now()
    async with services.db.transaction() as conn:
        broadcast = await store.get(conn, broadcast_id)
        if broadcast is None or not await store.move_state(conn, broadcast_id, [State.AWAITING_APPROVAL],
                                                           State.REJECTED, now, approved_by=admin.id,
                                                           decided_at=now):
            return Refusal.WRONG_STATE
        await _tell_author(conn, broadcast, now, N_("✖️ Your notice #{id} was not approved by {admin}. It will not "
                                                    "be sent."), {"admin": admin.name})
        await people.audit(conn, now, admin.id, "broadcast.reject", str(broadcast_id))
    return State.REJECTED


async def _tell_author(conn: Connection, broadcast: Broadcast, now: datetime, template: str,
                       params: dict[str, Param]) -> None:
    if broadcast.created_by is not None:
        await outbox.enqueue(conn, now=now, recipients=[broadcast.created_by], lane=Lane.INTERACTIVE,
                             template=template, params={"id": broadcast.id, **params},
                             buttons=[[Button(N_("🗂 Open the notice"), button_data("v", broadcast.id))]])


def _may_manage(person: Person, broadcast: Broadcast) -> bool:
    return may_send(person) and (broadcast.created_by == person.id or person.has(Role.ADMIN))


async def visible(services: Services, person: Person, broadcast_id: int) -> Broadcast | None:
    """A notice its author or a street admin may see; None for anyone else (or a forged id)."""
    broadcast = await store.get(services.db, broadcast_id)
    return broadcast if broadcast is not None and _may_manage(person, broadcast) else None


async def cancel(services: Services, person: Person, broadcast_id: int) -> Refusal | State:
    """Cancel a notice that has not started going out (waiting for approval or for its time)."""
    broadcast = await visible(services, person, broadcast_id)
    if broadcast is None:
        return Refusal.NOT_ALLOWED
    now = services.clock.now()
    async with services.db.transaction() as conn:
        if not await store.move_state(conn, broadcast_id, [State.AWAITING_APPROVAL, State.SCHEDULED],
                                      State.CANCELLED, now):
            return Refusal.WRONG_STATE
        await timers.cancel(conn, kind=SEND, subject=str(broadcast_id))
        await people.audit(conn, now, person.id, "broadcast.cancel", str(broadcast_id))
    return State.CANCELLED


async def stop(services: Services, person: Person, broadcast_id: int) -> Refusal | State:
    """Stop a notice going out: rows still waiting are dropped by the drop check; what was sent stays."""
    broadcast = await visible(services, person, broadcast_id)
    if broadcast is None:
        return Refusal.NOT_ALLOWED
    now = services.clock.now()
    async with services.db.transaction() as conn:
        if not await store.move_state(conn, broadcast_id, [State.SENDING], State.STOPPED, now):
            return Refusal.WRONG_STATE
        await people.audit(conn, now, person.id, "broadcast.stop", str(broadcast_id))
    return State.STOPPED


# ---- going out -------------------------------------------------------------------------------------------


async def _begin(services: Services, conn: Connection, broadcast_id: int, now: datetime) -> None:
    """Resolve the audience as it is now, queue one row per person and group, and watch it go out."""
    broadcast = await store.get(conn, broadcast_id)
    if broadcast is None or broadcast.state is not State.SCHEDULED:
        return
    author = None if broadcast.created_by is None else await people.by_id(services.db, broadcast.created_by)
    if author is None or not await _allowed(services, author, broadcast.audience):
        await store.move_state(conn, broadcast_id, [State.SCHEDULED], State.CANCELLED, now)
        log.warning("broadcast %d cancelled: its author may no longer send to its audience", broadcast_id)
        await _tell_author(conn, broadcast, now, N_("⚠️ Your notice #{id} was not sent: you may no longer send to "
                                                    "this audience."), {})
        return
    message = await message_of(conn, broadcast)
    meeting = None if broadcast.meeting_id is None else await meeting_store.get(conn, broadcast.meeting_id)
    if message is None or (meeting is not None and (not meeting.open or now >= meeting.starts_at)):
        await store.move_state(conn, broadcast_id, [State.SCHEDULED], State.CANCELLED, now)
        await _tell_author(conn, broadcast, now, N_("⚠️ Your notice #{id} was not sent: its meeting was cancelled "
                                                    "or has started."), {})
        return
    reach = await audiences.resolve(services.db, broadcast.audience)
    muted = await store.muting(conn, broadcast.topic) if broadcast.topic is not Topic.SAFETY else set()
    recipients = [p for p in reach.people if p not in muted]
    lane, urgent = _lane(broadcast.topic)
    rows = await outbox.enqueue(
        conn, now=now, recipients=recipients, chat_ids=reach.chats, template=message.template, params=message.params,
        buttons=message.buttons, lane=lane, urgent=urgent, reason=(REASON, broadcast_id), photo=broadcast.photo,
        document=broadcast.document,
    )
    await store.move_state(conn, broadcast_id, [State.SCHEDULED], State.SENDING, now, started_at=now,
                           people_count=len(recipients), group_count=len(reach.chats),
                           muted_count=len(reach.people) - len(recipients),
                           first_row=rows[0] if rows else None, last_row=rows[-1] if rows else None)
    await timers.schedule(conn, kind=CHECK, subject=str(broadcast_id), due_at=now)


def _interval(services: Services) -> timedelta:
    return timedelta(seconds=services.settings.broadcast_progress_seconds)


async def _on_send_due(services: Services, conn: Connection, row: timers.TimerRow) -> None:
    await _begin(services, conn, int(row.subject), services.clock.now())


async def _on_check(services: Services, conn: Connection, row: timers.TimerRow) -> None:
    """Still rows waiting: look again later. All out: done, and the author gets the final report."""
    broadcast = await store.get(conn, int(row.subject))
    if broadcast is None or broadcast.state not in {State.SENDING, State.STOPPED}:
        return
    now = services.clock.now()
    counts = await store.progress(conn, broadcast)
    if counts.waiting:
        await timers.schedule(conn, kind=CHECK, subject=row.subject, due_at=now + _interval(services))
        return
    await store.move_state(conn, broadcast.id, [State.SENDING], State.DONE, now)
    await _tell_author(
        conn, broadcast, now,
        N_("📊 Notice #{id} is finished: sent {sent}, failed {failed}, unreachable {unreachable}, not sent because "
           "it was stopped {dropped}. Muted this topic: {muted}."),
        {"sent": counts.sent, "failed": counts.failed, "unreachable": counts.unreachable,
         "dropped": counts.dropped, "muted": broadcast.muted_count},
    )


async def _stopped(db: Database, broadcast_id: int) -> bool:
    """Drop a row of a notice that was stopped, or whose meeting was cancelled or has begun meanwhile."""
    broadcast = await store.get(db, broadcast_id)
    if broadcast is None or broadcast.state is State.STOPPED:
        return True
    if broadcast.meeting_id is None:
        return False
    meeting = await meeting_store.get(db, broadcast.meeting_id)
    return meeting is None or not meeting.open


async def _decided(db: Database, broadcast_id: int) -> bool:
    """An approval request another admin has already answered need not reach the rest."""
    broadcast = await store.get(db, broadcast_id)
    return broadcast is None or broadcast.state is not State.AWAITING_APPROVAL


timers.register_timer(SEND, _on_send_due)
timers.register_timer(CHECK, _on_check)
outbox.register_drop_check(REASON, _stopped)
outbox.register_drop_check(REASON + ".approval", _decided)


# ---- progress and lists ----------------------------------------------------------------------------------


async def progress(services: Services, broadcast: Broadcast) -> Progress:
    return await store.progress(services.db, broadcast)


@dataclass(frozen=True)
class ProgressView:
    broadcast: Broadcast
    progress: Progress
    author_telegram_id: int | None
    author_locale: str | None
    finished: bool


async def progress_due(services: Services) -> list[ProgressView]:
    """Notices whose progress message should be shown or brought up to date now."""
    now = services.clock.now()
    views: list[ProgressView] = []
    for broadcast in await store.needing_progress(services.db):
        author = None if broadcast.created_by is None else await people.by_id(services.db, broadcast.created_by)
        counts = await store.progress(services.db, broadcast)
        finished = broadcast.state is State.DONE or (broadcast.state is State.STOPPED and not counts.waiting)
        recent = broadcast.progress_at is not None and now - broadcast.progress_at < _interval(services)
        if recent and not finished:
            continue
        views.append(ProgressView(broadcast, counts, None if author is None else author.telegram_id,
                                  None if author is None else author.locale, finished))
    return views


async def record_progress(services: Services, broadcast_id: int, *, chat_id: int, message_id: int, text: str,
                          final: bool) -> None:
    async with services.db.transaction() as conn:
        await store.set_progress_message(conn, broadcast_id, chat_id=chat_id, message_id=message_id, text=text,
                                         now=services.clock.now(), final=final)


async def mine(services: Services, person: Person) -> list[Broadcast]:
    return await store.by_author(services.db, person.id) if may_send(person) else []


async def awaiting_approval(services: Services, admin: Person) -> list[Broadcast]:
    return await store.in_states(services.db, State.AWAITING_APPROVAL) if may_approve(admin) else []


# ---- notification choices ------------------------------------------------------------------------------


async def muted_topics(services: Services, person: Person) -> set[Topic]:
    return await store.muted_topics(services.db, person.id)


async def toggle_topic(services: Services, person: Person, topic: Topic) -> set[Topic]:
    """Turn a topic off or back on; safety is always on and cannot be turned off."""
    if topic is not Topic.SAFETY:
        muted = topic not in await store.muted_topics(services.db, person.id)
        async with services.db.transaction() as conn:
            await store.set_muted(conn, person.id, topic, muted, services.clock.now())
    return await store.muted_topics(services.db, person.id)


async def _export_mutes(db: Database, person_id: int) -> list[dict[str, object]]:
    return [dict(r) for r in await db.fetch_all(
        "SELECT topic, muted_at FROM notification_mutes WHERE person_id = ?", (person_id,))]


async def _erase_mutes(conn: Connection, person_id: int) -> None:
    await conn.execute("DELETE FROM notification_mutes WHERE person_id = ?", (person_id,))


accounts.register_personal_data("notification_choices", _export_mutes, _erase_mutes)


# ---- linked Telegram groups -----------------------------------------------------------------------------


class LinkOutcome(StrEnum):
    LINKED = "linked"
    NOT_ALLOWED = "not_allowed"  # not an organizer or admin, or the place is outside their area
    UNKNOWN_PLACE = "unknown_place"


@dataclass(frozen=True)
class LinkResult:
    outcome: LinkOutcome
    place: str = ""


async def linkable_grids(services: Services, person: Person) -> list[audiences.Choice]:
    """Grids this person may link a group to (buildings are linked by their code)."""
    return await audiences.choices(services.db, person, audiences.GRID) if may_send(person) else []


async def link_group(services: Services, person: Person, chat_id: int, title: str, *, grid_id: int | None = None,
                     code: str | None = None) -> LinkResult:
    """Link a group to a grid (by id or code) or a building (by code) inside the person's own area."""
    if not may_send(person):
        return LinkResult(LinkOutcome.NOT_ALLOWED)
    place = await _place(services.db, grid_id, code)
    if place is None:
        return LinkResult(LinkOutcome.UNKNOWN_PLACE)
    kind, place_id, name = place
    footprint = await audiences.footprint(services.db, Audience(kind=kind, ids=(place_id,)))
    if not may_target(person, footprint):
        return LinkResult(LinkOutcome.NOT_ALLOWED)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        await store.link(conn, chat_id, title, kind, place_id, person.id, now)
        await people.audit(conn, now, person.id, "group.link", str(chat_id), f"{kind}:{place_id}")
    return LinkResult(LinkOutcome.LINKED, name)


async def _place(db: Database, grid_id: int | None, code: str | None) -> tuple[str, int, str] | None:
    if grid_id is not None:
        row = await db.fetch_one("SELECT id, name FROM grids WHERE id = ?", (grid_id,))
        return None if row is None else (audiences.GRID, row["id"], row["name"])
    cleaned = (code or "").strip()
    for kind, table in ((audiences.GRID, "grids"), (audiences.BUILDING, "buildings")):
        row = await db.fetch_one(f"SELECT id, name FROM {table} WHERE code = ? COLLATE NOCASE", (cleaned,))
        if row is not None:
            return kind, row["id"], row["name"]
    return None


async def unlink_group(services: Services, person: Person, chat_id: int) -> bool:
    """Unlink a group the person may send to; False when it was not linked or is outside their area."""
    group = await store.group(services.db, chat_id)
    if group is None or group.scope_kind is None or not may_target(
            person, None if group.community_id is None else frozenset({group.community_id})):
        return False
    now = services.clock.now()
    async with services.db.transaction() as conn:
        unlinked = await store.unlink(conn, chat_id, now)
        await people.audit(conn, now, person.id, "group.unlink", str(chat_id))
    return unlinked


async def bot_membership(services: Services, chat_id: int, title: str, member: bool) -> None:
    """The bot was added to a group or removed from it: a removed group gets no notice until added back."""
    async with services.db.transaction() as conn:
        await store.bot_member(conn, chat_id, title, member, services.clock.now())


async def group_migrated(services: Services, old_chat_id: int, new_chat_id: int) -> None:
    async with services.db.transaction() as conn:
        await store.migrate_group(conn, old_chat_id, new_chat_id, services.clock.now())

"""Notices to chosen audiences: topics, states, who may send where, when an admin must approve, progress.

An audience is a kind ("community", "grid", a deliberation's eligible people…) and the ids picked
within it; `bot.services.audiences` resolves it to people and group chats. What an audience touches
is its footprint: the set of communities it reaches, or None for the whole street. Organizers send
within their own communities; anything beyond one community waits for a street admin's approval.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from bot.domain.people import Person, Role, ScopeKind

TEXT_MAX = 3500  # the notice's own words; the header and Telegram's 4096 leave room
CAPTION_MAX = 900  # with a photo or a document Telegram allows 1024 characters of caption
SENDER_ROLES = frozenset({Role.ORGANIZER, Role.ADMIN})

Footprint = frozenset[int] | None  # communities reached; None: the whole street


class Topic(StrEnum):
    MEETINGS = "meetings"
    COMMUNITY = "community"
    VOLUNTEERING = "volunteering"
    SAFETY = "safety"


MUTABLE_TOPICS = (Topic.MEETINGS, Topic.COMMUNITY, Topic.VOLUNTEERING)  # safety always arrives


class State(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


FINISHED_STATES = frozenset({State.DONE, State.STOPPED, State.CANCELLED, State.REJECTED})


class Audience(BaseModel, frozen=True):
    kind: str
    ids: tuple[int, ...] = ()


class Broadcast(BaseModel):
    id: int
    created_by: int | None
    audience: Audience
    topic: Topic
    body: str
    photo: str | None = None
    document: str | None = None
    meeting_id: int | None = None
    state: State
    send_at: datetime | None = None
    approved_by: int | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    people_count: int = 0
    group_count: int = 0
    muted_count: int = 0
    first_row: int | None = None
    last_row: int | None = None
    progress_chat_id: int | None = None
    progress_message_id: int | None = None
    progress_text: str | None = None
    progress_at: datetime | None = None
    progress_final: bool = False


class Progress(BaseModel, frozen=True):
    """How its outbox rows stand: sent, waiting (queued or in flight), failed (gave up after retries),
    unreachable (blocked the bot, no account), dropped (not sent because it was stopped)."""

    sent: int = 0
    waiting: int = 0
    failed: int = 0
    unreachable: int = 0
    dropped: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.waiting + self.failed + self.unreachable + self.dropped

    @classmethod
    def from_states(cls, counts: dict[str, int]) -> Progress:
        """Outbox row states → progress (rows are pending, sending, sent, dropped, failed or dead)."""
        return cls(sent=counts.get("sent", 0), waiting=counts.get("pending", 0) + counts.get("sending", 0),
                   failed=counts.get("dead", 0), unreachable=counts.get("failed", 0),
                   dropped=counts.get("dropped", 0))


def area(person: Person) -> Footprint:
    """Where `person` may send notices: None for the whole street, else their communities (maybe none)."""
    if person.has(Role.ADMIN):
        return None
    communities: set[int] = set()
    for scope in person.scopes_for(Role.ORGANIZER):
        if scope.kind is ScopeKind.STREET:
            return None
        if scope.kind is ScopeKind.COMMUNITY:
            communities.add(scope.id)
    return frozenset(communities)


def may_send(person: Person | None) -> bool:
    return person is not None and person.onboarded and person.has(*SENDER_ROLES) and area(person) != frozenset()


def may_target(person: Person, footprint: Footprint) -> bool:
    """Is the whole audience inside the person's own area?"""
    if not may_send(person):
        return False
    allowed = area(person)
    if allowed is None:
        return True
    return footprint is not None and footprint <= allowed


def needs_approval(author: Person, footprint: Footprint) -> bool:
    """Beyond one community a street admin approves first; an admin's own notice is approved by sending."""
    wide = footprint is None or len(footprint) > 1
    return wide and not author.has(Role.ADMIN)


def may_approve(person: Person | None) -> bool:
    return person is not None and person.onboarded and person.has(Role.ADMIN)


def clean_body(text: str | None, *, with_media: bool) -> str | None:
    """The notice's words trimmed; None when too long. Empty is allowed with a photo or a document."""
    value = (text or "").strip()
    limit = CAPTION_MAX if with_media else TEXT_MAX
    if len(value) > limit or (not value and not with_media):
        return None
    return value

"""The outbox: how a use case says "send this to these people" without touching Telegram.

`enqueue` writes one row per recipient in the caller's transaction, so a push exists exactly when the
change that caused it exists, and nothing is sent before commit. The sender (bot/delivery/sender.py)
renders each row when it sends it: the recipient's language and the template's parameters are read
then, so a person who switched language meanwhile gets the new one, and a row whose reason is gone
(a reminder for a task already accepted) is dropped by the check its feature registered. Parameters that
show what the store holds about a person (a reporter's name and phone, their words) are read then too,
through the refresh their reason's feature registered: a person who erased their data (/deleteme) after
the row was queued must not have it sent, while the message itself (the task to fix) still goes.

Parameters: plain values are shown as given (HTML-escaped); `Tr(msgid)` is translated into the
recipient's language; a `datetime` is shown in the street's timezone in the recipient's format;
`Relative(datetime)` is shown as "in 2 hours" / "2 hours overdue" as of the moment of sending.

A row's content (its parameters, buttons and attachment: names, phones, residents' words) is kept only
while it may still be needed. A dropped row is never sent, so `drop` clears it at once; rows to a person
who erased their data lose it and their Telegram chat at erasure; and a daily sweep (`RETENTION`) clears
it from every row closed more than OUTBOX_KEEP_DAYS ago. The rows themselves stay: a notice's progress
and the delivery figures are counted from their states.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import re
import string
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.clock import from_db, to_db
from bot.i18n import translator
from bot.storage.db import Connection, Database, Row
from bot.timers.engine import TimerRow, register_timer, schedule, timer_pending
from bot.ui.callbacks import MAX_BYTES as CALLBACK_MAX_BYTES
from bot.ui.timefmt import format_moment, format_relative

if TYPE_CHECKING:
    from bot.services.container import Services

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ELLIPSIS = "…"


class Lane(IntEnum):
    """Interactive pushes (a task for a worker, an answer to a reporter) go before bulk notices."""

    INTERACTIVE = 0
    BULK = 1

    @property
    def limiter_lane(self) -> str:
        """The lane name the flood limiter reads from `rate_limit_args`."""
        return self.name.lower()


@dataclass(frozen=True)
class Tr:
    """A parameter that is itself a message id, translated for each recipient (mark it with N_)."""

    msgid: str


@dataclass(frozen=True)
class Relative:
    """A deadline shown relative to the moment the message is sent ("in 2 hours")."""

    moment: datetime


@dataclass(frozen=True)
class Button:
    """An inline button: the label is a message id translated at render, the data an opaque id ≤ 64 bytes."""

    label: str
    callback_data: str


Param = str | int | float | bool | None | datetime | Tr | Relative
DropCheck = Callable[[Database, int], Awaitable[bool]]
DeliveredHook = Callable[[Connection, int, datetime], Awaitable[None]]
Refresh = Callable[[Database, int], Awaitable[dict[str, Param]]]

_drop_checks: dict[str, DropCheck] = {}
_delivered_hooks: dict[str, DeliveredHook] = {}
_refreshes: dict[str, Refresh] = {}


def register_drop_check(kind: str, check: DropCheck) -> None:
    """Before sending a row with `reason=(kind, id)` the sender asks `check(db, id)`; True drops it."""
    _drop_checks[kind] = check


def register_delivered_hook(kind: str, hook: DeliveredHook) -> None:
    """`hook(conn, id, delivered_at)` runs in the transaction that records a delivery with
    `on_delivered=(kind, id)`: windows that wait for a person start when the message reached them."""
    _delivered_hooks[kind] = hook


def register_refresh(kind: str, refresh: Refresh) -> None:
    """Before sending a row with `reason=(kind, id)` the sender asks `refresh(db, id)` for the parameters as
    the store holds them now; they replace the row's parameters of the same names (the others are kept).
    A caller may queue such a parameter as None, so that the row never keeps it at all."""
    _refreshes[kind] = refresh


async def refreshed(db: Database, message: OutboxMessage) -> OutboxMessage:
    """`message` with the parameters its reason's refresh reads from the store now (unchanged without one)."""
    if message.reason is None or (refresh := _refreshes.get(message.reason[0])) is None:
        return message
    fresh = await refresh(db, message.reason[1])
    current = {key: _encode(key, value) for key, value in fresh.items() if key in message.params}
    return dataclasses.replace(message, params={**message.params, **current})


def drop_check(kind: str) -> DropCheck | None:
    return _drop_checks.get(kind)


def delivered_hook(kind: str) -> DeliveredHook | None:
    return _delivered_hooks.get(kind)


class OutboxError(ValueError):
    """A message cannot be queued as asked (a programming error the caller's test should catch)."""


async def enqueue(
    conn: Connection,
    *,
    now: datetime,
    recipients: Iterable[int],
    template: str,
    params: dict[str, Param] | None = None,
    buttons: list[list[Button]] | None = None,
    lane: Lane = Lane.INTERACTIVE,
    not_before: datetime | None = None,
    urgent: bool = False,
    reason: tuple[str, int] | None = None,
    photo: str | None = None,
    document: str | None = None,
    voice: str | None = None,
    chat_ids: Iterable[int] = (),
    on_delivered: tuple[str, int] | None = None,
) -> list[int]:
    """Queue one message per recipient (people ids) and per group chat id; returns the row ids.

    Runs in the caller's transaction (`conn` from `db.transaction()`). Urgent rows ignore quiet hours.
    A message carries at most one attachment (a Telegram file_id): `photo`, `document` or `voice`; the text
    becomes its caption.
    """
    params = params or {}
    _check_template(template, params)
    if sum(file_id is not None for file_id in (photo, document, voice)) > 1:
        raise OutboxError("a message carries at most one of a photo, a document or a voice note")
    encoded_params = json.dumps({key: _encode(key, value) for key, value in params.items()},
                                ensure_ascii=False)
    encoded_buttons = _encode_buttons(buttons)
    due_at = to_db(not_before if not_before is not None and not_before > now else now)
    reason_kind, reason_id = reason if reason is not None else (None, None)
    delivered_kind, delivered_id = on_delivered if on_delivered is not None else (None, None)
    targets = [(person, None) for person in dict.fromkeys(recipients)]
    targets += [(None, chat) for chat in dict.fromkeys(chat_ids)]
    if not targets:
        return []
    await conn.executemany(
        "INSERT INTO outbox (lane, person_id, chat_id, template, params, buttons, photo, document, voice, "
        "urgent, reason_kind, reason_id, delivered_kind, delivered_id, created_at, due_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (int(lane), person, chat, template, encoded_params, encoded_buttons, photo, document, voice,
             int(urgent), reason_kind, reason_id, delivered_kind, delivered_id, to_db(now), due_at)
            for person, chat in targets
        ],
    )
    # One writer inserting into a table without AUTOINCREMENT gets consecutive rowids (max + 1 each).
    async with conn.execute("SELECT last_insert_rowid()") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    last = int(row[0])
    return list(range(last - len(targets) + 1, last + 1))


async def drop_carrying(conn: Connection, file_ids: Iterable[str], reason: str) -> None:
    """Drop queued rows that carry any of these files (a photo, document or voice note someone erased), so
    nothing gone from the store goes out afterwards; rows already in flight cannot be called back."""
    ids = list(dict.fromkeys(file_ids))
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    await drop(
        conn, reason,
        f"state = 'pending' AND (photo IN ({marks}) OR document IN ({marks}) OR voice IN ({marks}))",
        (*ids, *ids, *ids),
    )


def _check_template(template: str, params: dict[str, Param]) -> None:
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise OutboxError(f"template {template!r} is not a format string: {exc}") from None
    missing = names - set(params)
    if missing:
        raise OutboxError(f"template {template!r} needs parameters {sorted(missing)}")


def _encode(key: str, value: Param) -> Any:
    if isinstance(value, Tr):
        return {"$tr": value.msgid}
    if isinstance(value, Relative):
        return {"$rel": to_db(value.moment)}
    if isinstance(value, datetime):
        return {"$dt": to_db(value)}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise OutboxError(f"parameter {key!r} has a type the outbox cannot store: {type(value).__name__}")


def _encode_buttons(buttons: list[list[Button]] | None) -> str | None:
    if not buttons:
        return None
    for button in (button for row in buttons for button in row):
        size = len(button.callback_data.encode("utf-8"))
        if not 1 <= size <= CALLBACK_MAX_BYTES:
            raise OutboxError(f"callback data must be 1–{CALLBACK_MAX_BYTES} bytes: {button.callback_data!r}")
    return json.dumps([[[b.label, b.callback_data] for b in row] for row in buttons], ensure_ascii=False)


@dataclass(frozen=True)
class OutboxMessage:
    """A queued row as the sender reads it (with the recipient's chat and language joined in)."""

    id: int
    lane: Lane
    person_id: int | None
    chat_id: int | None
    template: str
    params: dict[str, Any]
    buttons: list[list[list[str]]]
    photo: str | None
    document: str | None
    voice: str | None
    urgent: bool
    reason: tuple[str, int] | None
    on_delivered: tuple[str, int] | None
    attempts: int

    @classmethod
    def from_row(cls, row: Row) -> OutboxMessage:
        return cls(
            id=row["id"], lane=Lane(row["lane"]), person_id=row["person_id"], chat_id=row["chat_id"],
            template=row["template"], params=json.loads(row["params"]),
            buttons=json.loads(row["buttons"]) if row["buttons"] else [],
            photo=row["photo"], document=row["document"], voice=row["voice"], urgent=bool(row["urgent"]),
            reason=(row["reason_kind"], row["reason_id"]) if row["reason_kind"] else None,
            on_delivered=(row["delivered_kind"], row["delivered_id"]) if row["delivered_kind"] else None,
            attempts=row["attempts"],
        )


@dataclass(frozen=True)
class Rendered:
    """What goes to Telegram: HTML text (or caption), inline keyboard as (label, data), attachment."""

    text: str
    keyboard: list[list[tuple[str, str]]]
    photo: str | None
    document: str | None
    voice: str | None


def render(message: OutboxMessage, *, locale: str, tz: ZoneInfo, now: datetime) -> Rendered:
    """The message in the recipient's language, parameters escaped, cut to Telegram's length limit."""
    _ = translator(locale)
    values = {key: _decode(value, locale, tz, now) for key, value in message.params.items()}
    limit = CAPTION_LIMIT if message.photo or message.document or message.voice else TEXT_LIMIT
    text = _fit(_(message.template), values, limit)
    keyboard = [[(_(label), data) for label, data in row] for row in message.buttons]
    return Rendered(
        text=text, keyboard=keyboard, photo=message.photo, document=message.document, voice=message.voice
    )


def _decode(value: Any, locale: str, tz: ZoneInfo, now: datetime) -> str:
    if isinstance(value, dict):
        if "$tr" in value:
            return translator(locale)(value["$tr"])
        if "$dt" in value:
            return format_moment(from_db(value["$dt"]), locale, tz)
        if "$rel" in value:
            return format_relative(from_db(value["$rel"]), now, locale)
    return "" if value is None else str(value)


def _fit(template: str, values: dict[str, str], limit: int) -> str:
    """Format with escaped values; when too long, shorten the longest value (a typed description).

    Telegram's limit counts the text people see, not its HTML: a tag counts nothing and `&lt;` one."""
    while True:
        text = template.format_map({key: html.escape(value) for key, value in values.items()})
        overflow = _telegram_length(html.unescape(_TAG.sub("", text))) - limit
        longest = max(values, key=lambda key: len(values[key]), default=None)
        if overflow <= 0 or longest is None or len(values[longest]) <= 1:
            return text
        keep = max(len(values[longest]) - overflow - 1, 0)
        values[longest] = values[longest][:keep] + ELLIPSIS


# Values are escaped, so any '<' left in a formatted message opens one of the template's own tags.
_TAG = re.compile(r"<[^>]*>")


def _telegram_length(text: str) -> int:
    """Telegram counts UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be delivered, for the admins' list."""

    id: int
    person_id: int | None
    chat_id: int | None
    template: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime


async def dead_letters(db: Database, *, limit: int = 50) -> list[DeadLetter]:
    """Newest first: rows given up after their last attempt ('dead') or to an unreachable chat ('failed')."""
    rows = await db.fetch_all(
        "SELECT id, person_id, chat_id, template, state, attempts, last_error, created_at FROM outbox "
        "WHERE state IN ('failed', 'dead') ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    return [
        DeadLetter(
            id=r["id"], person_id=r["person_id"], chat_id=r["chat_id"], template=r["template"],
            state=r["state"], attempts=r["attempts"], last_error=r["last_error"],
            created_at=from_db(r["created_at"]),
        )
        for r in rows
    ]


# ---- what the outbox keeps ------------------------------------------------------------------------------

RETENTION = "outbox.retention"  # timer kind of the daily sweep (one row, subject RETENTION_SUBJECT)
RETENTION_SUBJECT = "outbox"
RETENTION_BATCH = 5000  # rows cleared per transaction, so a large backlog never holds the writer long
ERASED = "the recipient erased their data"
# What a row shows and carries: parameters (names, phones, residents' words), buttons, attachment.
_CLEARED = "params = '{}', buttons = NULL, photo = NULL, document = NULL, voice = NULL"
# The rows still holding any of it; the same expression as the partial index outbox_with_content, so
# the sweep reads those rows alone, not every row the outbox ever held.
_HAS_CONTENT = (
    "(params <> '{}' OR buttons IS NOT NULL OR photo IS NOT NULL OR document IS NOT NULL OR voice IS NOT NULL)"
)


async def drop(conn: Connection, reason: str, where: str, args: Sequence[Any] = ()) -> None:
    """Close the rows `where` picks out as 'dropped', clearing their content in the same UPDATE: a dropped
    row is never sent, and what it would have shown may be words someone has since erased. Every drop
    goes through here."""
    await conn.execute(
        f"UPDATE outbox SET state = 'dropped', last_error = ?, {_CLEARED} WHERE {where}", (reason, *args)
    )


async def export_person(db: Database, person_id: int) -> list[dict[str, Any]]:
    """/mydata lists the messages still queued to the person: when, and which message. Their parameters
    stay out, as they show what the store holds about others (a reporter's name on a worker's task)."""
    rows = await db.fetch_all(
        "SELECT created_at, due_at, state, template FROM outbox "
        "WHERE person_id = ? AND state IN ('pending', 'sending') ORDER BY id",
        (person_id,),
    )
    return [dict(row) for row in rows]


async def erase_person(conn: Connection, person_id: int) -> None:
    """Messages to a person who erased their data: those queued or in flight are dropped now (the sender
    records no outcome for a row closed while in flight), and no row keeps what it showed them or the
    Telegram chat it reached. The rows stay: a notice's progress counts them."""
    await drop(conn, ERASED, "person_id = ? AND state IN ('pending', 'sending')", (person_id,))
    await conn.execute(
        f"UPDATE outbox SET {_CLEARED}, telegram_chat_id = NULL "
        f"WHERE person_id = ? AND ({_HAS_CONTENT} OR telegram_chat_id IS NOT NULL)",
        (person_id,),
    )


async def ensure_retention(services: Services) -> bool:
    """Create the daily sweep's row unless one is pending (start-up calls this; idempotent). The first
    sweep runs at once, so a store that kept everything so far is cleared on the first start. True when
    a row was created."""
    async with services.db.transaction() as conn:
        if await timer_pending(conn, RETENTION, RETENTION_SUBJECT):
            return False
        await schedule(conn, kind=RETENTION, subject=RETENTION_SUBJECT, due_at=services.clock.now())
        return True


async def _sweep(services: Services, conn: Connection, timer: TimerRow) -> None:
    """Clear the content of up to RETENTION_BATCH rows closed (sent, dropped, given up) more than
    OUTBOX_KEEP_DAYS ago. A full batch means more may wait: the row is due again at once and the engine
    fires it in a transaction of its own; otherwise the next sweep is a day later.

    Rows given up ('failed', 'dead') are cleared too: nothing sends them again, and /deadletters shows
    their template and error, which stay."""
    now = services.clock.now()
    kept_since = now - timedelta(days=services.settings.outbox_keep_days)
    cursor = await conn.execute(
        f"UPDATE outbox SET {_CLEARED} WHERE id IN (SELECT id FROM outbox WHERE {_HAS_CONTENT} "
        "AND state IN ('sent', 'dropped', 'failed', 'dead') AND COALESCE(delivered_at, created_at) < ? "
        "ORDER BY id LIMIT ?)",
        (to_db(kept_since), RETENTION_BATCH),
    )
    cleared = cursor.rowcount
    if cleared:
        log.info("outbox: cleared the content of %d rows closed before %s", cleared, kept_since)
    more = cleared >= RETENTION_BATCH
    await schedule(
        conn, kind=RETENTION, subject=RETENTION_SUBJECT, due_at=now if more else now + timedelta(days=1)
    )


register_timer(RETENTION, _sweep)

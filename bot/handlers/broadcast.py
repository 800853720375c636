"""/broadcast: a guided flow to send a notice to exactly the people concerned.

Audience (the kinds registered in bot.services.audiences, with how many people and groups it reaches)
→ topic → text, optionally with a photo or a document → a preview that is the real message, sent to
the author through the outbox → send now, or at a set time. Beyond one community a street admin
approves first. While it goes out, one progress message (sent / waiting / failed / unreachable) is
edited in place every `BROADCAST_PROGRESS_SECONDS` at most, by a JobQueue tick that reads the store;
the author then gets a final report. A scheduled notice can be cancelled, a running one stopped.

Non-flow buttons: `bc:<action>[:<id>]`. Every step and every press asks the service, which checks
again who may send to whom.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.clock import from_db, to_db
from bot.domain.broadcasts import (
    CAPTION_MAX,
    SENDER_ROLES,
    TEXT_MAX,
    Audience,
    Broadcast,
    Progress,
    State,
    Topic,
    clean_body,
    may_approve,
    may_send,
)
from bot.handlers import flows, menu
from bot.handlers.common import EXPIRED, Ctx, routed
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.handlers.times import read_future
from bot.i18n import N_, translator
from bot.runtime import services_of
from bot.services import audiences
from bot.services import broadcasts as service
from bot.services.broadcasts import CALLBACK, TOPIC_LABELS, NewBroadcast, ReachSummary, Refusal, button_data
from bot.storage.drafts import Draft
from bot.ui.callbacks import int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline, paginated
from bot.ui.timefmt import format_moment

log = logging.getLogger(__name__)

FLOW = "broadcast"
NOT_YOURS = N_("This notice is not yours to manage (or it no longer exists).")
NOT_ALLOWED = N_("You may not send notices to this audience. Organizers send within their own community; "
                 "street admins to the whole street.")
Row = list[tuple[str, str]]

STATE_LABELS: dict[State, str] = {
    State.AWAITING_APPROVAL: N_("🗳 waiting for a street admin's approval"),
    State.SCHEDULED: N_("🕒 scheduled"),
    State.SENDING: N_("📤 going out"),
    State.DONE: N_("✅ sent"),
    State.STOPPED: N_("⏹ stopped"),
    State.CANCELLED: N_("❌ cancelled"),
    State.REJECTED: N_("✖️ not approved"),
}
STATE_MARKS = {State.AWAITING_APPROVAL: "🗳", State.SCHEDULED: "🕒", State.SENDING: "📤", State.DONE: "✅",
               State.STOPPED: "⏹", State.CANCELLED: "❌", State.REJECTED: "✖️"}
REFUSALS: dict[Refusal, str] = {
    Refusal.NOT_ALLOWED: NOT_ALLOWED,
    Refusal.MEETING_GONE: N_("This meeting was cancelled or has started; its notice can no longer be sent."),
    Refusal.PAST: N_("That time has already passed. Please type a time in the future."),
    Refusal.WRONG_STATE: N_("This notice has moved on meanwhile; nothing was changed."),
}


def moment(ctx: Ctx, when: datetime) -> str:
    return format_moment(when, ctx.locale, ctx.services.settings.tz)


# ---- the flow -----------------------------------------------------------------------------------------------


async def cmd_broadcast(ctx: Ctx) -> None:
    await _home(ctx, fresh=True)


async def _home(ctx: Ctx, *, fresh: bool = False) -> None:
    _ = ctx._
    assert ctx.person is not None
    rows: list[Row] = [[(_("➕ New notice"), button_data("new"))], [(_("📋 My notices"), button_data("ls"))]]
    waiting = await service.awaiting_approval(ctx.services, ctx.person)
    if waiting:
        rows.append([(_("🗳 Waiting for approval ({count})").format(count=len(waiting)), button_data("ap"))])
    text = _("<b>📣 Notices</b>\nSend a notice to exactly the people concerned, now or at a set time.")
    await ctx.display(text, inline(rows), fresh=fresh)


async def start_new(ctx: Ctx, meeting_id: int | None = None) -> str | None:
    if not may_send(ctx.person):
        return NOT_ALLOWED
    data: dict[str, Any] = {"ids": [], "page": 0}
    if meeting_id is not None:
        data.update(meeting_id=meeting_id, topic=Topic.MEETINGS.value)
    await show(ctx, new_draft(ctx, FLOW, "kind", **data))
    return None


async def start_for_meeting(ctx: Ctx, meeting_id: int) -> str | None:
    """The meeting's notice: the same flow with the meeting attached and the topic set to meetings."""
    assert ctx.person is not None
    if await service.meeting_for_notice(ctx.services, ctx.person, meeting_id) is None:
        return REFUSALS[Refusal.MEETING_GONE]
    return await start_new(ctx, meeting_id)


async def _kinds(ctx: Ctx) -> list[tuple[str, audiences.AudienceKind]]:
    """Kinds this person can use: the whole street only for street-wide senders, others when they offer choices."""
    assert ctx.person is not None
    usable = []
    for name, kind in audiences.kinds():
        if kind.choices is None:
            if await service.summary(ctx.services, ctx.person, Audience(kind=name)) is not None:
                usable.append((name, kind))
        elif await kind.choices(ctx.services.db, ctx.person):
            usable.append((name, kind))
    return usable


def _audience(draft: Draft) -> Audience:
    return Audience(kind=draft.data.get("kind", ""), ids=tuple(int(i) for i in draft.data.get("ids", [])))


def _composed(draft: Draft) -> NewBroadcast:
    d = draft.data
    return NewBroadcast(audience=_audience(draft), topic=Topic(d["topic"]), body=d.get("body", ""),
                        photo=d.get("photo"), document=d.get("document"), meeting_id=d.get("meeting_id"),
                        send_at=from_db(d["send_at"]) if d.get("send_at") else None)


def _reach_line(ctx: Ctx, reach: ReachSummary) -> str:
    _ = ctx._
    line = _("Reaches {people} people and {groups} groups.").format(people=reach.people, groups=reach.groups)
    if reach.muted:
        line += " " + _("({muted} muted this topic.)").format(muted=reach.muted)
    return line


def _audience_line(ctx: Ctx, draft: Draft, reach: ReachSummary) -> str:
    kind = audiences.kind_of(draft.data.get("kind", ""))
    names = ", ".join(n or ctx._("the whole street") for n in reach.names)
    label = ctx._(kind.label) if kind else ""
    return "🎯 " + esc(f"{label} {names}".strip())


async def _view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    assert ctx.person is not None
    step, d = draft.step, draft.data
    nav = flows.back_row(ctx)
    if step == "kind":
        kinds = await _kinds(ctx)
        rows = [[(_(kind.label), f"k:{name}") for name, kind in kinds[i:i + 2]] for i in range(0, len(kinds), 2)]
        return _("<b>New notice</b>\nWho should receive it?"), [*rows, [(_("Cancel"), "cancel")]], None
    if step == "pick":
        return await _pick_view(ctx, draft, nav)
    reach = await service.summary(ctx.services, ctx.person, _audience(draft),
                                  Topic(d["topic"]) if d.get("topic") else None)
    if reach is None:
        return _(NOT_ALLOWED), [[(_("Cancel"), "cancel")]], None
    head = _audience_line(ctx, draft, reach) + "\n" + _reach_line(ctx, reach)
    if step == "topic":
        rows = [[(_(TOPIC_LABELS[t]), f"tp:{t.value}")] for t in Topic]
        return head + "\n\n" + _("What is it about? Residents choose which topics they receive; safety notices "
                                 "always arrive."), [*rows, nav], None
    if step == "text":
        if d.get("meeting_id"):
            prompt = _("Add a note to the meeting notice (optional), or press Skip. The notice already has the "
                       "title, time, place, agenda and the Going / Maybe / Can't go buttons.")
            return head + "\n\n" + prompt, [[(_("Skip"), "skip")], nav], None
        return head + "\n\n" + _("Type the notice (up to 3500 characters), or send a photo or a document with a "
                                 "caption (up to 900 characters)."), [nav], None
    if step == "when":
        return head + "\n\n" + _("When should it go out? Type the date and time, for example 2026-05-10 09:00 "
                                 "or 5-10 9:00."), [nav], None
    lines = [head, "", _("⬇️ Your preview is sent to you just below: it is exactly what each person will "
                         "receive (in their own language).")]
    if reach.needs_approval:
        lines.append(_("🗳 It reaches beyond one community, so a street admin approves it before it goes out."))
    send = _("📤 Ask for approval") if reach.needs_approval else _("📤 Send now")
    rows = [[(send, "send")], [(_("🕒 At a set time"), "later"), (_("✏️ Change the text"), "edit")], nav]
    return "\n".join(lines), rows, None


async def _pick_view(ctx: Ctx, draft: Draft, nav: list[Button]) -> View:
    _ = ctx._
    assert ctx.person is not None
    kind = audiences.kind_of(draft.data["kind"])
    assert kind is not None
    picked = set(draft.data.get("ids", []))
    options = await audiences.choices(ctx.services.db, ctx.person, draft.data["kind"])
    rows, _page, _pages = paginated(
        options, int(draft.data.get("page", 0)), per_page=10, per_row=2,
        button=lambda c: ((("✅ " if c.id in picked else "") + (c.label or _("the whole street")))[:40], f"t:{c.id}"),
        nav=lambda p: f"pg:{p}", counter=_("{page} of {pages}"))
    text = _("<b>{kind}</b>\nPick one.").format(kind=esc(_(kind.label)))
    if kind.multiple:
        text = _("<b>{kind}</b>\nPick one or more, then press Next.").format(kind=esc(_(kind.label)))
    extra = [[(_("Next ›"), "next")]] if kind.multiple and picked else []
    return text, [*rows, *extra, nav], None


STEPS = ("kind", "pick", "topic", "text", "preview")


def _previous(draft: Draft) -> str | None:
    """The step before this one, skipping what this notice did not ask (a pick, the topic of a meeting)."""
    if draft.step == "when":
        return "preview"
    index = STEPS.index(draft.step)
    if index == 0:
        return None
    previous = STEPS[index - 1]
    if previous == "topic" and draft.data.get("meeting_id"):
        previous = "pick"
    if previous == "pick":
        kind = audiences.kind_of(draft.data.get("kind", ""))
        if kind is None or kind.choices is None:
            previous = "kind"
    return previous


async def _turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    if not may_send(ctx.person):
        await end_flow(ctx, draft)
        await ctx.reply(ctx._(NOT_ALLOWED))
        return
    if await flows.cancel_or_back(turn, _previous(draft), N_("No notice was sent."), page=0):
        return
    handlers = {"kind": _on_kind, "pick": _on_pick, "topic": _on_topic, "text": _on_text, "preview": _on_preview,
                "when": _on_when}
    await handlers[draft.step](turn)


async def _after_audience(turn: Turn, ids: list[int]) -> None:
    """The audience is chosen: check it on the server, then the topic (or the text, for a meeting notice)."""
    ctx = turn.ctx
    assert ctx.person is not None
    audience = Audience(kind=turn.draft.data["kind"], ids=tuple(ids))
    if await service.summary(ctx.services, ctx.person, audience) is None:
        await ctx.answer(ctx._(NOT_ALLOWED), alert=True)
        return
    await turn.goto("text" if turn.draft.data.get("meeting_id") else "topic", ids=ids)


async def _on_kind(turn: Turn) -> None:
    name = turn.args[0] if turn.action == "k" and turn.args else None
    kind = None if name is None else audiences.kind_of(name)
    if kind is None or name not in {n for n, _k in await _kinds(turn.ctx)}:
        await not_understood(turn)
        return
    turn.draft.data.update(kind=name, ids=[], page=0)
    if kind.choices is None:
        await _after_audience(turn, [])
    else:
        await turn.goto("pick")


def _signed(value: str) -> int | None:
    """Choice ids may be negative (group chat ids)."""
    try:
        return int(value)
    except ValueError:
        return None


async def _on_pick(turn: Turn) -> None:
    ctx, d = turn.ctx, turn.draft.data
    assert ctx.person is not None
    kind = audiences.kind_of(d["kind"])
    assert kind is not None
    if turn.action == "pg":
        await turn.goto("pick", page=turn.int_arg() or 0)
        return
    if turn.action == "next" and d.get("ids"):
        await _after_audience(turn, list(d["ids"]))
        return
    chosen = _signed(turn.args[0]) if turn.action == "t" and turn.args else None
    offered = {c.id for c in await audiences.choices(ctx.services.db, ctx.person, d["kind"])}
    if chosen is None or chosen not in offered:
        await not_understood(turn)
        return
    if not kind.multiple:
        await _after_audience(turn, [chosen])
        return
    picked = list(d.get("ids", []))
    picked = [i for i in picked if i != chosen] if chosen in picked else [*picked, chosen]
    await turn.goto("pick", ids=picked)


async def _on_topic(turn: Turn) -> None:
    value = turn.args[0] if turn.action == "tp" and turn.args else None
    if value not in {t.value for t in Topic}:
        await not_understood(turn)
        return
    await turn.goto("text", topic=value)


async def _on_text(turn: Turn) -> None:
    ctx, message = turn.ctx, turn.message
    _ = ctx._
    if turn.action == "skip" and turn.draft.data.get("meeting_id"):
        await _to_preview(turn, body="", photo=None, document=None)
        return
    if turn.action is not None or message is None:
        await not_understood(turn)
        return
    photo = message.photo[-1].file_id if message.photo else None
    document = message.document.file_id if message.document else None
    words = message.caption if photo or document else message.text
    if not (photo or document or message.text):
        await ctx.reply(_("Please type the notice, or send a photo or a document with a caption."))
        return
    body = clean_body(words, with_media=bool(photo or document))
    if body is None:
        limit = CAPTION_MAX if photo or document else TEXT_MAX
        await ctx.reply(_("That is too long: please keep it to {limit} characters.").format(limit=limit))
        return
    await _to_preview(turn, body=body, photo=photo, document=document)


async def _to_preview(turn: Turn, **content: Any) -> None:
    ctx = turn.ctx
    assert ctx.person is not None
    draft = await turn.goto("preview", send_at=None, **content)
    # Queued after the step is shown, so the preview arrives just below it.
    if not await service.send_preview(ctx.services, ctx.person, _composed(draft)):
        await end_flow(ctx, draft)
        await ctx.reply(ctx._(REFUSALS[Refusal.MEETING_GONE]))


async def _on_preview(turn: Turn) -> None:
    if turn.action == "send":
        await _submit(turn)
    elif turn.action == "later":
        await turn.goto("when")
    elif turn.action == "edit":
        await turn.goto("text")
    else:
        await not_understood(turn)


async def _on_when(turn: Turn) -> None:
    ctx = turn.ctx
    if turn.action is not None or turn.text is None:
        await not_understood(turn)
        return
    when = await read_future(ctx, turn.text)
    if when is None:
        return
    turn.draft.data["send_at"] = to_db(when)
    await _submit(turn)


async def _submit(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    assert ctx.person is not None
    composed = _composed(draft)
    if not await end_flow(ctx, draft):
        return  # a double tap: the first one submitted it
    result = await service.submit(ctx.services, ctx.person, composed)
    if isinstance(result, Refusal):
        await ctx.reply(_(REFUSALS[result]))
        return
    if result.state is State.SENDING:
        text = _("📤 Notice #{id} is on its way; its progress follows below.").format(id=result.broadcast_id)
    elif result.state is State.AWAITING_APPROVAL:
        text = _("🗳 Notice #{id} waits for a street admin's approval; you will be told.").format(
            id=result.broadcast_id)
    elif result.state is State.SCHEDULED and composed.send_at is not None:
        text = _("🕒 Notice #{id} will go out {when}.").format(id=result.broadcast_id,
                                                               when=esc(moment(ctx, composed.send_at)))
    else:
        text = _("Notice #{id}: {state}.").format(id=result.broadcast_id, state=_(STATE_LABELS[result.state]))
    await ctx.reply(text, inline([[(_("🗂 Open the notice"), button_data("v", result.broadcast_id))]]))
    if result.state in {State.SENDING, State.DONE}:
        await refresh_progress(ctx.context.application)


# ---- notices: list, card, cancel, stop, approve -------------------------------------------------------------


def _card_text(ctx: Ctx, broadcast: Broadcast, counts: Progress, names: list[str]) -> str:
    _ = ctx._
    kind = audiences.kind_of(broadcast.audience.kind)
    audience = f"{_(kind.label) if kind else broadcast.audience.kind} " + ", ".join(
        n or _("the whole street") for n in names)
    lines = [_("<b>Notice #{id}</b> · {state}").format(id=broadcast.id, state=_(STATE_LABELS[broadcast.state])),
             "🎯 " + esc(audience.strip()), _(TOPIC_LABELS[broadcast.topic])]
    if broadcast.send_at is not None:
        lines.append(_("🕒 Goes out {when}").format(when=esc(moment(ctx, broadcast.send_at))))
    if broadcast.started_at is not None:
        lines.append(_progress_line(ctx, counts))
    if broadcast.body:
        lines += ["", esc(broadcast.body[:1500])]
    return "\n".join(lines)


def _progress_line(ctx: Ctx, counts: Progress) -> str:
    return ctx._("sent {sent} · waiting {waiting} · failed {failed} · unreachable {unreachable}").format(
        sent=counts.sent, waiting=counts.waiting, failed=counts.failed, unreachable=counts.unreachable)


async def _card(ctx: Ctx, broadcast_id: int, note: str | None = None) -> str | None:
    _ = ctx._
    assert ctx.person is not None
    broadcast = await service.visible(ctx.services, ctx.person, broadcast_id)
    if broadcast is None:
        return NOT_YOURS
    counts = await service.progress(ctx.services, broadcast)
    names = await audiences.describe(ctx.services.db, broadcast.audience)
    text = _card_text(ctx, broadcast, counts, names) + (f"\n\n{note}" if note else "")
    rows: list[Row] = [[(_("👁 Preview"), button_data("pv", broadcast.id))]]
    if broadcast.state is State.AWAITING_APPROVAL and may_approve(ctx.person):
        rows.append([(_("✅ Approve"), button_data("ok", broadcast.id)),
                     (_("✖️ Reject"), button_data("no", broadcast.id))])
    if broadcast.state in {State.AWAITING_APPROVAL, State.SCHEDULED}:
        rows.append([(_("❌ Cancel this notice"), button_data("x", broadcast.id))])
    if broadcast.state is State.SENDING:
        rows.append([(_("⏹ Stop sending"), button_data("stop", broadcast.id))])
    rows.append([(_("‹ Notices"), button_data("home"))])
    await ctx.show(text, inline(rows))
    return None


async def _list(ctx: Ctx, items: list[Broadcast], title: str) -> str | None:
    _ = ctx._
    rows = [[(f"#{b.id} {STATE_MARKS[b.state]} {b.body or _(TOPIC_LABELS[b.topic])}"[:50],
              button_data("v", b.id))] for b in items[:20]]
    await ctx.show(title if items else _("No notices yet."), inline([*rows, [(_("‹ Notices"), button_data("home"))]]))
    return None


ACTION_NOTES = {
    State.CANCELLED: N_("Cancelled: it will not be sent."),
    State.STOPPED: N_("Stopped: messages not yet sent are dropped; the final report follows."),
    State.REJECTED: N_("Not approved; the author is told."),
    State.SCHEDULED: N_("Approved; it goes out at its time and the author is told."),
    State.SENDING: N_("Approved; it is going out and the author is told."),
    State.DONE: N_("Approved; it is going out and the author is told."),
}


async def _act(ctx: Ctx, action: str, broadcast_id: int) -> str | None:
    assert ctx.person is not None
    run = {"x": service.cancel, "stop": service.stop, "ok": service.approve, "no": service.reject}[action]
    result = await run(ctx.services, ctx.person, broadcast_id)
    if isinstance(result, Refusal):
        return REFUSALS[result]
    if result in {State.SENDING, State.DONE}:
        await refresh_progress(ctx.context.application)
    return await _card(ctx, broadcast_id, ctx._(ACTION_NOTES[result]))


async def _route(ctx: Ctx, parts: list[str]) -> str | None:
    _ = ctx._
    if ctx.person is None or not may_send(ctx.person):
        return NOT_ALLOWED
    action = parts[0] if parts else ""
    if action == "home":
        await _home(ctx)
        return None
    if action == "new":
        return await start_new(ctx)
    if action == "ls":
        return await _list(ctx, await service.mine(ctx.services, ctx.person), _("<b>My notices</b>"))
    if action == "ap":
        return await _list(ctx, await service.awaiting_approval(ctx.services, ctx.person),
                           _("<b>Waiting for approval</b>"))
    broadcast_id = int_part(parts, 1)
    if broadcast_id is None:
        return EXPIRED
    if action == "v":
        return await _card(ctx, broadcast_id)
    if action == "pv":
        return None if await service.preview_stored(ctx.services, ctx.person, broadcast_id) else NOT_YOURS
    if action in {"x", "stop", "ok", "no"}:
        return await _act(ctx, action, broadcast_id)
    return EXPIRED


# ---- progress: one message per notice, edited in place -------------------------------------------------------


def progress_text(locale: str, broadcast: Broadcast, counts: Progress, finished: bool) -> str:
    _ = translator(locale)
    head = _("📤 Notice #{id} is going out").format(id=broadcast.id)
    if finished:
        head = (_("⏹ Notice #{id} was stopped") if broadcast.state is State.STOPPED
                else _("✅ Notice #{id} is out")).format(id=broadcast.id)
    line = _("sent {sent} · waiting {waiting} · failed {failed} · unreachable {unreachable}").format(
        sent=counts.sent, waiting=counts.waiting, failed=counts.failed, unreachable=counts.unreachable)
    if counts.dropped:
        line += " · " + _("not sent {dropped}").format(dropped=counts.dropped)
    return f"{head}\n{line}"


async def refresh_progress(application: Application) -> None:
    """Show or update each notice's progress message; at most one edit per notice per interval."""
    services = services_of(application)
    for view in await service.progress_due(services):
        broadcast = view.broadcast
        locale = view.author_locale or services.settings.default_locale
        text = progress_text(locale, broadcast, view.progress, view.finished)
        chat_id = broadcast.progress_chat_id or view.author_telegram_id
        if chat_id is None:  # the author has no chat any more: nothing to show
            await service.record_progress(services, broadcast.id, chat_id=0, message_id=0, text=text, final=True)
            continue
        _ = translator(locale)
        stop = [] if view.finished else [[(_("⏹ Stop sending"), button_data("stop", broadcast.id))]]
        try:
            message_id = await _show_progress(application, broadcast, chat_id, text, inline(stop) if stop else None)
        except TelegramError:
            log.warning("could not show the progress of broadcast %d", broadcast.id, exc_info=True)
            continue
        await service.record_progress(services, broadcast.id, chat_id=chat_id, message_id=message_id, text=text,
                                      final=view.finished)


async def _show_progress(application: Application, broadcast: Broadcast, chat_id: int, text: str,
                         markup: InlineKeyboardMarkup | None) -> int:
    """A new message the first time, then edits of it (without the Stop button once finished)."""
    if broadcast.progress_message_id is None:
        sent = await application.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup,
                                                  rate_limit_args="interactive")
        return sent.message_id
    if text != broadcast.progress_text or markup is None:
        try:
            await application.bot.edit_message_text(text, chat_id=chat_id, message_id=broadcast.progress_message_id,
                                                    reply_markup=markup, rate_limit_args="interactive")
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
    return broadcast.progress_message_id


async def _progress_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await refresh_progress(context.application)


def register(application: Application) -> None:
    register_flow(application, FLOW, Flow(_turn, _view))
    menu.add_command(application, menu.Command(
        "broadcast", N_("Send a notice to residents, groups or roles"), cmd_broadcast, roles=SENDER_ROLES,
        menu_label=N_("📣 Notices"), order=61))
    application.add_handler(CallbackQueryHandler(routed(_route), pattern=rf"^{CALLBACK}:"), group=COMMANDS)
    if application.job_queue is not None:
        interval = services_of(application).settings.broadcast_progress_seconds
        application.job_queue.run_repeating(_progress_job, interval=interval, first=interval,
                                            name="broadcast-progress")

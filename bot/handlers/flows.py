"""Multi-step flows driven by our drafts table instead of PTB's ConversationHandler.

The draft (flow, step, data, version) is the conversation state, written by the handler in its
own transaction, so a restart resumes exactly where the person was and nothing depends on PTB's
interval-written persistence. Flow buttons carry the draft version (`f:<version>:<action>:...`):
a double tap or an old button finds a newer version and is answered "expired", never replayed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import Contact, Location, ReplyKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.handlers.common import EXPIRED, Ctx
from bot.handlers.groups import FLOWS
from bot.i18n import N_
from bot.storage import drafts
from bot.storage.drafts import Draft
from bot.ui.callbacks import decode, encode, int_part
from bot.ui.keyboards import inline, paginated

T = TypeVar("T")
FLOW_PREFIX = "f"
FLOWS_KEY = "flows"
Button = tuple[str, str]  # (label, "action" or "action:arg")
USE_THE_BUTTONS = N_("Please use the buttons, or /cancel to stop.")


@dataclass
class Turn:
    """One input to a flow: a pressed button (`action`, `args`) or a message."""

    ctx: Ctx
    draft: Draft
    action: str | None = None
    args: list[str] = field(default_factory=list)

    @property
    def message(self):  # type: ignore[no-untyped-def]
        return self.ctx.update.message

    @property
    def text(self) -> str | None:
        return self.message.text if self.message is not None else None

    @property
    def contact(self) -> Contact | None:
        return self.message.contact if self.message is not None else None

    @property
    def location(self) -> Location | None:
        return self.message.location if self.message is not None else None

    def int_arg(self, index: int = 0) -> int | None:
        return int_part(self.args, index)

    async def goto(self, step: str, **data: Any) -> Draft:
        """Save the draft at `step` (merging `data`) and show that step's view."""
        draft = self.draft.model_copy(update={"step": step, "data": {**self.draft.data, **data}})
        self.draft = await show(self.ctx, draft)
        return self.draft


async def show_step(
    ctx: Ctx,
    draft: Draft,
    text: str,
    buttons: Sequence[Sequence[Button]] | None = None,
    *,
    reply_keyboard: ReplyKeyboardMarkup | None = None,
) -> Draft:
    """Commit the draft first, then render; the message id is remembered for in-place edits."""
    async with ctx.services.db.transaction() as conn:
        saved = await drafts.save(conn, draft, ctx.now)
    if reply_keyboard is not None:
        message_id = (await ctx.reply(text, reply_keyboard)).message_id
    else:
        markup = inline([[(label, flow_data(saved.version, action)) for label, action in row]
                         for row in buttons or []])
        message_id = await ctx.show(text, markup)
    if message_id != saved.message_id:  # a step edited in place keeps its message: no second commit
        async with ctx.services.db.transaction() as conn:
            await drafts.set_message(conn, saved.telegram_id, saved.version, message_id)
    return saved.model_copy(update={"message_id": message_id})


def new_draft(ctx: Ctx, flow: str, step: str, **data: Any) -> Draft:
    """A fresh draft that replaces whatever the person had (a new /command starts over)."""
    version = ctx.draft.version if ctx.draft else 0
    return Draft(telegram_id=ctx.user.id, flow=flow, step=step, data={"locale": ctx.locale, **data},
                 version=version)


async def show(ctx: Ctx, draft: Draft) -> Draft:
    """Save `draft` and show its step through the owning flow's view."""
    flow = _flows(ctx.context.application)[draft.flow]
    text, buttons, reply_keyboard = await flow.view(ctx, draft)
    saved = await show_step(ctx, draft, text, buttons, reply_keyboard=reply_keyboard)
    ctx.draft = saved
    return saved


async def not_understood(turn: Turn) -> None:
    """Stickers, stray text or an old button: a stale button hears "expired", anything else the flow's
    hint, and the step is shown again."""
    ctx = turn.ctx
    if turn.action is not None:
        await ctx.answer(ctx._(EXPIRED), alert=True)
        return
    await ask_again(turn, ctx._(_flows(ctx.context.application)[turn.draft.flow].hint))


async def ask_again(turn: Turn, problem: str) -> None:
    """A typed answer a step cannot take: say what is wrong (`problem`, translated), then show the step
    again below it, so its buttons stay at hand."""
    await turn.ctx.reply(problem)
    await show(turn.ctx, turn.draft)


async def end_flow(ctx: Ctx, draft: Draft) -> bool:
    """Delete the draft if it is still this version; False means a double tap got here first."""
    async with ctx.services.db.transaction() as conn:
        return await drafts.clear(conn, draft.telegram_id, version=draft.version)


async def stop(turn: Turn, stopped: str) -> None:
    """End the flow unsaved and say so (`stopped`, a msgid) in place of its step."""
    await end_flow(turn.ctx, turn.draft)
    await turn.ctx.show(turn.ctx._(stopped))


def step_before(steps: Sequence[str], step: str, *, first: int = 0) -> str | None:
    """Where ‹ Back leads from `step`: the step before it, or None from `steps[first]` and earlier (a
    flow that may skip its opening choices lets Back return only as far as `first`); an unknown step is
    the first."""
    index = steps.index(step) if step in steps else 0
    return steps[index - 1] if index > first else None


async def cancel_or_back(turn: Turn, previous: str | None, stopped: str, **data: Any) -> bool:
    """The Cancel and ‹ Back buttons of a guided flow, so they work alike everywhere: Cancel, or Back
    with no step before, stops it with `stopped` (a msgid); Back goes to `previous` with `data`. True
    when the turn was one of the two."""
    if turn.action not in {"cancel", "back"}:
        return False
    if turn.action == "back" and previous is not None:
        await turn.goto(previous, **data)
    else:
        await stop(turn, stopped)
    return True


def back_row(ctx: Ctx) -> list[Button]:
    """The ‹ Back and Cancel row under a guided flow's steps (see `cancel_or_back`)."""
    return [(ctx._("‹ Back"), "back"), (ctx._("Cancel"), "cancel")]


def pick_rows(ctx: Ctx, items: Sequence[T], page: int, button: Callable[[T], Button]) -> list[list[Button]]:
    """A flow's first step picks from a long list: eight a page, two a row, paged by `pg:<page>`, then Cancel."""
    rows, _page, _pages = paginated(
        items, page, per_page=8, per_row=2, button=button, nav=lambda p: f"pg:{p}", counter=ctx._("{page} of {pages}")
    )
    return [*rows, [(ctx._("Cancel"), "cancel")]]


def flow_data(version: int, action: str) -> str:
    return encode(FLOW_PREFIX, version, action)


View = tuple[str, Sequence[Sequence[Button]] | None, ReplyKeyboardMarkup | None]


@dataclass(frozen=True)
class Flow:
    """`on_turn` handles one input; `view` renders any step, so steps can be shown again; `hint` (a msgid)
    tells what the flow expects when the input is not understood."""

    on_turn: Callable[[Turn], Awaitable[None]]
    view: Callable[[Ctx, Draft], Awaitable[View]]
    hint: str = USE_THE_BUTTONS


def register_flow(application: Application, name: str, flow: Flow) -> None:
    application.bot_data.setdefault(FLOWS_KEY, {})[name] = flow


def _flows(application: Application) -> dict[str, Flow]:
    return application.bot_data.get(FLOWS_KEY, {})


def register(application: Application) -> None:
    """Route flow buttons and in-flow messages to the flow that owns the person's draft."""
    application.add_handler(CallbackQueryHandler(_on_button, pattern=rf"^{FLOW_PREFIX}:"), group=FLOWS)
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND, _on_message),
        group=FLOWS,
    )


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return
    _prefix, parts = decode(update.callback_query.data if update.callback_query else None)
    version = int_part(parts, 0)
    flow = _flow_for(context.application, ctx.draft)
    if ctx.draft is None or flow is None or version != ctx.draft.version or len(parts) < 2:
        await ctx.answer(ctx._(EXPIRED), alert=True)
        raise ApplicationHandlerStop
    await flow.on_turn(Turn(ctx, ctx.draft, action=parts[1], args=parts[2:]))
    await ctx.answer()
    raise ApplicationHandlerStop


async def _on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = await Ctx.load(update, context)
    if ctx is None or ctx.draft is None:
        return
    flow = _flow_for(context.application, ctx.draft)
    if flow is None:
        return
    await flow.on_turn(Turn(ctx, ctx.draft))
    raise ApplicationHandlerStop


def _flow_for(application: Application, draft: Draft | None) -> Flow | None:
    return None if draft is None else _flows(application).get(draft.flow)

"""What every handler needs: the person behind an update, their language, replies, drafts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update, User
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.domain.people import Person
from bot.i18n import N_, Translator, normalize_locale, translator
from bot.runtime import services_of
from bot.services.container import Services
from bot.storage import drafts, people
from bot.storage.drafts import Draft
from bot.ui.callbacks import decode

EXPIRED = N_("This button has expired. Send /start or /help to go on.")

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
Alert = str | None  # what a button handler refuses with (a msgid shown as an alert), None when all went well


@dataclass
class Ctx:
    """One update as a handler sees it. Built by `Ctx.load`; cheap, made per update."""

    update: Update
    context: ContextTypes.DEFAULT_TYPE
    services: Services
    user: User
    person: Person | None
    draft: Draft | None
    locale: str
    _: Translator

    @classmethod
    async def load(cls, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Ctx | None:
        """None for updates without a private user (channels, anonymous admins)."""
        user = update.effective_user
        if user is None or user.is_bot:
            return None
        services = services_of(context.application)
        person = await people.by_telegram_id(services.db, user.id)
        draft = await drafts.load(services.db, user.id)
        locale = (
            (person.locale if person else None)
            or (draft.data.get("locale") if draft else None)
            or normalize_locale(user.language_code, services.settings.default_locale)
        )
        return cls(update, context, services, user, person, draft, locale, translator(locale))

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    @property
    def in_private_chat(self) -> bool:
        chat = self.update.effective_chat
        return chat is not None and chat.type == "private"

    def use_locale(self, locale: str) -> None:
        self.locale = locale
        self._ = translator(locale)

    async def reply(self, text: str, markup: Markup = None) -> Message:
        """A new message to the person who wrote (the limiter's reserved 'reply' share)."""
        return await self.context.bot.send_message(
            chat_id=self.user.id, text=text, reply_markup=markup, rate_limit_args="reply"
        )

    async def show(self, text: str, markup: InlineKeyboardMarkup | None = None) -> int:
        """Edit the pressed message in place when the input was a button, else send a new one."""
        query = self.update.callback_query
        pressed = query.message if query is not None else None
        # Only a text message can be edited into text; a button under a photo or document gets a new message.
        if query is not None and isinstance(pressed, Message) and pressed.text is not None:
            try:
                await query.edit_message_text(text, reply_markup=markup)
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    raise
            return pressed.message_id
        message = await self.reply(text, markup)
        return message.message_id

    async def display(
        self, text: str, markup: InlineKeyboardMarkup | None = None, *, fresh: bool = False
    ) -> None:
        """A screen that both a command and a button open: a new message when `fresh` (the command), else
        the pressed message edited in place."""
        if fresh:
            await self.reply(text, markup)
        else:
            await self.show(text, markup)

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer the pressed button (if any) so the client stops its spinner."""
        query = self.update.callback_query
        if query is not None:
            try:
                await query.answer(text, show_alert=alert)
            except BadRequest:
                pass  # answered twice or too late: nothing left to do


Route = Callable[[Ctx, list[str]], Awaitable[Alert]]
ButtonHandler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def routed(route: Route) -> ButtonHandler:
    """A button handler for screens whose router answers with an alert: `route(ctx, parts)` gets the parts
    after the prefix, and the msgid it returns (if any) is shown as an alert, so every router answers alike."""

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx = await Ctx.load(update, context)
        if ctx is None:
            return
        _prefix, parts = decode(update.callback_query.data if update.callback_query else None)
        alert = await route(ctx, parts)
        await ctx.answer(ctx._(alert) if alert else None, alert=alert is not None)

    return on_button

"""Tests that read like people: the real Application, the offline Telegram, and a fake clock.

    async with BotHarness(tmp_path) as bot:
        alice = bot.person("Alice")
        await alice.send("/start")
        await alice.press("Report a problem")
        assert "photo" in alice.last_message.text

Every action builds the Update a Telegram app would send (ids, dates from the fake clock, the
sender's language), records it in the core's chat history, runs it through
`Application.process_update` and settles the runtime, so outbox pushes have landed when the
call returns. Handler errors fail the test unless `harness.strict` is off.
"""

from __future__ import annotations

import itertools
import mimetypes
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from telegram import Message, Update
from telegram.ext import Application, ContextTypes

from bot.app import build_application
from bot.clock import Clock, FakeClock
from bot.config import Settings
from bot.runtime import runtime_of, services_of
from bot.sandbox.fake_request import FakeRequest
from bot.sandbox.fake_telegram import JSON, CallbackAnswer, ChatMessage, FakeTelegram, tiny_png
from bot.services.container import Services

MONDAY_MORNING = datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
"""Where the fake clock starts: a working Monday, so SLA and work-hour rules apply at once."""


class Build(Protocol):
    def __call__(self, settings: Settings, *, request: FakeRequest, clock: Clock) -> Application: ...


class HandlerError(AssertionError):
    """A handler raised while processing a person's update (the Application's error handler saw it)."""


@dataclass(frozen=True)
class FileView:
    file_name: str | None
    mime_type: str | None
    content: bytes


@dataclass(frozen=True)
class BotMessage:
    """One bot message as the person sees it now."""

    message_id: int
    text: str
    html: str
    buttons: list[str]
    callback_data: dict[str, str]
    reply_keyboard: list[str]
    photo: bytes | None
    document: FileView | None
    voice: bytes | None
    location: JSON | None
    edited: bool
    raw: JSON = field(repr=False)


class BotHarness:
    """Builds the offline Telegram, the fake clock and the Application on one database file."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        start: datetime = MONDAY_MORNING,
        build: Build = build_application,
        strict: bool = True,
        real_limiter: bool = False,
        **settings: Any,
    ) -> None:
        """`real_limiter`: keep the flood limiter's real-time waits (1 s per message to a person
        after a burst of 3); by default it passes requests straight through so tests stay fast."""
        self.settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_path=tmp_path / "t.db",
            bot_api_url="http://fake/bot",
            **settings,
        )
        self.clock = FakeClock(start)
        self.core = FakeTelegram(clock=self.clock.now)
        self.strict = strict
        self.real_limiter = real_limiter
        self.errors: list[BaseException] = []
        self._build = build
        self._app: Application | None = None
        self._phones = itertools.count(1)

    @property
    def app(self) -> Application:
        if self._app is None:
            raise RuntimeError("the harness is not started")
        return self._app

    @property
    def services(self) -> Services:
        return services_of(self.app)

    async def __aenter__(self) -> BotHarness:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        await self.core.aclose()

    async def start(self) -> None:
        app = self._build(self.settings, request=FakeRequest(self.core), clock=self.clock)
        app.add_error_handler(self._record_error)
        runtime_of(app).limiter.passthrough = not self.real_limiter
        await app.initialize()
        await runtime_of(app).start(app, exclusive=False, tick=False)
        self._app = app

    async def stop(self) -> None:
        if self._app is not None:
            app, self._app = self._app, None
            await runtime_of(app).stop()
            await app.shutdown()

    async def restart(self) -> None:
        """A new Application on the same database file, Telegram and clock: what survives a restart."""
        await self.stop()
        await self.start()

    async def settle(self) -> None:
        """Fire due timers and let pending sends land."""
        await runtime_of(self.app).settle()

    async def advance(self, *, step: timedelta | None = None, **delta: float) -> None:
        """Move the fake clock by `timedelta(**delta)` and settle; with `step`, settle after each step."""
        remaining = timedelta(**delta)
        if step is None or step <= timedelta(0):
            step = remaining
        while remaining > timedelta(0):
            move = min(step, remaining)
            self.clock.advance(move)
            remaining -= move
            await self.settle()

    async def process(self, data: JSON) -> None:
        """Feed one Update dict to the Application, then settle; raise what the handlers raised."""
        seen = len(self.errors)
        await self.app.process_update(Update.de_json(data, self.app.bot))
        await self.settle()
        if self.strict and len(self.errors) > seen:
            error = self.errors[seen]
            raise HandlerError(f"handler failed: {error!r}") from error

    def person(
        self,
        first_name: str,
        language_code: str | None = "zh-hans",
        username: str | None = None,
        *,
        last_name: str | None = None,
        phone: str | None = None,
        started: bool = True,
    ) -> Person:
        """A Telegram account; `started=False` means the bot may not write first."""
        user = self.core.add_user(first_name, last_name, username, language_code, started=started)
        return Person(self, user, phone or f"+86138{next(self._phones):08d}")

    def group(self, title: str) -> int:
        """A supergroup with the bot in it; people write there with `chat=<id>`."""
        return int(self.core.add_group(title)["id"])

    async def _record_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            self.errors.append(context.error)


class Person:
    """Someone using Telegram: sends, presses, shares, and reads what the bot wrote to them."""

    def __init__(self, harness: BotHarness, user: JSON, phone: str) -> None:
        self.harness = harness
        self.user = user
        self.id: int = user["id"]
        self.first_name: str = user["first_name"]
        self.phone = phone

    def __repr__(self) -> str:
        return f"Person({self.first_name!r}, id={self.id})"

    @property
    def core(self) -> FakeTelegram:
        return self.harness.core

    # ---------------------------------------------------------------- doing

    async def send(self, text: str, *, chat: int | None = None, reply_to: int | None = None) -> None:
        await self._say({"text": text}, chat=chat, reply_to=reply_to)

    async def press(
        self, label: str, *, chat: int | None = None, location: tuple[float, float] | None = None
    ) -> None:
        """Press a button by its visible label: inline in the newest message that has it, else on
        the reply keyboard (which sends its text, the person's contact, or `location`)."""
        chat_id = self.id if chat is None else chat
        for record in reversed(self.core.history(chat_id)):
            if not record.from_bot:
                continue
            for button in _inline_buttons(record.message):
                if button["text"] != label:
                    continue
                if "callback_data" not in button:
                    raise AssertionError(f"{label!r} is not a callback button: {button}")
                await self._callback(chat_id, record.message_id, button["callback_data"])
                return
        keyboard = self.core.reply_keyboard(chat_id) or {}
        for row in keyboard.get("keyboard", []):
            for button in row:
                if button["text"] != label:
                    continue
                if button.get("request_contact"):
                    await self.share_contact(self.phone, chat=chat)
                elif button.get("request_location"):
                    if location is None:
                        raise AssertionError(f"{label!r} asks for a location: pass location=(lat, lon)")
                    await self.share_location(*location, chat=chat)
                else:
                    await self.send(label, chat=chat)
                return
        raise AssertionError(f"{self.first_name} sees no button {label!r}; visible: {self._visible(chat_id)}")

    async def press_data(self, data: str, *, chat: int | None = None, message_id: int | None = None) -> None:
        """Send any callback data from a message (the newest bot message by default), as a forged
        client can."""
        chat_id = self.id if chat is None else chat
        if message_id is None:
            bot_messages = [r for r in self.core.history(chat_id) if r.from_bot]
            if not bot_messages:
                raise AssertionError(f"{self.first_name} has no bot message to press on")
            message_id = bot_messages[-1].message_id
        await self._callback(chat_id, message_id, data)

    async def share_contact(
        self,
        phone: str,
        user_id: int | None = None,
        *,
        first_name: str | None = None,
        no_account: bool = False,
        chat: int | None = None,
    ) -> None:
        """Share a contact: one's own by default, someone else's with `user_id`, or a phone-book
        entry without a Telegram account with `no_account`."""
        contact: JSON = {"phone_number": phone, "first_name": first_name or self.first_name}
        if not no_account:
            contact["user_id"] = self.id if user_id is None else user_id
        await self._say({"contact": contact}, chat=chat)

    async def share_location(self, latitude: float, longitude: float, *, chat: int | None = None) -> None:
        await self._say({"location": {"latitude": latitude, "longitude": longitude}}, chat=chat)

    async def send_photo(
        self, content: bytes | None = None, *, caption: str | None = None, chat: int | None = None
    ) -> None:
        body: JSON = {"photo": self.core.store_photo(content or tiny_png())}
        if caption:
            body["caption"] = caption
        await self._say(body, chat=chat)

    async def send_voice(
        self, content: bytes | None = None, *, duration: int = 3, chat: int | None = None
    ) -> None:
        stored = self.core.store_file(
            "voice", content or b"OggS" + bytes(60), duration=duration, mime_type="audio/ogg"
        )
        await self._say({"voice": stored.as_dict()}, chat=chat)

    async def send_document(
        self,
        name: str,
        content: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: int | None = None,
    ) -> None:
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored = self.core.store_file("document", content, file_name=name, mime_type=mime)
        body: JSON = {"document": stored.as_dict()}
        if caption:
            body["caption"] = caption
        await self._say(body, chat=chat)

    async def send_sticker(self, emoji: str = "👍", *, chat: int | None = None) -> None:
        stored = self.core.store_file(
            "sticker",
            b"RIFF\x00\x00\x00\x00WEBP",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            type="regular",
            emoji=emoji,
        )
        await self._say({"sticker": stored.as_dict()}, chat=chat)

    async def block_bot(self) -> None:
        """Block the bot: Telegram tells it with my_chat_member, and every send to her gets 403."""
        await self.harness.process(self.core.block(self.id, deliver=False))

    async def unblock_bot(self) -> None:
        await self.harness.process(self.core.unblock(self.id, deliver=False))

    async def _say(self, content: JSON, *, chat: int | None, reply_to: int | None = None) -> None:
        update = self.core.user_message(self.id, content, chat_id=chat, reply_to=reply_to, deliver=False)
        await self.harness.process(update)

    async def _callback(self, chat_id: int, message_id: int, data: str) -> None:
        await self.harness.process(self.core.press_button(self.id, chat_id, message_id, data, deliver=False))

    # ---------------------------------------------------------------- reading

    @property
    def inbox(self) -> list[BotMessage]:
        """Every bot message in her private chat, oldest first, as it looks now."""
        return self.messages_in(self.id)

    @property
    def last_message(self) -> BotMessage:
        inbox = self.inbox
        if not inbox:
            raise AssertionError(f"the bot has not written to {self.first_name}")
        return inbox[-1]

    def messages_in(self, chat: int) -> list[BotMessage]:
        return [self._view(record) for record in self.core.history(chat) if record.from_bot]

    @property
    def last_callback_answer(self) -> CallbackAnswer | None:
        return next((a for a in reversed(self.core.callback_answers) if a.user_id == self.id), None)

    def _view(self, record: ChatMessage) -> BotMessage:
        raw = record.message
        message = Message.de_json(raw, None)
        if "text" in raw:
            text, html = raw["text"], message.text_html
        elif "caption" in raw:
            text, html = raw["caption"], message.caption_html
        else:
            text, html = "", ""
        inline = _inline_buttons(raw)
        keyboard = (record.reply_keyboard or {}).get("keyboard", [])
        return BotMessage(
            message_id=record.message_id,
            text=text,
            html=html,
            buttons=[b["text"] for b in inline],
            callback_data={b["text"]: b["callback_data"] for b in inline if "callback_data" in b},
            reply_keyboard=[b["text"] for row in keyboard for b in row],
            photo=self._content(raw["photo"][-1]["file_id"]) if "photo" in raw else None,
            document=self._file_view(raw.get("document")),
            voice=self._content(raw["voice"]["file_id"]) if "voice" in raw else None,
            location=raw.get("location"),
            edited="edit_date" in raw,
            raw=raw,
        )

    def _content(self, file_id: str) -> bytes | None:
        stored = self.core.file(file_id)
        return None if stored is None else stored.content

    def _file_view(self, document: JSON | None) -> FileView | None:
        if document is None:
            return None
        return FileView(
            document.get("file_name"), document.get("mime_type"), self._content(document["file_id"]) or b""
        )

    def _visible(self, chat_id: int) -> list[str]:
        labels = [
            b["text"] for r in self.core.history(chat_id) if r.from_bot for b in _inline_buttons(r.message)
        ]
        keyboard = (self.core.reply_keyboard(chat_id) or {}).get("keyboard", [])
        return labels + [b["text"] for row in keyboard for b in row]


def _inline_buttons(message: JSON) -> list[JSON]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def people(harness: BotHarness, *names: str, language_code: str = "zh-hans") -> list[Person]:
    """Several people at once: `alice, bob = people(bot, "Alice", "Bob")`."""
    return [harness.person(name, language_code) for name in names]

"""An in-memory Bot API that answers the way Telegram does, so the real PTB stack can run offline.

The core knows nothing of PTB or HTTP. Two doors serialise requests into it exactly as Telegram
receives them: `FakeRequest` (in-process, for tests) and the tornado server in `fake_http`
(for the sandbox and for tests that run the bot as its own process). Behaviour worth testing
against is real here: per-chat message ids, "message is not modified", HTML entity parsing with
Telegram's errors and limits, callback answers, files, long-polled `getUpdates`, blocked users,
flood limits, and faults injected on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import mimetypes
import re
import struct
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Literal

import httpx

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Upload = tuple[str, bytes, str]
"""An uploaded file part as multipart carries it: (file name, content, MIME type)."""

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
MAX_DOWNLOAD = 20 * 1024 * 1024
DELETE_WINDOW_SECONDS = 48 * 3600

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_NOT_FOUND = "Bad Request: chat not found"
NOT_STARTED = "Forbidden: bot can't initiate conversation with a user"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "my_chat_member",
        "chat_join_request",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
    }
)


class ApiError(Exception):
    """A Bot API error answer: what Telegram puts in `error_code`, `description` and `parameters`."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class SimulatedTimeout(Exception):
    """Raised to a door when a request must look lost on the wire; each door times out its own way.

    `response` is what Telegram would have answered if the request took effect anyway (the reply
    was lost, not the request), else None.
    """

    def __init__(self, delay: float, response: tuple[int, JSON] | None) -> None:
        super().__init__(f"simulated timeout after {delay}s")
        self.delay = delay
        self.response = response


@dataclass(frozen=True)
class Fault:
    """One injected failure. Build with the class methods; `times_out` faults become timeouts."""

    code: int = 0
    description: str = ""
    retry_after: int | None = None
    times_out: bool = False
    delay: float = 0.0
    applied: bool = False

    @classmethod
    def flood(cls, retry_after: int = 5) -> Fault:
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    @classmethod
    def blocked(cls) -> Fault:
        return cls(403, BLOCKED)

    @classmethod
    def chat_not_found(cls) -> Fault:
        return cls(400, CHAT_NOT_FOUND)

    @classmethod
    def server_error(cls, code: int = 500) -> Fault:
        phrase = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        return cls(code, phrase.get(code, "Internal Server Error"))

    @classmethod
    def bad_request(cls, description: str) -> Fault:
        return cls(400, f"Bad Request: {description}")

    @classmethod
    def timeout(cls, *, delay: float = 10.0, applied: bool = False) -> Fault:
        """`applied=True`: Telegram did the work but the answer never arrived (duplicates follow)."""
        return cls(times_out=True, delay=delay, applied=applied)

    def error(self) -> ApiError:
        return ApiError(self.code, self.description, retry_after=self.retry_after)


@dataclass
class FaultRule:
    """Injects `fault` into matching calls; `remaining=None` means every matching call."""

    fault: Fault
    method: str | None = None
    chat_id: int | None = None
    remaining: int | None = 1

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass(frozen=True)
class FloodControl:
    """Telegram's published sending limits, as token buckets."""

    global_per_second: float = 30.0
    global_burst: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    group_burst: int = 20


class _Bucket:
    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.stamp = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until one token is available (0 if one is there now)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class ChatMessage:
    """A message in a chat's history, as Telegram keeps it.

    `message` is the Bot API Message object (it carries only inline keyboards); the reply keyboard
    a bot message came with (or its removal / force_reply) is kept apart in `reply_keyboard`.
    """

    message: JSON
    from_bot: bool
    reply_keyboard: JSON | None = None

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])


@dataclass(frozen=True)
class ChatEvent:
    """What subscribers hear: a message added, edited or deleted, a callback answered, an action."""

    kind: Literal["message", "edited", "deleted", "callback_answer", "chat_action"]
    chat_id: int
    message: JSON | None = None
    data: JSON | None = None


@dataclass(frozen=True)
class CallbackAnswer:
    callback_query_id: str
    user_id: int
    chat_id: int | None
    text: str | None
    show_alert: bool
    url: str | None


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    content: bytes
    file_path: str
    fields: JSON = field(default_factory=dict)

    def as_dict(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            **self.fields,
        }


@dataclass
class _Chat:
    info: JSON
    started: bool = True
    blocked: bool = False
    bot_member: bool = True
    next_id: int = 1
    messages: dict[int, ChatMessage] = field(default_factory=dict)
    reply_keyboard: JSON | None = None
    menu_button: JSON | None = None
    actions: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.info["id"])

    @property
    def type(self) -> str:
        return str(self.info["type"])


@dataclass
class _Query:
    user_id: int
    chat_id: int | None
    answered: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    last_error_date: int | None = None
    last_error_message: str | None = None


class _Params:
    """Bot API parameters, coerced the way Telegram does (form values arrive as strings)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in {"true", "1"}
        return bool(value)

    def obj(self, name: str, what: str | None = None) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {what or name} JSON object") from None
        return value


Handler = Callable[[_Params, Mapping[str, Upload]], Awaitable[Any]]


class FakeTelegram:
    """The offline Telegram: state, Bot API methods, and the people's side of the chats."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        token: str | None = None,
        bot_id: int = 7000000001,
        bot_username: str = "gongzhi_bot",
        bot_name: str = "共治",
        flood: FloodControl | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.token = token
        self.flood = flood
        self.monotonic = monotonic
        self.bot: JSON = {"id": bot_id, "is_bot": True, "first_name": bot_name, "username": bot_username}
        self.calls: Counter[str] = Counter()
        self.too_many_requests = 0
        self.callback_answers: list[CallbackAnswer] = []
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, _Chat] = {}
        self._next_user_id = 100001
        self._next_group = 1
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._photo_sets: dict[str, list[JSON]] = {}
        self._next_file = 1
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._wakeup = asyncio.Event()
        self._poll_generation = 0
        self._queries: dict[str, _Query] = {}
        self._next_query = 1
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._default_menu_button: JSON = {"type": "commands"}
        self._faults: list[FaultRule] = []
        self._subscribers: list[tuple[int | None, asyncio.Queue[ChatEvent]]] = []
        self._buckets: dict[int | None, _Bucket] = {}
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._handlers: dict[str, tuple[str, Handler]] = {}
        for name in (
            "getMe getUpdates setWebhook deleteWebhook getWebhookInfo sendMessage editMessageText "
            "editMessageCaption editMessageReplyMarkup deleteMessage answerCallbackQuery sendPhoto "
            "sendDocument sendVoice sendLocation sendChatAction setMyCommands deleteMyCommands "
            "getMyCommands setChatMenuButton getChatMenuButton getFile getChat leaveChat"
        ).split():
            self._handlers[name.lower()] = (name, getattr(self, "_" + _snake(name)))

    # ------------------------------------------------------------------ people and chats

    def add_user(
        self,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        *,
        started: bool = True,
    ) -> JSON:
        """A Telegram account and its private chat with the bot.

        `started=False`: the person never pressed Start, so the bot cannot write first (403).
        """
        user: JSON = {"id": self._next_user_id, "is_bot": False, "first_name": first_name}
        self._next_user_id += 1
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user["id"]] = user
        chat_info = {"id": user["id"], "type": "private", "first_name": first_name}
        chat_info.update({k: user[k] for k in ("last_name", "username") if k in user})
        self._chats[user["id"]] = _Chat(info=chat_info, started=started)
        return dict(user)

    def add_group(self, title: str, *, username: str | None = None) -> JSON:
        """A supergroup the bot is a member of."""
        chat_id = -1001000000000 - self._next_group
        self._next_group += 1
        info: JSON = {"id": chat_id, "type": "supergroup", "title": title}
        if username:
            info["username"] = username
        self._chats[chat_id] = _Chat(info=info)
        return dict(info)

    def user(self, user_id: int) -> JSON:
        return dict(self._users[user_id])

    def chat(self, chat_id: int) -> JSON:
        return dict(self._chat(chat_id).info)

    def block(self, chat_id: int, *, deliver: bool = True) -> JSON:
        """The person blocks the bot (or a group removes it); Telegram tells the bot with my_chat_member."""
        chat = self._chat(chat_id)
        chat.blocked = True
        return self._member_update(chat, "kicked", deliver=deliver)

    def unblock(self, chat_id: int, *, deliver: bool = True) -> JSON:
        chat = self._chat(chat_id)
        chat.blocked = False
        chat.started = True
        return self._member_update(chat, "member", deliver=deliver)

    def is_blocked(self, chat_id: int) -> bool:
        return self._chat(chat_id).blocked

    def _member_update(self, chat: _Chat, status: str, *, deliver: bool) -> JSON:
        """The my_chat_member update Telegram sends when the bot's standing in a chat changes.

        In a private chat the person did it; in a group the bot left or an admin removed it.
        """
        actor = self._users.get(chat.id, self.bot)
        old = "kicked" if status == "member" else "member"
        update = {
            "my_chat_member": {
                "chat": dict(chat.info),
                "from": dict(actor),
                "date": self._now(),
                "old_chat_member": _member(old, self.bot),
                "new_chat_member": _member(status, self.bot),
            }
        }
        return self.push_update(update, deliver=deliver)

    # ------------------------------------------------------------------ what people do

    def user_message(
        self,
        user_id: int,
        content: JSON,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
        deliver: bool = True,
    ) -> JSON:
        """Record a message a person sends (text, photo, contact...) and return its Update.

        `content` holds the Message fields beyond the envelope, e.g. `{"text": ...}`; text gets
        the entities a Telegram client would mark (commands, mentions, links).
        """
        user = self._users[user_id]
        chat = self._chat(chat_id if chat_id is not None else user_id)
        if chat.blocked and chat.type == "private":
            raise ValueError(f"user {user_id} has blocked the bot; unblock first")
        chat.started = True
        body = dict(content)
        if "text" in body and "entities" not in body:
            entities = _client_entities(body["text"])
            if entities:
                body["entities"] = entities
        reply = None
        if reply_to is not None:
            reply = _copied(chat.messages[reply_to].message)
        record = self._store(chat, body, sender=user, from_bot=False, reply_to=reply)
        return self.push_update({"message": _copied(record.message)}, deliver=deliver)

    def user_text(self, user_id: int, text: str, *, chat_id: int | None = None, deliver: bool = True) -> JSON:
        return self.user_message(user_id, {"text": text}, chat_id=chat_id, deliver=deliver)

    def press_button(self, user_id: int, chat_id: int, message_id: int, data: str, *, deliver: bool = True) -> JSON:
        """A callback query for `data` on a stored message, carrying that message as it is now."""
        chat = self._chat(chat_id)
        record = chat.messages.get(message_id)
        if record is None:
            raise LookupError(f"no message {message_id} in chat {chat_id}")
        query_id = str(4000000000000000 + self._next_query)
        self._next_query += 1
        self._queries[query_id] = _Query(user_id=user_id, chat_id=chat_id)
        query = {
            "id": query_id,
            "from": dict(self._users[user_id]),
            "message": _copied(record.message),
            "chat_instance": str(abs(chat_id) * 7919 % 10**12),
            "data": data,
        }
        return self.push_update({"callback_query": query}, deliver=deliver)

    def store_file(self, kind: str, content: bytes, **fields: Any) -> StoredFile:
        """Keep bytes under a new file_id, as Telegram does for every upload."""
        number = self._next_file
        self._next_file += 1
        folder, ext = {
            "photo": ("photos", "jpg"),
            "voice": ("voice", "oga"),
            "document": ("documents", ""),
            "sticker": ("stickers", "webp"),
        }.get(kind, ("files", "bin"))
        if kind == "document":
            ext = PurePosixPath(str(fields.get("file_name") or "")).suffix.lstrip(".") or "bin"
        stored = StoredFile(
            file_id=f"fake-{kind}-{number:06d}",
            file_unique_id=f"u{number:06d}",
            kind=kind,
            content=content,
            file_path=f"{folder}/file_{number}.{ext}",
            fields=fields,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def store_photo(self, content: bytes) -> list[JSON]:
        """The PhotoSize list Telegram makes from one image: a thumbnail and the full size."""
        width, height = _image_size(content)
        scale = min(1.0, 90 / max(width, height, 1))
        small = self.store_file(
            "photo", content, width=max(1, round(width * scale)), height=max(1, round(height * scale))
        )
        full = self.store_file("photo", content, width=width, height=height)
        sizes = [small.as_dict(), full.as_dict()]
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return _copied(sizes)

    def file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def file_content(self, file_path: str) -> bytes | None:
        stored = self._files_by_path.get(file_path)
        return None if stored is None else stored.content

    # ------------------------------------------------------------------ reading the chats

    def history(self, chat_id: int) -> list[ChatMessage]:
        """Every message still in the chat, both directions, oldest first."""
        return list(self._chat(chat_id).messages.values())

    def messages(self, chat_id: int, *, from_bot: bool | None = None) -> list[JSON]:
        return [
            _copied(record.message)
            for record in self.history(chat_id)
            if from_bot is None or record.from_bot == from_bot
        ]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        record = self._chat(chat_id).messages.get(message_id)
        return None if record is None else _copied(record.message)

    def reply_keyboard(self, chat_id: int) -> JSON | None:
        """The reply keyboard the person currently sees in this chat, if any."""
        keyboard = self._chat(chat_id).reply_keyboard
        return _copied(keyboard)

    def chat_actions(self, chat_id: int) -> list[str]:
        return list(self._chat(chat_id).actions)

    def menu_button(self, chat_id: int | None = None) -> JSON:
        if chat_id is not None and self._chat(chat_id).menu_button is not None:
            return dict(self._chat(chat_id).menu_button or {})
        return dict(self._default_menu_button)

    def commands_for(self, chat_id: int, language_code: str | None = None) -> list[JSON]:
        """The command list a client shows in this chat, resolved through scopes like Telegram."""
        chat = self._chat(chat_id)
        scopes: list[JSON] = [{"type": "chat", "chat_id": chat_id}]
        scopes.append({"type": "all_private_chats"} if chat.type == "private" else {"type": "all_group_chats"})
        scopes.append({"type": "default"})
        lang = (language_code or "")[:2].lower()
        for scope in scopes:
            for code in [lang, ""] if lang else [""]:
                found = self._commands.get((_scope_key(scope), code))
                if found is not None:
                    return _copied(found)
        return []

    def counters(self) -> JSON:
        return {"calls": dict(self.calls), "too_many_requests": self.too_many_requests}

    def subscribe(self, chat_id: int | None = None) -> asyncio.Queue[ChatEvent]:
        """A queue of ChatEvents for one chat (or all chats); pass it to `unsubscribe` when done."""
        queue: asyncio.Queue[ChatEvent] = asyncio.Queue()
        self._subscribers.append((chat_id, queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[ChatEvent]) -> None:
        self._subscribers = [(c, q) for c, q in self._subscribers if q is not queue]

    async def next_bot_message(self, chat_id: int, *, after: int = 0) -> JSON:
        """The first bot message in the chat with an id above `after`, waiting for it if need be.

        Callers bound the wait themselves (`asyncio.timeout`).
        """
        queue = self.subscribe(chat_id)
        try:
            for record in self.history(chat_id):
                if record.from_bot and record.message_id > after:
                    return _copied(record.message)
            while True:
                event = await queue.get()
                message = event.message
                if event.kind == "message" and message and message["from"]["is_bot"] and message["message_id"] > after:
                    return message
        finally:
            self.unsubscribe(queue)

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        *,
        method: str | None = None,
        chat_id: int | None = None,
        error: Fault | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """Make the next `times` matching calls fail with `error` (`times=None`: until removed)."""
        rule = FaultRule(fault=error or Fault.server_error(), method=method, chat_id=chat_id, remaining=times)
        self._faults.append(rule)
        return rule

    def remove_fault(self, rule: FaultRule) -> None:
        self._faults = [r for r in self._faults if r is not rule]

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        for rule in self._faults:
            if rule.matches(method, chat_id):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self.remove_fault(rule)
                return rule.fault
        return None

    # ------------------------------------------------------------------ updates

    def push_update(self, payload: JSON, *, deliver: bool = True) -> JSON:
        """Give `payload` (one update type key) an update_id; queue it for getUpdates / the webhook.

        In-process tests feed the update to the Application themselves and pass `deliver=False`.
        """
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        if deliver:
            self._updates.append(update)
            self._notify()
        return update

    def pending_updates(self) -> int:
        return len(self._updates)

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    # ------------------------------------------------------------------ the door interface

    async def handle(
        self, method: str, params: Mapping[str, Any], files: Mapping[str, Upload] | None = None
    ) -> tuple[int, JSON]:
        """Answer one Bot API call: (HTTP status, Telegram's JSON envelope).

        Raises SimulatedTimeout when a timeout fault fires; the door decides how that looks.
        """
        entry = self._handlers.get(method.lower())
        if entry is None:
            self.calls[method] += 1
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        name, handler = entry
        self.calls[name] += 1
        wrapped = _Params(params)
        chat_id = _loose_int(params.get("chat_id"))
        fault = self._take_fault(name, chat_id)
        if fault is not None and fault.times_out:
            response = await self._run(handler, wrapped, files or {}) if fault.applied else None
            raise SimulatedTimeout(fault.delay, response)
        if fault is not None:
            return self._error(fault.error())
        return await self._run(handler, wrapped, files or {})

    async def _run(self, handler: Handler, params: _Params, files: Mapping[str, Upload]) -> tuple[int, JSON]:
        try:
            result = await handler(params, files)
        except ApiError as error:
            return self._error(error)
        return 200, {"ok": True, "result": result}

    def _error(self, error: ApiError) -> tuple[int, JSON]:
        if error.code == 429:
            self.too_many_requests += 1
        return error.code, error.envelope()

    def check_token(self, token: str) -> bool:
        return self.token is None or token == self.token

    async def aclose(self) -> None:
        """Stop webhook delivery; the core holds no other resources."""
        await self._stop_webhook()

    # ------------------------------------------------------------------ internals: chats & messages

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"unknown chat {chat_id}")
        return chat

    def _target(self, params: _Params, *, sending: bool = True) -> _Chat:
        raw = params.raw.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next(
                (c for c in self._chats.values() if c.info.get("username") == raw[1:] and c.type != "private"),
                None,
            )
        else:
            chat_id = _loose_int(raw)
            if chat_id is None:
                raise ApiError(400, CHAT_NOT_FOUND)
            chat = self._chats.get(chat_id)
        if chat is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        if sending:
            if chat.type == "private" and chat.blocked:
                raise ApiError(403, BLOCKED)
            if chat.type == "private" and not chat.started:
                raise ApiError(403, NOT_STARTED)
            if chat.type != "private" and chat.blocked:
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            if chat.type != "private" and not chat.bot_member:
                raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _store(
        self,
        chat: _Chat,
        content: JSON,
        *,
        sender: JSON,
        from_bot: bool,
        reply_keyboard: JSON | None = None,
        reply_to: JSON | None = None,
    ) -> ChatMessage:
        message_id = chat.next_id
        chat.next_id += 1
        message: JSON = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(chat.info),
            "date": self._now(),
            **content,
        }
        if reply_to is not None:
            reply_to.pop("reply_to_message", None)
            message["reply_to_message"] = reply_to
        record = ChatMessage(message=message, from_bot=from_bot, reply_keyboard=reply_keyboard)
        chat.messages[message_id] = record
        self._emit(ChatEvent("message", chat.id, _copied(message)))
        return record

    def _emit(self, event: ChatEvent) -> None:
        for chat_id, queue in self._subscribers:
            if chat_id is None or chat_id == event.chat_id:
                queue.put_nowait(event)

    def _check_flood(self, chat: _Chat) -> None:
        limits = self.flood
        if limits is None:
            return
        now = self.monotonic()
        overall = self._buckets.get(None)
        if overall is None:
            overall = self._buckets[None] = _Bucket(limits.global_per_second, limits.global_burst, now)
        own = self._buckets.get(chat.id)
        if own is None:
            if chat.type == "private":
                own = _Bucket(limits.private_per_second, limits.private_burst, now)
            else:
                own = _Bucket(limits.group_per_minute / 60, limits.group_burst, now)
            self._buckets[chat.id] = own
        overall.refill(now)
        own.refill(now)
        wait = max(overall.wait(), own.wait())
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        overall.tokens -= 1
        own.tokens -= 1

    def _reply_to(self, chat: _Chat, params: _Params) -> JSON | None:
        reply = params.obj("reply_parameters", "reply parameters")
        if reply is None and params.has("reply_to_message_id"):
            reply = {
                "message_id": params.integer("reply_to_message_id"),
                "allow_sending_without_reply": params.flag("allow_sending_without_reply"),
            }
        if not reply:
            return None
        record = chat.messages.get(int(reply.get("message_id", 0)))
        if record is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return _copied(record.message)

    def _send(self, chat: _Chat, params: _Params, content: JSON) -> JSON:
        inline, keyboard = _markup(params.obj("reply_markup", "reply keyboard markup"))
        reply_to = self._reply_to(chat, params)
        self._check_flood(chat)
        if inline is not None:
            content["reply_markup"] = inline
        if keyboard is not None:
            if "keyboard" in keyboard:
                chat.reply_keyboard = keyboard
            elif keyboard.get("remove_keyboard"):
                chat.reply_keyboard = None
        record = self._store(chat, content, sender=self.bot, from_bot=True, reply_keyboard=keyboard, reply_to=reply_to)
        return _copied(record.message)

    def _formatted(self, params: _Params, text_key: str, entities_key: str, limit: int) -> tuple[str, list[JSON]]:
        text = params.text(text_key, "") or ""
        mode = (params.text("parse_mode") or "").lower()
        if params.has(entities_key) and not mode:
            entities = params.obj(entities_key) or []
        elif mode == "html":
            text, entities = parse_html(text, self._users.get)
        elif mode:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        else:
            entities = []
        text, entities = _trim(text, entities)
        if len(text) > limit:
            what = "message is too long" if text_key == "text" else "message caption is too long"
            raise ApiError(400, f"Bad Request: {what}")
        return text, entities

    def _caption(self, params: _Params) -> JSON:
        caption, entities = self._formatted(params, "caption", "caption_entities", MAX_CAPTION)
        body: JSON = {}
        if caption:
            body["caption"] = caption
            if entities:
                body["caption_entities"] = entities
        return body

    def _input_file(
        self, params: _Params, files: Mapping[str, Upload], name: str, kind: str
    ) -> StoredFile | list[JSON]:
        """An uploaded part (new file_id) or a file_id received earlier, the way Telegram resolves them."""
        value = params.text(name)
        upload = files.get(name)
        if value and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            file_name, content, mime_type = upload
            if kind == "photo":
                return self.store_photo(content)
            fields: JSON = {}
            if kind == "document":
                fields = {"file_name": file_name, "mime_type": mime_type or _guess_mime(file_name)}
            elif kind == "voice":
                fields = {"duration": params.integer("duration", 1), "mime_type": "audio/ogg"}
            return self.store_file(kind, content, **fields)
        if not value:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        if value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        stored = self._files.get(value)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise ApiError(400, f"Bad Request: can't use file of type {stored.kind.title()} as {kind.title()}")
        if kind == "photo":
            return _copied(self._photo_sets[value])
        return stored

    def _editable(self, params: _Params) -> tuple[_Chat, ChatMessage]:
        if params.has("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._target(params)
        record = chat.messages.get(params.integer("message_id", 0) or 0)
        if record is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not record.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, record

    def _apply_edit(self, chat: _Chat, record: ChatMessage, changes: JSON, inline: JSON | None) -> JSON:
        current = record.message
        before = {k: current.get(k) for k in (*changes, "reply_markup")}
        after = {**changes, "reply_markup": inline}
        if _same(before, after):
            raise ApiError(400, NOT_MODIFIED)
        for key, value in after.items():
            if value in (None, [], ""):
                current.pop(key, None)
            else:
                current[key] = value
        current["edit_date"] = self._now()
        self._emit(ChatEvent("edited", chat.id, _copied(current)))
        return _copied(current)

    # ------------------------------------------------------------------ Bot API methods

    async def _get_me(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _send_message(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat = self._target(params)
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT)
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        preview = params.obj("link_preview_options")
        if preview:
            content["link_preview_options"] = preview
        return self._send(chat, params, content)

    async def _send_photo(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat = self._target(params)
        caption = self._caption(params)
        sizes = self._input_file(params, files, "photo", "photo")
        content: JSON = {"photo": sizes, **caption}
        if params.flag("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._send(chat, params, content)

    async def _send_document(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat = self._target(params)
        caption = self._caption(params)
        stored = self._input_file(params, files, "document", "document")
        assert isinstance(stored, StoredFile)
        return self._send(chat, params, {"document": stored.as_dict(), **caption})

    async def _send_voice(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat = self._target(params)
        caption = self._caption(params)
        stored = self._input_file(params, files, "voice", "voice")
        assert isinstance(stored, StoredFile)
        return self._send(chat, params, {"voice": stored.as_dict(), **caption})

    async def _send_location(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat = self._target(params)
        latitude, longitude = params.number("latitude"), params.number("longitude")
        if latitude is None or longitude is None or not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ApiError(400, "Bad Request: wrong latitude or longitude specified")
        return self._send(chat, params, {"location": {"latitude": latitude, "longitude": longitude}})

    async def _send_chat_action(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        chat = self._target(params)
        action = params.text("action") or ""
        if not action:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append(action)
        self._emit(ChatEvent("chat_action", chat.id, data={"action": action}))
        return True

    async def _edit_message_text(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat, record = self._editable(params)
        if "text" not in record.message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT)
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        inline = _inline_only(params.obj("reply_markup", "reply keyboard markup"))
        changes: JSON = {"text": text, "entities": entities or None}
        preview = params.obj("link_preview_options")
        if preview:
            changes["link_preview_options"] = preview
        return self._apply_edit(chat, record, changes, inline)

    async def _edit_message_caption(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat, record = self._editable(params)
        if not any(k in record.message for k in ("photo", "document", "voice")):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = self._caption(params)
        inline = _inline_only(params.obj("reply_markup", "reply keyboard markup"))
        changes = {"caption": caption.get("caption"), "caption_entities": caption.get("caption_entities")}
        return self._apply_edit(chat, record, changes, inline)

    async def _edit_message_reply_markup(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat, record = self._editable(params)
        inline = _inline_only(params.obj("reply_markup", "reply keyboard markup"))
        return self._apply_edit(chat, record, {}, inline)

    async def _delete_message(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        chat = self._target(params)
        message_id = params.integer("message_id", 0) or 0
        record = chat.messages.get(message_id)
        if record is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if chat.type != "private" and not record.from_bot:
            raise ApiError(400, "Bad Request: message can't be deleted")
        if self._now() - record.message["date"] > DELETE_WINDOW_SECONDS:
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        del chat.messages[message_id]
        self._emit(ChatEvent("deleted", chat.id, _copied(record.message)))
        return True

    async def _answer_callback_query(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        query_id = params.text("callback_query_id") or ""
        query = self._queries.get(query_id)
        if query is None or query.answered:
            raise ApiError(400, QUERY_INVALID)
        text = params.text("text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answered = True
        answer = CallbackAnswer(
            callback_query_id=query_id,
            user_id=query.user_id,
            chat_id=query.chat_id,
            text=text,
            show_alert=params.flag("show_alert"),
            url=params.text("url"),
        )
        self.callback_answers.append(answer)
        if query.chat_id is not None:
            self._emit(
                ChatEvent(
                    "callback_answer",
                    query.chat_id,
                    data={"text": answer.text, "show_alert": answer.show_alert, "user_id": answer.user_id},
                )
            )
        return True

    async def _set_my_commands(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        commands = params.obj("commands", "commands") or []
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            description = command.get("description", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or not 1 <= len(description) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        key = self._commands_key(params)
        if commands:
            self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self._commands.pop(key, None)
        return True

    async def _delete_my_commands(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _get_my_commands(self, params: _Params, files: Mapping[str, Upload]) -> list[JSON]:
        return _copied(self._commands.get(self._commands_key(params), []))

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.obj("scope", "scope") or {"type": "default"}
        kinds = {
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        }
        if not isinstance(scope, dict) or scope.get("type") not in kinds:
            raise ApiError(400, "Bad Request: wrong bot command scope type specified")
        if "chat_id" in scope and _loose_int(scope["chat_id"]) not in self._chats:
            raise ApiError(400, CHAT_NOT_FOUND)
        language = params.text("language_code", "") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: invalid language code specified")
        return _scope_key(scope), language

    async def _set_chat_menu_button(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        button = params.obj("menu_button", "menu button") or {"type": "default"}
        if button.get("type") not in {"default", "commands", "web_app"}:
            raise ApiError(400, "Bad Request: unsupported menu button type")
        if params.has("chat_id"):
            chat = self._target(params, sending=False)
            chat.menu_button = None if button["type"] == "default" else button
        else:
            self._default_menu_button = {"type": "commands"} if button["type"] == "default" else button
        return True

    async def _get_chat_menu_button(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat_id = params.integer("chat_id")
        if chat_id is not None and chat_id not in self._chats:
            raise ApiError(400, CHAT_NOT_FOUND)
        return self.menu_button(chat_id)

    async def _get_file(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    async def _get_chat(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        chat = self._target(params, sending=False)
        return {
            **chat.info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _leave_chat(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        chat = self._target(params, sending=False)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: method is available only for groups, supergroups and channels")
        if not chat.bot_member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        chat.bot_member = False
        self._member_update(chat, "left", deliver=True)
        return True

    async def _get_updates(self, params: _Params, files: Mapping[str, Upload]) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = params.integer("offset", 0) or 0
        limit = min(max(params.integer("limit", 100) or 100, 1), 100)
        timeout = max(params.integer("timeout", 0) or 0, 0)
        allowed = params.obj("allowed_updates", "allowed updates")
        if allowed is not None:
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            ready = [u for u in self._updates if _update_type(u) in self._allowed_updates][:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0:
                return _copied(ready)
            wakeup = self._wakeup
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)

    async def _set_webhook(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        url = params.text("url") or ""
        if not url:
            await self._stop_webhook()
            return True
        if not url.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        allowed = params.obj("allowed_updates", "allowed updates")
        if allowed is not None:
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        await self._stop_webhook()
        self._webhook = _Webhook(
            url=url,
            secret_token=params.text("secret_token"),
            max_connections=params.integer("max_connections", 40) or 40,
            allowed_updates=sorted(allowed) if allowed else None,
        )
        self._poll_generation += 1
        self._notify()
        self._webhook_task = asyncio.create_task(self._deliver_webhook(self._webhook))
        return True

    async def _delete_webhook(self, params: _Params, files: Mapping[str, Upload]) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        await self._stop_webhook()
        return True

    async def _get_webhook_info(self, params: _Params, files: Mapping[str, Upload]) -> JSON:
        hook = self._webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.allowed_updates:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    async def _stop_webhook(self) -> None:
        self._webhook = None
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_webhook(self, hook: _Webhook) -> None:
        """POST queued updates to the webhook in order, backing off while it fails, as Telegram does."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        backoff = 0.5
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            while self._webhook is hook:
                ready = [u for u in self._updates if _update_type(u) in self._allowed_updates]
                if not ready:
                    self._updates.clear()
                    await self._wakeup.wait()
                    continue
                update = ready[0]
                try:
                    response = await client.post(hook.url, json=update, headers=headers)
                    failure = (
                        None if response.is_success else f"Wrong response from the webhook: {response.status_code}"
                    )
                except httpx.HTTPError as exc:
                    failure = f"Connection failed: {exc.__class__.__name__}"
                if failure is None:
                    self._updates = [u for u in self._updates if u["update_id"] > update["update_id"]]
                    backoff = 0.5
                    continue
                hook.last_error_date, hook.last_error_message = self._now(), failure
                log.info("webhook delivery failed: %s", failure)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)


# ---------------------------------------------------------------------- HTML, as Telegram parses it

_SPACE = " \t\n\r\v\f"
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_USER_LINK = re.compile(r"tg://user\?id=(\d+)")


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int
    start: int
    expandable: bool


def parse_html(text: str, users: Callable[[int], JSON | None] = lambda _id: None) -> tuple[str, list[JSON]]:
    """Text and entities from HTML, with the errors Telegram's parser gives.

    One deliberate difference: Telegram keeps a stray `&` as text, this parser rejects it, so that
    a missing `html.escape` of user text shows up in tests rather than in a person's chat.
    """

    def byte(index: int) -> int:
        return len(text[:index].encode())

    def fail(reason: str) -> ApiError:
        return ApiError(400, f"Bad Request: can't parse entities: {reason}")

    out: list[str] = []
    u16 = 0
    stack: list[_Open] = []
    entities: list[JSON] = []
    code_languages: dict[tuple[int, int], str] = {}
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_entity(text, i)
            if decoded is None:
                raise fail(f"Character '&' at byte offset {byte(i)} must be escaped as &amp;")
            char, i = decoded
            out.append(char)
            u16 += _u16(char)
            continue
        if char != "<":
            run = _PLAIN_RUN.match(text, i)
            assert run is not None  # text[i] is neither '<' nor '&', so the run has at least one character
            out.append(run.group())
            u16 += _u16(run.group())
            i = run.end()
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {byte(begin)}")
            i += 1
            name_start = i
            while i < n and text[i] not in _SPACE and text[i] != ">":
                i += 1
            end_name = text[name_start:i].lower()
            while i < n and text[i] in _SPACE:
                i += 1
            if i >= n or text[i] != ">":
                raise fail(f"Unclosed end tag at byte offset {byte(begin)}")
            i += 1
            top = stack.pop()
            if end_name and end_name != top.tag:
                raise fail(
                    f'Unmatched end tag at byte offset {byte(begin)}, expected "</{top.tag}>", found "</{end_name}>"'
                )
            length = u16 - top.offset
            if length > 0:
                entity = _close_entity(top, length, "".join(out[top.start :]), users, entities, code_languages)
                if entity is not None:
                    entities.append(entity)
            continue
        name_start = i
        while i < n and text[i] not in _SPACE and text[i] != ">":
            i += 1
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {byte(begin)}")
        tag = text[name_start:i].lower()
        if tag not in _TAG_TYPES:
            raise fail(f'Unsupported start tag "{tag}" at byte offset {byte(begin)}')
        argument, expandable, i = _attributes(text, i, tag, byte(begin), fail)
        if tag == "span" and argument != "spoiler":
            raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {byte(begin)}')
        stack.append(_Open(tag, argument, u16, len(out), expandable))
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _attributes(text: str, i: int, tag: str, begin_byte: int, fail: Callable[[str], ApiError]) -> tuple[str, bool, int]:
    """Read a start tag's attributes from just after its name; returns (argument, expandable, next index)."""
    n = len(text)
    argument = ""
    expandable = False
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {begin_byte}")
        if text[i] == ">":
            return argument, expandable, i + 1
        name_start = i
        while i < n and text[i] not in _SPACE and text[i] not in "=>":
            i += 1
        attribute = text[name_start:i].lower()
        if not attribute:
            raise fail(f'Empty attribute name in the tag "{tag}" at byte offset {begin_byte}')
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {begin_byte}")
        if text[i] != "=":
            if tag == "blockquote" and attribute == "expandable":
                expandable = True
                continue
            raise fail(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {begin_byte}'
            )
        i += 1
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {begin_byte}")
        if text[i] in "'\"":
            quote = text[i]
            i += 1
            value: list[str] = []
            while i < n and text[i] != quote:
                decoded = _decode_entity(text, i) if text[i] == "&" else None
                if decoded is not None:
                    value.append(decoded[0])
                    i = decoded[1]
                else:
                    value.append(text[i])
                    i += 1
            i += 1
            attribute_value = "".join(value)
        else:
            token_start = i
            while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                i += 1
            attribute_value = text[token_start:i].lower()
            if i < n and text[i] not in _SPACE and text[i] != ">":
                raise fail(f"Unexpected end of name token at byte offset {len(text[:token_start].encode())}")
        if i >= n:
            raise fail(f"Unclosed start tag at byte offset {begin_byte}")
        if tag == "a" and attribute == "href":
            argument = attribute_value
        elif tag == "code" and attribute == "class" and attribute_value.startswith("language-"):
            argument = attribute_value.removeprefix("language-")
        elif tag == "span" and attribute == "class" and attribute_value.startswith("tg-"):
            argument = attribute_value.removeprefix("tg-")


def _close_entity(
    top: _Open,
    length: int,
    inner: str,
    users: Callable[[int], JSON | None],
    entities: list[JSON],
    code_languages: dict[tuple[int, int], str],
) -> JSON | None:
    entity: JSON = {"type": _TAG_TYPES[top.tag], "offset": top.offset, "length": length}
    if top.tag == "a":
        url = top.argument or inner
        if not url:
            return None
        mention = _USER_LINK.fullmatch(url)
        if mention:
            user_id = int(mention[1])
            user = users(user_id) or {"id": user_id, "is_bot": False, "first_name": ""}
            return {"type": "text_mention", "offset": top.offset, "length": length, "user": dict(user)}
        entity["url"] = url
    elif top.tag == "code":
        if top.argument:
            code_languages[(top.offset, length)] = top.argument
    elif top.tag == "pre":
        inner_code = next(
            (e for e in entities if e["type"] == "code" and e["offset"] == top.offset and e["length"] == length),
            None,
        )
        if inner_code is not None:
            entities.remove(inner_code)
            language = code_languages.get((top.offset, length))
            if language:
                entity["language"] = language
    elif top.tag == "blockquote" and top.expandable:
        entity["type"] = "expandable_blockquote"
    return entity


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    match = _HTML_ENTITY.match(text, i)
    if match is None:
        return None
    if match[3]:
        named = _NAMED_ENTITIES.get(match[3])
        return None if named is None else (named, match.end())
    code = int(match[1]) if match[1] else int(match[2], 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


def _copied(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (dicts, lists, scalars): what copy.deepcopy does, several times
    faster, since records are copied on every request and every update."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


_PLAIN_RUN = re.compile(r"[^<&]+")


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram drops leading and trailing whitespace; entities follow the kept text."""
    stripped = text.strip(_SPACE)
    if stripped == text:
        return text, entities
    lead = _u16(text[: len(text) - len(text.lstrip(_SPACE))])
    total = _u16(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


_CLIENT_ENTITY = re.compile(
    r"(?P<bot_command>(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/]))"
    r"|(?P<mention>(?<![\w@])@[A-Za-z0-9_]{4,32}\b)"
    r"|(?P<url>https?://[^\s<>\"]+)"
)


def _client_entities(text: str) -> list[JSON]:
    """The entities a Telegram app marks in what a person types."""
    return [
        {"type": match.lastgroup, "offset": _u16(text[: match.start()]), "length": _u16(match.group())}
        for match in _CLIENT_ENTITY.finditer(text)
    ]


# ---------------------------------------------------------------------- keyboards

_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "login_url",
    "web_app",
    "pay",
    "callback_game",
    "copy_text",
)
_BAD_MARKUP = "Bad Request: can't parse reply keyboard markup JSON object"


def _markup(raw: Any) -> tuple[JSON | None, JSON | None]:
    """Split reply_markup into (inline keyboard for the message, reply keyboard state)."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise ApiError(400, _BAD_MARKUP)
    if "inline_keyboard" in raw:
        return _inline(raw), None
    if "keyboard" in raw:
        rows = raw["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(400, _BAD_MARKUP)
        keyboard = {k: v for k, v in raw.items() if k != "keyboard"}
        keyboard["keyboard"] = [[{"text": b} if isinstance(b, str) else dict(b) for b in row] for row in rows]
        if any(not button.get("text") for row in keyboard["keyboard"] for button in row):
            raise ApiError(400, "Bad Request: keyboard button text is empty")
        if not any(keyboard["keyboard"]):
            raise ApiError(400, "Bad Request: keyboard must be non-empty")
        return None, keyboard
    if raw.get("remove_keyboard") or raw.get("force_reply"):
        return None, dict(raw)
    raise ApiError(400, _BAD_MARKUP)


def _inline(raw: JSON) -> JSON | None:
    rows = raw["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, _BAD_MARKUP)
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise ApiError(400, "Bad Request: reply markup is too long")
    clean_rows = []
    for row in rows:
        clean_row = []
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400,
                    'Bad Request: can\'t parse inline keyboard button: Field "text" must be of type String',
                )
            if not any(button.get(action) is not None for action in _BUTTON_ACTIONS):
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"(https?|tg)://\S+$", str(url)):
                raise ApiError(400, f"Bad Request: inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
            clean_row.append({k: v for k, v in button.items() if v is not None})
        if clean_row:
            clean_rows.append(clean_row)
    return {"inline_keyboard": clean_rows} if clean_rows else None


def _inline_only(raw: Any) -> JSON | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "inline_keyboard" not in raw:
        raise ApiError(400, "Bad Request: inline keyboard expected")
    return _inline(raw)


# ---------------------------------------------------------------------- small helpers


def _same(before: JSON, after: JSON) -> bool:
    def norm(value: Any) -> Any:
        return None if value in ([], "", {}) else value

    return all(norm(before.get(k)) == norm(after.get(k)) for k in after)


def _member(status: str, user: JSON) -> JSON:
    member: JSON = {"status": status, "user": dict(user)}
    if status == "kicked":
        member["until_date"] = 0
    return member


def _scope_key(scope: JSON) -> str:
    clean = dict(scope)
    if "chat_id" in clean:
        clean["chat_id"] = _loose_int(clean["chat_id"])
    if "user_id" in clean:
        clean["user_id"] = _loose_int(clean["user_id"])
    return json.dumps(clean, sort_keys=True)


def _update_type(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _loose_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _guess_mime(file_name: str) -> str:
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def _image_size(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG, or a typical phone photo size if unreadable."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return int(width), int(height)
    if content.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                break
            marker = content[i + 1]
            size = struct.unpack(">H", content[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", content[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + size
    return 1280, 960


def tiny_png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A valid PNG of one colour: a photo a person can send in tests and the sandbox can show."""
    row = b"\x00" + bytes(rgb) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

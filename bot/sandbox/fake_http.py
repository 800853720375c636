"""Door 2 into the offline Telegram: a tornado HTTP server speaking the Bot API on 127.0.0.1.

PTB runs against it unchanged with `ApplicationBuilder().base_url("http://127.0.0.1:PORT/bot")`,
which is how the sandbox page and the tests that kill the bot process use the same core. Small
`/_control/...` endpoints play the people's side and read results over HTTP; a chat's live event
stream (`/_control/events`), uploads from a person (`/_control/upload`) and file downloads by id
(`/_control/files/<file_id>`) are what the sandbox's web page is built on. `routes=` adds more
routes on the same port (the page itself).

Run standalone for benchmarks:
    python -m bot.sandbox.fake_http --port 8081 --flood --latency-ms 150 --jitter-ms 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import socket
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from bot.sandbox.fake_telegram import (
    JSON,
    ChatEvent,
    FakeTelegram,
    Fault,
    FloodControl,
    SimulatedTimeout,
    StoredFile,
    Upload,
)

T = TypeVar("T")


class FakeTelegramServer:
    """Serves a FakeTelegram over HTTP; `start()` returns the bound port (0 picks a free one)."""

    def __init__(
        self,
        core: FakeTelegram,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        jitter: float = 0.0,
        routes: Sequence[tuple[Any, ...]] = (),
    ) -> None:
        """`routes`: more tornado routes served on the same port (the sandbox's web page)."""
        self.core = core
        self.host = host
        self.port = port
        self.latency = latency
        self.jitter = jitter
        self._server: HTTPServer | None = None
        self._sockets: list[socket.socket] = []
        self._inflight: set[asyncio.Future[Any]] = set()
        self._random = random.Random()
        self._extra_routes = list(routes)

    @property
    def base_url(self) -> str:
        """What to give PTB's `base_url`."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self) -> int:
        routes = [
            (r"/bot([^/]+)/([A-Za-z]+)", _ApiHandler),
            (r"/file/bot([^/]+)/(.+)", _FileHandler),
            (r"/_control/users", _UsersHandler),
            (r"/_control/groups", _GroupsHandler),
            (r"/_control/updates", _UpdatesHandler),
            (r"/_control/send", _SendHandler),
            (r"/_control/press", _PressHandler),
            (r"/_control/faults", _FaultsHandler),
            (r"/_control/counters", _CountersHandler),
            (r"/_control/chats/(-?\d+)/messages", _MessagesHandler),
            (r"/_control/chats/(-?\d+)/next", _NextMessageHandler),
            (r"/_control/chats/(-?\d+)/(block|unblock)", _BlockHandler),
            (r"/_control/events", _EventsHandler),
            (r"/_control/upload", _UploadHandler),
            (r"/_control/files/([A-Za-z0-9_-]+)", _StoredFileHandler),
            *self._extra_routes,
        ]
        application = Application(routes, server=self)
        self._sockets = bind_sockets(self.port, self.host)
        self.port = self._sockets[0].getsockname()[1]
        self._server = HTTPServer(application, max_body_size=60 * 1024 * 1024)
        self._server.add_sockets(self._sockets)
        return self.port

    async def stop(self) -> None:
        for future in list(self._inflight):
            future.cancel()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        await self.core.aclose()

    async def delay(self) -> None:
        """The network's round trip, for benchmarks that must feel Telegram's latency."""
        if self.latency or self.jitter:
            await asyncio.sleep(max(0.0, self.latency + self._random.uniform(-self.jitter, self.jitter)))

    async def track(self, work: Awaitable[T]) -> T:
        """Run `work` so that a closed connection or `stop()` can cancel it (long polls)."""
        future = asyncio.ensure_future(work)
        self._inflight.add(future)
        try:
            return await future
        finally:
            self._inflight.discard(future)


class _Handler(RequestHandler):
    @property
    def server(self) -> FakeTelegramServer:
        return self.settings["server"]  # type: ignore[no-any-return]

    @property
    def core(self) -> FakeTelegram:
        return self.server.core

    def check_xsrf_cookie(self) -> None:
        """Bot API clients send no cookies."""

    def reply(self, status: int, body: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))

    def body_json(self) -> JSON:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self.reply(400, {"error": "expected a JSON object"})
            raise _Answered
        return data


class _Answered(Exception):
    """The handler has already written its answer."""


class _ApiHandler(_Handler):
    _work: asyncio.Future[tuple[int, JSON]] | None = None

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)

    async def post(self, token: str, method: str) -> None:
        await self.server.delay()
        if not self.core.check_token(token):
            self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params, files = self._parameters()
        self._work = asyncio.ensure_future(self.core.handle(method, params, files))
        try:
            status, body = await self.server.track(self._work)
        except SimulatedTimeout as exc:
            await asyncio.sleep(exc.delay)
            status, body = exc.response or (
                504,
                {"ok": False, "error_code": 504, "description": "Gateway Timeout"},
            )
        except asyncio.CancelledError:
            return
        self.reply(status, body)

    def on_connection_close(self) -> None:
        """A client that hangs up (a killed bot) ends its long poll, as at Telegram."""
        if self._work is not None:
            self._work.cancel()

    def _parameters(self) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = {
            name: values[-1].decode("utf-8", "replace") for name, values in self.request.arguments.items()
        }
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and self.request.body:
            with contextlib.suppress(ValueError):
                data = json.loads(self.request.body)
                if isinstance(data, dict):
                    params.update(data)
        files = {
            name: (parts[-1].filename, parts[-1].body, parts[-1].content_type)
            for name, parts in self.request.files.items()
        }
        return params, files


class _FileHandler(_Handler):
    async def get(self, token: str, path: str) -> None:
        await self.server.delay()
        if not self.core.check_token(token):
            self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        content = self.core.file_content(path)
        if content is None:
            self.reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(content)


class _UsersHandler(_Handler):
    """POST {first_name, last_name?, username?, language_code?, started?} -> the new User."""

    def post(self) -> None:
        with contextlib.suppress(_Answered):
            data = self.body_json()
            user = self.core.add_user(
                data["first_name"],
                data.get("last_name"),
                data.get("username"),
                data.get("language_code"),
                started=bool(data.get("started", True)),
            )
            self.reply(200, user)


class _GroupsHandler(_Handler):
    """POST {title, username?} -> the new supergroup Chat."""

    def post(self) -> None:
        with contextlib.suppress(_Answered):
            data = self.body_json()
            self.reply(200, self.core.add_group(data["title"], username=data.get("username")))


class _UpdatesHandler(_Handler):
    """POST one update body without update_id (e.g. {"message": {...}}) -> the queued Update."""

    def post(self) -> None:
        with contextlib.suppress(_Answered):
            self.reply(200, self.core.push_update(self.body_json()))


class _SendHandler(_Handler):
    """POST {user_id, chat_id?, text? | contact? | location? | ...message fields} -> the Update.

    The person writes to the bot; text gets the entities a Telegram app would mark.
    """

    def post(self) -> None:
        with contextlib.suppress(_Answered):
            data = self.body_json()
            user_id = int(data.pop("user_id"))
            chat_id = data.pop("chat_id", None)
            reply_to = data.pop("reply_to", None)
            try:
                update = self.core.user_message(
                    user_id,
                    data,
                    chat_id=None if chat_id is None else int(chat_id),
                    reply_to=None if reply_to is None else int(reply_to),
                )
            except (KeyError, ValueError) as exc:
                self.reply(400, {"error": str(exc)})
                return
            self.reply(200, update)


class _PressHandler(_Handler):
    """POST {user_id, chat_id, message_id, data} -> the callback query Update."""

    def post(self) -> None:
        with contextlib.suppress(_Answered):
            data = self.body_json()
            try:
                update = self.core.press_button(
                    int(data["user_id"]), int(data["chat_id"]), int(data["message_id"]), str(data["data"])
                )
            except (KeyError, LookupError) as exc:
                self.reply(400, {"error": str(exc)})
                return
            self.reply(200, update)


class _FaultsHandler(_Handler):
    """POST {method?, chat_id?, times?, code, description, retry_after?} or {timeout: delay, applied?}.

    DELETE removes every injected fault.
    """

    def post(self) -> None:
        with contextlib.suppress(_Answered):
            data = self.body_json()
            if "timeout" in data:
                fault = Fault.timeout(delay=float(data["timeout"]), applied=bool(data.get("applied")))
            elif data.get("code") == 429:
                fault = Fault.flood(int(data.get("retry_after", 5)))
            else:
                fault = Fault(int(data.get("code", 500)), str(data.get("description", "Internal Server Error")))
            self.core.fail_next(
                method=data.get("method"),
                chat_id=data.get("chat_id"),
                error=fault,
                times=data.get("times", 1),
            )
            self.reply(200, {"ok": True})

    def delete(self) -> None:
        self.core.clear_faults()
        self.reply(200, {"ok": True})


class _CountersHandler(_Handler):
    def get(self) -> None:
        self.reply(200, {**self.core.counters(), "pending_updates": self.core.pending_updates()})


class _MessagesHandler(_Handler):
    """GET -> every message in the chat, both directions, plus the reply keyboard shown."""

    def get(self, chat_id: str) -> None:
        try:
            messages = self.core.messages(int(chat_id))
        except KeyError:
            self.reply(404, {"error": f"unknown chat {chat_id}"})
            return
        self.reply(200, {"messages": messages, "reply_keyboard": self.core.reply_keyboard(int(chat_id))})


class _NextMessageHandler(_Handler):
    """GET ?after=<message_id>&timeout=<seconds> -> the next bot message, or 204 if none came."""

    async def get(self, chat_id: str) -> None:
        after = int(self.get_argument("after", "0"))
        timeout = float(self.get_argument("timeout", "10"))
        try:
            async with asyncio.timeout(timeout):
                message = await self.server.track(self.core.next_bot_message(int(chat_id), after=after))
        except TimeoutError:
            self.set_status(204)
            self.finish()
            return
        except KeyError:
            self.reply(404, {"error": f"unknown chat {chat_id}"})
            return
        except asyncio.CancelledError:
            return
        self.reply(200, message)


class _BlockHandler(_Handler):
    """POST -> the person blocks (or unblocks) the bot; the my_chat_member Update is queued."""

    def post(self, chat_id: str, action: str) -> None:
        try:
            update = (self.core.block if action == "block" else self.core.unblock)(int(chat_id))
        except KeyError:
            self.reply(404, {"error": f"unknown chat {chat_id}"})
            return
        self.reply(200, update)


class _EventsHandler(_Handler):
    """GET ?chat_id=<id> -> server-sent events: the chat as it is now, then each change as it happens.

    Every event is one JSON object: `kind` (snapshot, message, edited, deleted, callback_answer,
    chat_action), `chat_id`, `message` or `messages` or `data`, plus the reply keyboard the person sees
    and the chat's command list at that moment. Subscribing and the snapshot happen in one step, so
    nothing falls between them.
    """

    HEARTBEAT_SECONDS = 15.0
    _closed = False

    async def get(self) -> None:
        try:
            chat_id = int(self.get_argument("chat_id"))
            snapshot = self._state(chat_id, {"kind": "snapshot", "messages": self.core.messages(chat_id)})
        except (KeyError, ValueError):
            self.reply(404, {"error": "unknown chat"})
            return
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        queue = self.core.subscribe(chat_id)
        try:
            await self._send(snapshot)
            while not self._closed:
                try:
                    async with asyncio.timeout(self.HEARTBEAT_SECONDS):
                        event = await self.server.track(queue.get())
                except TimeoutError:
                    self.write(": keep-alive\n\n")
                    await self.flush()
                    continue
                await self._send(self._state(chat_id, _event_body(event)))
        except (asyncio.CancelledError, StreamClosedError):
            return
        finally:
            self.core.unsubscribe(queue)

    def on_connection_close(self) -> None:
        self._closed = True

    def _state(self, chat_id: int, body: JSON) -> JSON:
        user = self.core.user(chat_id) if chat_id > 0 else {}
        return {
            **body,
            "chat_id": chat_id,
            "keyboard": self.core.reply_keyboard(chat_id),
            "commands": self.core.commands_for(chat_id, user.get("language_code")),
        }

    async def _send(self, body: JSON) -> None:
        self.write(f"data: {json.dumps(body, ensure_ascii=False)}\n\n")
        await self.flush()


def _event_body(event: ChatEvent) -> JSON:
    body: JSON = {"kind": event.kind}
    if event.message is not None:
        body["message"] = event.message
    if event.data is not None:
        body["data"] = event.data
    return body


class _UploadHandler(_Handler):
    """POST multipart: user_id, kind (photo | voice | document), caption?, duration?, chat_id?, and the
    file part `file` -> the Update of the person sending it, as a Telegram app uploads a file."""

    def post(self) -> None:
        parts = self.request.files.get("file")
        kind = self.get_body_argument("kind", "")
        if not parts or kind not in {"photo", "voice", "document"}:
            self.reply(400, {"error": "expected a file part and kind photo, voice or document"})
            return
        part = parts[0]
        body: JSON
        if kind == "photo":
            body = {"photo": self.core.store_photo(part.body)}
        elif kind == "voice":
            duration = max(1, int(float(self.get_body_argument("duration", "1"))))
            voice = self.core.store_file(
                "voice", part.body, duration=duration, mime_type=part.content_type or "audio/ogg"
            )
            body = {"voice": voice.as_dict()}
        else:
            mime_type = part.content_type or "application/octet-stream"
            document = self.core.store_file(
                "document", part.body, file_name=part.filename, mime_type=mime_type
            )
            body = {"document": document.as_dict()}
        caption = self.get_body_argument("caption", "")
        if caption:
            body["caption"] = caption
        chat_id = self.get_body_argument("chat_id", "")
        try:
            update = self.core.user_message(
                int(self.get_body_argument("user_id")), body, chat_id=int(chat_id) if chat_id else None
            )
        except (KeyError, ValueError) as exc:
            self.reply(400, {"error": str(exc)})
            return
        self.reply(200, update)


class _StoredFileHandler(_Handler):
    """GET -> the bytes behind a file_id (what a Telegram app downloads to show a photo or play a voice)."""

    def get(self, file_id: str) -> None:
        stored = self.core.file(file_id)
        if stored is None:
            self.reply(404, {"error": f"unknown file {file_id}"})
            return
        self.set_header("Content-Type", _content_type(stored))
        self.set_header("Cache-Control", "max-age=86400, immutable")
        self.finish(stored.content)


def _content_type(stored: StoredFile) -> str:
    declared = stored.fields.get("mime_type")
    if declared:
        return str(declared)
    if stored.content.startswith(b"\x89PNG"):
        return "image/png"
    if stored.content.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if stored.content[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT/SIGTERM; prints the base URL for the bot process to use."""
    core = FakeTelegram(token=args.token, flood=FloodControl() if args.flood else None)
    server = FakeTelegramServer(
        core, host=args.host, port=args.port, latency=args.latency_ms / 1000, jitter=args.jitter_ms / 1000
    )
    await server.start()
    print(f"fake Telegram listening on {server.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="An offline Telegram Bot API for the sandbox and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="accept only this bot token (default: any)")
    parser.add_argument("--flood", action="store_true", help="answer 429 beyond Telegram's sending limits")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()

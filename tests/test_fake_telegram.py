"""The offline Telegram answers like Telegram, through both doors, and the people helpers drive PTB."""

from __future__ import annotations

import asyncio
import html
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as TornadoApplication
from tornado.web import RequestHandler

from bot.app import build_application
from bot.clock import Clock
from bot.config import Settings
from bot.sandbox.fake_http import FakeTelegramServer
from bot.sandbox.fake_request import FakeRequest
from bot.sandbox.fake_telegram import FakeTelegram, Fault, FloodControl, parse_html, tiny_png
from tests.support.people import BotHarness, HandlerError

TOKEN = "123456:offline-test"


@pytest.fixture
async def core() -> AsyncIterator[FakeTelegram]:
    telegram = FakeTelegram()
    yield telegram
    await telegram.aclose()


@pytest.fixture
async def bot(core: FakeTelegram) -> AsyncIterator[Bot]:
    request = FakeRequest(core)
    async with Bot(
        TOKEN,
        base_url="http://fake/bot",
        base_file_url="http://fake/file/bot",
        request=request,
        get_updates_request=request,
    ) as telegram_bot:
        yield telegram_bot


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=label) for label in labels]])


# ---------------------------------------------------------------------- the core through door 1


async def test_message_ids_count_per_chat_in_both_directions(core: FakeTelegram, bot: Bot) -> None:
    alice, bob = core.add_user("Alice"), core.add_user("Bob")
    first = await bot.send_message(alice["id"], "one")
    core.user_text(alice["id"], "hello", deliver=False)
    second = await bot.send_message(alice["id"], "two")
    to_bob = await bot.send_message(bob["id"], "one")
    assert (first.message_id, second.message_id, to_bob.message_id) == (1, 3, 1)
    assert [m["message_id"] for m in core.messages(alice["id"])] == [1, 2, 3]
    assert [m["text"] for m in core.messages(alice["id"], from_bot=True)] == ["one", "two"]
    assert bot.username == "gongzhi_bot"


async def test_edits_replace_content_and_refuse_when_nothing_changes(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    sent = await bot.send_message(alice["id"], "<b>Choose</b>", parse_mode="HTML", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "<b>Choose</b>", alice["id"], sent.message_id, parse_mode="HTML", reply_markup=keyboard("a")
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(alice["id"], sent.message_id, reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", alice["id"], 99)

    edited = await bot.edit_message_text("<i>Chosen</i>", alice["id"], sent.message_id, parse_mode="HTML")
    assert edited.text == "Chosen" and edited.reply_markup is None and edited.edit_date is not None
    stored = core.message(alice["id"], sent.message_id)
    assert stored is not None and "reply_markup" not in stored
    assert stored["entities"] == [{"type": "italic", "offset": 0, "length": 6}]

    user_update = core.user_text(alice["id"], "mine", deliver=False)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", alice["id"], user_update["message"]["message_id"])


async def test_deleted_messages_leave_the_history(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    sent = await bot.send_message(alice["id"], "soon gone")
    events = core.subscribe(alice["id"])
    assert await bot.delete_message(alice["id"], sent.message_id)
    assert core.messages(alice["id"]) == []
    assert (await events.get()).kind == "deleted"
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(alice["id"], sent.message_id)


async def test_bots_delete_only_within_48_hours() -> None:
    now = [datetime(2025, 3, 3, tzinfo=UTC)]
    core = FakeTelegram(clock=lambda: now[0])
    alice = core.add_user("Alice")
    group = core.add_group("Lane 3")
    for chat_id in (alice["id"], alice["id"], group["id"]):
        await core.handle("sendMessage", {"chat_id": chat_id, "text": "x"})
    core.user_text(alice["id"], "hi", chat_id=group["id"], deliver=False)
    assert (await core.handle("deleteMessage", {"chat_id": group["id"], "message_id": 2}))[1]["description"] == (
        "Bad Request: message can't be deleted"
    )
    now[0] += timedelta(hours=47)
    assert (await core.handle("deleteMessage", {"chat_id": alice["id"], "message_id": 1}))[0] == 200
    now[0] += timedelta(hours=2)
    status, body = await core.handle("deleteMessage", {"chat_id": alice["id"], "message_id": 2})
    assert status == 400 and body["description"] == "Bad Request: message can't be deleted for everyone"


@pytest.mark.parametrize(
    "text",
    [
        "a < b",
        "<b>open",
        "<b>x</i>",
        "</b>",
        "<br>",
        "<span>x</span>",
        "<div>x</div>",
        "Tom & Jerry",
        "<a href=x'y>z</a>",
    ],
)
async def test_html_that_telegram_cannot_parse_is_refused(core: FakeTelegram, bot: Bot, text: str) -> None:
    alice = core.add_user("Alice")
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(alice["id"], text, parse_mode="HTML")
    assert core.messages(alice["id"]) == []


def test_html_becomes_text_and_utf16_entities() -> None:
    text, entities = parse_html(
        "街道 👍 <b>粗<i>斜</i></b> &lt;tag&gt; &amp; &#x4E2D; "
        '<a href="https://example.org/?a=1&amp;b=2">链接</a> <tg-spoiler>秘</tg-spoiler> '
        '<span class="tg-spoiler">密</span> <pre><code class="language-python">x=1'
        "</code></pre> <blockquote expandable>引</blockquote> <a href='tg://user?id=42'>人</a>"
    )
    assert text == "街道 👍 粗斜 <tag> & 中 链接 秘 密 x=1 引 人"
    by_type = {e["type"]: e for e in entities}
    assert by_type["bold"] == {"type": "bold", "offset": 6, "length": 2}
    assert by_type["italic"] == {"type": "italic", "offset": 7, "length": 1}
    assert by_type["text_link"]["url"] == "https://example.org/?a=1&b=2"
    assert by_type["pre"] == {"type": "pre", "offset": 26, "length": 3, "language": "python"}
    assert by_type["expandable_blockquote"]["length"] == 1
    assert by_type["text_mention"]["user"]["id"] == 42
    assert "code" not in by_type
    assert [e["type"] for e in entities].count("spoiler") == 2


async def test_length_limits_count_text_after_parsing(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    fits = await bot.send_message(alice["id"], "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
    assert len(fits.text) == 4096
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice["id"], "x" * 4097)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(alice["id"], tiny_png(), caption="c" * 1025)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice["id"], "<b> </b>\n", parse_mode="HTML")


async def test_callback_data_is_limited_to_64_bytes(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            alice["id"],
            "x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("路灯", callback_data="路" * 22)]]),
        )
    fine = InlineKeyboardMarkup([[InlineKeyboardButton("路灯", callback_data="r:" + "9" * 62)]])
    assert (await bot.send_message(alice["id"], "x", reply_markup=fine)).reply_markup == fine


async def test_who_cannot_be_written_to(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    stranger = core.add_user("Stranger", started=False)
    update = core.block(alice["id"])
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice["id"], "hi")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(stranger["id"], "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(123, "hi")
    core.unblock(alice["id"])
    assert (await bot.send_message(alice["id"], "back")).text == "back"


async def test_injected_faults_surface_as_ptb_errors(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    core.fail_next(method="sendMessage", chat_id=alice["id"], error=Fault.flood(retry_after=7))
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(alice["id"], "x")
    assert flood.value.retry_after == timedelta(seconds=7)
    assert core.too_many_requests == 1

    core.fail_next(error=Fault.chat_not_found())
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(alice["id"], "x")
    core.fail_next(method="sendmessage", error=Fault.blocked())
    with pytest.raises(Forbidden):
        await bot.send_message(alice["id"], "x")

    core.fail_next(method="sendMessage", error=Fault.timeout())
    with pytest.raises(TimedOut):
        await bot.send_message(alice["id"], "lost request")
    core.fail_next(method="sendMessage", error=Fault.timeout(applied=True))
    with pytest.raises(TimedOut):
        await bot.send_message(alice["id"], "lost answer")
    assert [m["text"] for m in core.messages(alice["id"])] == ["lost answer"]

    rule = core.fail_next(method="sendMessage", error=Fault.server_error(502), times=None)
    for _ in range(2):
        with pytest.raises(Exception, match="Bad Gateway"):
            await bot.send_message(alice["id"], "x")
    core.remove_fault(rule)
    assert (await bot.send_message(alice["id"], "ok")).text == "ok"
    assert core.calls["sendMessage"] == 8


async def test_flood_limits_answer_429_until_time_passes() -> None:
    now = [0.0]
    core = FakeTelegram(flood=FloodControl(), monotonic=lambda: now[0])
    alice = core.add_user("Alice")
    group = core.add_group("Street")
    for text in ("1", "2", "3"):
        assert (await core.handle("sendMessage", {"chat_id": alice["id"], "text": text}))[0] == 200
    status, body = await core.handle("sendMessage", {"chat_id": alice["id"], "text": "4"})
    assert status == 429 and body["parameters"]["retry_after"] == 1
    now[0] += 1.0
    assert (await core.handle("sendMessage", {"chat_id": alice["id"], "text": "4"}))[0] == 200
    for n in range(20):
        assert (await core.handle("sendMessage", {"chat_id": group["id"], "text": str(n)}))[0] == 200
        now[0] += 0.05
    status, body = await core.handle("sendMessage", {"chat_id": group["id"], "text": "21"})
    assert status == 429 and body["parameters"]["retry_after"] == 2
    assert core.counters()["too_many_requests"] == 2


async def test_files_people_send_can_be_fetched_and_resent(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    picture = tiny_png(30, 20)
    update = core.user_message(alice["id"], {"photo": core.store_photo(picture)}, deliver=False)
    sizes = update["message"]["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [(30, 20), (30, 20)]
    file = await bot.get_file(sizes[-1]["file_id"])
    assert bytes(await file.download_as_bytearray()) == picture

    resent = await bot.send_photo(alice["id"], sizes[-1]["file_id"], caption="<b>收到</b>", parse_mode="HTML")
    assert resent.photo[-1].file_id == sizes[-1]["file_id"] and resent.caption == "收到"
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type photo as document"):
        await bot.send_document(alice["id"], sizes[-1]["file_id"])
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(alice["id"], "no-such-file")

    sent = await bot.send_document(alice["id"], InputFile(b"id,state\n1,open\n", filename="reports.csv"))
    assert sent.document.file_name == "reports.csv" and sent.document.mime_type == "text/csv"
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"id,state\n1,open\n"
    voice = await bot.send_voice(alice["id"], InputFile(b"OggS....", filename="v.ogg"), duration=2)
    assert voice.voice.mime_type == "audio/ogg"
    assert core.messages(alice["id"])[-1]["voice"]["duration"] == 2
    place = await bot.send_location(alice["id"], 31.59, 120.35)
    assert place.location.latitude == 31.59


async def test_callback_queries_are_answered_once(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    sent = await bot.send_message(alice["id"], "Pick", reply_markup=keyboard("yes"))
    update = core.press_button(alice["id"], alice["id"], sent.message_id, "yes", deliver=False)
    query_id = update["callback_query"]["id"]
    assert update["callback_query"]["message"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "yes"
    assert await bot.answer_callback_query(query_id, text="Done", show_alert=True)
    assert core.callback_answers[-1].text == "Done" and core.callback_answers[-1].show_alert
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)


async def test_reply_keyboards_stay_until_removed(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice")
    markup = ReplyKeyboardMarkup([[KeyboardButton("Phone", request_contact=True)], ["Help"]])
    sent = await bot.send_message(alice["id"], "Share your phone", reply_markup=markup)
    assert sent.reply_markup is None
    shown = core.reply_keyboard(alice["id"])
    assert shown is not None and [b["text"] for row in shown["keyboard"] for b in row] == ["Phone", "Help"]
    await bot.send_message(alice["id"], "Thanks", reply_markup=ReplyKeyboardRemove())
    assert core.reply_keyboard(alice["id"]) is None
    with pytest.raises(BadRequest, match="Inline keyboard expected"):
        await bot.edit_message_reply_markup(alice["id"], sent.message_id, reply_markup=markup)  # type: ignore[arg-type]


async def test_commands_resolve_by_scope_and_language(core: FakeTelegram, bot: Bot) -> None:
    alice, bob = core.add_user("Alice"), core.add_user("Bob")
    await bot.set_my_commands([BotCommand("start", "开始")])
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    await bot.set_my_commands([BotCommand("jobs", "我的工单")], scope=BotCommandScopeChat(bob["id"]))
    await bot.set_my_commands([BotCommand("help", "帮助")], scope=BotCommandScopeAllPrivateChats())
    assert [c["command"] for c in core.commands_for(bob["id"], "zh-hans")] == ["jobs"]
    assert [c["command"] for c in core.commands_for(alice["id"], "en")] == ["help"]
    await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert core.commands_for(alice["id"], "en-us")[0]["description"] == "Start"
    assert core.commands_for(alice["id"], "zh-hans")[0]["description"] == "开始"
    assert [c.command for c in await bot.get_my_commands(language_code="en")] == ["start"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Report", "x")])


async def test_chats_can_be_read_and_groups_left(core: FakeTelegram, bot: Bot) -> None:
    alice = core.add_user("Alice", "Wang", "alice_w")
    group = core.add_group("Lane 3 volunteers")
    chat = await bot.get_chat(alice["id"])
    assert chat.first_name == "Alice" and chat.username == "alice_w"
    assert await bot.leave_chat(group["id"])
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(group["id"], "hi")
    assert core.pending_updates() == 1


# ---------------------------------------------------------------------- door 2: HTTP


@pytest.fixture
async def server(core: FakeTelegram) -> AsyncIterator[FakeTelegramServer]:
    http_server = FakeTelegramServer(core)
    await http_server.start()
    yield http_server
    await http_server.stop()


async def test_long_polling_through_http_with_a_real_bot(core: FakeTelegram, server: FakeTelegramServer) -> None:
    alice = core.add_user("Alice", language_code="zh-hans")
    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
        assert await bot.get_updates(timeout=0) == ()
        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        assert not poll.done()
        core.user_text(alice["id"], "/start")
        updates = await asyncio.wait_for(poll, 3)
        assert len(updates) == 1 and updates[0].message.text == "/start"
        assert updates[0].message.entities[0].type == "bot_command"
        core.user_text(alice["id"], "second")
        again = await bot.get_updates(offset=updates[0].update_id, timeout=0)
        assert [u.message.text for u in again] == ["/start", "second"]
        confirmed = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)
        assert confirmed == ()

        sent = await bot.send_message(alice["id"], "<b>你好</b>", reply_markup=keyboard("ok"), parse_mode="HTML")
        assert sent.text == "你好" and sent.chat.id == alice["id"]
        photo = await bot.send_photo(alice["id"], tiny_png())
        data = await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray()
        assert bytes(data) == tiny_png()
        core.block(alice["id"])
        with pytest.raises(Forbidden):
            await bot.send_message(alice["id"], "x")


async def test_a_second_poller_ends_the_first_with_a_conflict(core: FakeTelegram, server: FakeTelegramServer) -> None:
    async with Bot(TOKEN, base_url=server.base_url) as first, Bot(TOKEN, base_url=server.base_url) as second:
        poll = asyncio.create_task(first.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        await second.get_updates(timeout=0)
        with pytest.raises(Exception, match="terminated by other getUpdates request"):
            await asyncio.wait_for(poll, 3)


async def test_http_door_accepts_json_and_has_control_endpoints(core: FakeTelegram, server: FakeTelegramServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
        user = (await client.post("/_control/users", json={"first_name": "Bob", "language_code": "en"})).json()
        sent = await client.post("/_control/send", json={"user_id": user["id"], "text": "/help"})
        assert sent.json()["message"]["entities"][0]["type"] == "bot_command"

        waiting = asyncio.create_task(client.get(f"/_control/chats/{user['id']}/next", params={"after": 1}))
        reply = await client.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": user["id"], "text": "Help!"})
        assert reply.json()["result"]["message_id"] == 2
        assert (await waiting).json()["text"] == "Help!"
        nothing = await client.get(f"/_control/chats/{user['id']}/next", params={"after": 2, "timeout": 0.05})
        assert nothing.status_code == 204

        form = await client.post(
            f"/bot{TOKEN}/sendMessage",
            data={"chat_id": str(user["id"]), "text": "<b>x", "parse_mode": "HTML"},
        )
        assert form.status_code == 400 and "can't parse entities" in form.json()["description"]
        await client.post("/_control/faults", json={"method": "sendMessage", "code": 429, "retry_after": 3})
        flooded = await client.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": user["id"], "text": "y"})
        assert flooded.status_code == 429 and flooded.json()["parameters"] == {"retry_after": 3}
        assert (await client.get("/bot1:x/unknownMethod")).status_code == 404

        history = (await client.get(f"/_control/chats/{user['id']}/messages")).json()["messages"]
        assert [m["message_id"] for m in history] == [1, 2]
        await client.post(f"/_control/chats/{user['id']}/block")
        counters = (await client.get("/_control/counters")).json()
        assert counters["calls"]["sendMessage"] == 3 and counters["too_many_requests"] == 1
        assert counters["pending_updates"] == 2


async def test_a_polling_application_runs_unchanged_against_the_http_door(
    core: FakeTelegram, server: FakeTelegramServer
) -> None:
    async def shout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_text(update.effective_message.text.upper())

    app = ApplicationBuilder().token(TOKEN).base_url(server.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, shout))
    alice = core.add_user("Alice")
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        core.user_text(alice["id"], "lights out on lane 3")
        async with asyncio.timeout(5):
            reply = await core.next_bot_message(alice["id"])
        await app.updater.stop()
        await app.stop()
    assert reply["text"] == "LIGHTS OUT ON LANE 3"
    assert core.pending_updates() == 0


async def test_the_server_runs_standalone_for_benchmarks() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.fake_http",
        "--port",
        "0",
        "--flood",
        "--latency-ms",
        "5",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        base_url = line.rsplit(" ", 1)[-1].strip()
        async with httpx.AsyncClient(trust_env=False) as client:
            me = (await client.get(f"{base_url}{TOKEN}/getMe")).json()
            assert me["result"]["username"] == "gongzhi_bot"
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_webhook_receives_updates_with_the_secret(core: FakeTelegram) -> None:
    received: asyncio.Queue[tuple[str | None, bytes]] = asyncio.Queue()

    class Hook(RequestHandler):
        def post(self) -> None:
            received.put_nowait((self.request.headers.get("X-Telegram-Bot-Api-Secret-Token"), self.request.body))

    sockets = bind_sockets(0, "127.0.0.1")
    hook_server = HTTPServer(TornadoApplication([(r"/hook", Hook)]))
    hook_server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    request = FakeRequest(core)
    try:
        async with Bot(TOKEN, base_url="http://fake/bot", request=request, get_updates_request=request) as bot:
            alice = core.add_user("Alice")
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
            with pytest.raises(Exception, match="webhook is active"):
                await bot.get_updates()
            core.user_text(alice["id"], "hi")
            secret, body = await asyncio.wait_for(received.get(), 3)
            assert secret == "s3cret" and Update.de_json(json.loads(body), bot).message.text == "hi"
            info = await bot.get_webhook_info()
            while info.pending_update_count:
                await asyncio.sleep(0.01)
                info = await bot.get_webhook_info()
            assert info.url.endswith("/hook") and info.last_error_message is None
            await bot.delete_webhook()
            assert (await bot.get_webhook_info()).url == ""
    finally:
        hook_server.stop()
        await hook_server.close_all_connections()


# ---------------------------------------------------------------------- people helpers on a tiny app


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    if message.text == "/boom":
        raise RuntimeError("boom")
    if message.contact:
        await message.reply_text(f"contact {message.contact.phone_number} {message.contact.user_id}")
    elif message.location:
        await message.reply_text(f"location {message.location.latitude},{message.location.longitude}")
    elif message.photo:
        file = await message.photo[-1].get_file()
        content = bytes(await file.download_as_bytearray())
        await message.reply_document(InputFile(content, filename="copy.png"), caption="<i>copy</i>")
    elif message.voice or message.document or message.sticker:
        kind = "voice" if message.voice else "document" if message.document else "sticker"
        await message.reply_text(kind)
    elif message.text:
        language = update.effective_user.language_code
        await message.reply_text(
            f"<b>{html.escape(message.text)}</b> ({language}) at {message.date:%H:%M}",
            reply_markup=keyboard("Again", "Done"),
        )
    raise ApplicationHandlerStop


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    markup = ReplyKeyboardMarkup(
        [
            [
                KeyboardButton("📍 Location", request_location=True),
                KeyboardButton("📞 Phone", request_contact=True),
            ],
            ["Help"],
        ]
    )
    await update.effective_message.reply_text(f"Welcome {' '.join(context.args or [])}".strip(), reply_markup=markup)
    raise ApplicationHandlerStop


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    if query.data == "Again":
        await query.answer("again")
        await query.edit_message_text("<u>pressed</u>", reply_markup=keyboard("Again", "Done"))
    elif query.data == "Done":
        await query.answer("finished", show_alert=True)
        await query.edit_message_text("done")
    else:
        await query.answer("unknown button")
    raise ApplicationHandlerStop


def echo_app(settings: Settings, *, request: FakeRequest, clock: Clock) -> Application:
    """The real builder (runtime, services, defaults) with only these handlers."""
    application = build_application(settings, request=request, clock=clock)
    application.handlers.clear()
    application.error_handlers.clear()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    return application


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, build=echo_app) as running:
        yield running


async def test_a_person_types_presses_and_reads(harness: BotHarness) -> None:
    alice = harness.person("Alice")
    await alice.send("/start from_poster")
    assert alice.last_message.text == "Welcome from_poster"
    assert alice.last_message.reply_keyboard == ["📍 Location", "📞 Phone", "Help"]

    await alice.press("Help")
    reply = alice.last_message
    assert reply.text == "Help (zh-hans) at 09:00"
    assert reply.html.startswith("<b>Help</b>")
    assert reply.buttons == ["Again", "Done"] and reply.callback_data == {"Again": "Again", "Done": "Done"}

    await alice.press("Again")
    assert alice.last_message.html == "<u>pressed</u>" and alice.last_message.edited
    assert alice.last_callback_answer is not None and alice.last_callback_answer.text == "again"
    await alice.press("Done")
    assert alice.last_message.text == "done" and alice.last_message.buttons == []
    answer = alice.last_callback_answer
    assert answer is not None and answer.show_alert
    with pytest.raises(AssertionError, match="sees no button 'Again'"):
        await alice.press("Again")

    await alice.press_data("forged:" + "9" * 80)
    assert alice.last_callback_answer is not None and alice.last_callback_answer.text == "unknown button"
    assert [m.message_id for m in alice.inbox] == [2, 4]
    assert len(harness.core.messages(alice.id)) == 4


async def test_reply_keyboard_buttons_share_contact_and_location(harness: BotHarness) -> None:
    alice = harness.person("Alice", phone="+8613800000001")
    bob = harness.person("Bob", "en")
    await alice.send("/start")
    await alice.press("📞 Phone")
    assert alice.last_message.text == f"contact +8613800000001 {alice.id}"
    with pytest.raises(AssertionError, match="asks for a location"):
        await alice.press("📍 Location")
    await alice.press("📍 Location", location=(31.59, 120.35))
    assert alice.last_message.text == "location 31.59,120.35"
    await alice.share_contact("+8613900000002", user_id=bob.id)
    assert alice.last_message.text == f"contact +8613900000002 {bob.id}"
    await alice.share_contact("+8613900000003", no_account=True)
    assert alice.last_message.text == "contact +8613900000003 None"


async def test_media_people_send_reach_the_handlers(harness: BotHarness) -> None:
    alice = harness.person("Alice")
    picture = tiny_png(8, 8, (10, 200, 10))
    await alice.send_photo(picture)
    assert alice.last_message.document is not None
    assert alice.last_message.document.content == picture
    assert alice.last_message.text == "copy" and alice.last_message.html == "<i>copy</i>"
    await alice.send_voice()
    assert alice.last_message.text == "voice"
    await alice.send_document("list.csv", b"a,b\n")
    assert alice.last_message.text == "document"
    await alice.send_sticker()
    assert alice.last_message.text == "sticker"


async def test_handler_errors_fail_the_test_unless_expected(harness: BotHarness) -> None:
    alice = harness.person("Alice")
    with pytest.raises(HandlerError, match="boom"):
        await alice.send("/boom")
    harness.strict = False
    await alice.send("/boom")
    assert [str(e) for e in harness.errors] == ["boom", "boom"]


async def test_time_moves_and_the_bot_survives_a_restart(harness: BotHarness) -> None:
    alice = harness.person("Alice")
    await alice.send("before")
    database = harness.services.settings.database_path
    await harness.advance(hours=2, minutes=30, step=timedelta(minutes=45))
    await harness.restart()
    assert harness.services.settings.database_path == database and database.exists()
    await alice.send("after")
    assert alice.last_message.text == "after (zh-hans) at 11:30"
    assert [m.message_id for m in alice.inbox] == [2, 4]
    assert harness.core.messages(alice.id)[-1]["date"] == int(harness.clock.now().timestamp())


async def test_groups_and_blocking(harness: BotHarness) -> None:
    alice = harness.person("Alice")
    street = harness.group("Lane 3")
    await alice.send("hello all", chat=street)
    assert alice.messages_in(street)[-1].text.startswith("hello all")
    await alice.block_bot()
    with pytest.raises(Forbidden):
        await harness.app.bot.send_message(alice.id, "are you there?")
    await alice.unblock_bot()
    await alice.send("back")
    assert alice.last_message.text.startswith("back")

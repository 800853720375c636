"""The sandbox as a trainer uses it: the command starts it, the page shows the chats live, and in a real
headless Chromium a resident's report travels to the grid worker's pane and back.

The browser test skips when Chromium (or Playwright) is missing on a developer's machine, but fails when
CI=true: CI installs Debian's chromium and must run it. No browser is ever downloaded.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.i18n import translator
from bot.runtime import services_of
from bot.sandbox.fake_http import FakeTelegramServer
from bot.sandbox.fake_telegram import FakeTelegram, tiny_png
from bot.sandbox.launcher import Sandbox, SandboxError
from bot.services import reports as report_service

# README's picture is refreshed only on request (SAVE_SCREENSHOT=1), so a test run leaves the tree clean.
README_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "sandbox.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_ = translator("zh_Hans")


def before(msgid: str, marker: str) -> str:
    """The Simplified Chinese text of `msgid` up to `marker` (a placeholder or a tag)."""
    return _(msgid).split(marker)[0]


def lamp_photo(width: int = 360, height: int = 240) -> bytes:
    """A PNG of a stairwell lamp at night: something recognisable for the page's screenshot."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            glow = max(0.0, 1 - math.hypot(x - width * 0.5, y - height * 0.38) / (height * 0.55))
            lamp = math.hypot(x - width * 0.5, y - height * 0.38) < height * 0.1
            base = (28 + y // 8, 36 + y // 8, 64 + y // 6)
            lit = tuple(min(255, int(c + 180 * glow * glow)) for c in base)
            row += bytes((255, 236, 150) if lamp else lit)
        rows.append(bytes(row))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes((8, 2, 0, 0, 0))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    pixels = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ the page's endpoints


async def next_event(lines: AsyncIterator[str]) -> dict[str, Any]:
    async for line in lines:
        if line.startswith("data: "):
            return json.loads(line.removeprefix("data: "))  # type: ignore[no-any-return]
    raise AssertionError("the event stream ended")


async def test_a_pane_sees_the_chat_then_every_change_and_uploads_reach_the_chat() -> None:
    core = FakeTelegram()
    server = FakeTelegramServer(core)
    await server.start()
    mei = core.add_user("美", language_code="zh-hans")
    photo = tiny_png(8, 6)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            core.user_text(mei["id"], "/start")
            async with client.stream("GET", "/_control/events", params={"chat_id": mei["id"]}) as stream:
                lines = stream.aiter_lines()
                snapshot = await next_event(lines)
                assert snapshot["kind"] == "snapshot"
                assert [m["text"] for m in snapshot["messages"]] == ["/start"]

                keyboard = {"keyboard": [[{"text": "📝 上报问题"}]], "resize_keyboard": True}
                status, sent = await core.handle(
                    "sendMessage", {"chat_id": mei["id"], "text": "<b>欢迎</b>", "parse_mode": "HTML",
                                    "reply_markup": keyboard}
                )
                assert status == 200
                shown = await next_event(lines)
                assert shown["kind"] == "message"
                assert shown["message"]["entities"][0]["type"] == "bold"
                assert shown["keyboard"]["keyboard"][0][0]["text"] == "📝 上报问题"

                await core.handle(
                    "editMessageText",
                    {"chat_id": mei["id"], "message_id": sent["result"]["message_id"], "text": "欢迎回来"},
                )
                edited = await next_event(lines)
                assert (edited["kind"], edited["message"]["text"]) == ("edited", "欢迎回来")

                upload = await client.post(
                    "/_control/upload",
                    data={"user_id": str(mei["id"]), "kind": "photo", "caption": "楼道灯 <b>&"},
                    files={"file": ("light.png", photo, "image/png")},
                )
                assert upload.status_code == 200
                arrived = await next_event(lines)
                assert arrived["message"]["caption"] == "楼道灯 <b>&"
                file_id = arrived["message"]["photo"][-1]["file_id"]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            download = await client.get(f"/_control/files/{file_id}")
            assert (download.content, download.headers["content-type"]) == (photo, "image/png")
            assert (await client.get("/_control/files/nope")).status_code == 404
            voice = await client.post(
                "/_control/upload",
                data={"user_id": str(mei["id"]), "kind": "voice", "duration": "3"},
                files={"file": ("voice.ogg", b"OggS" + bytes(40), "audio/ogg")},
            )
            assert voice.json()["message"]["voice"]["duration"] == 3
            refused = await client.post(
                "/_control/upload", data={"user_id": str(mei["id"]), "kind": "sticker"}
            )
            assert refused.status_code == 400
    finally:
        await server.stop()


async def test_the_sandbox_never_opens_the_bots_own_database(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_path=tmp_path / "sandbox-data" / "sandbox.db")  # type: ignore[call-arg]
    sandbox = Sandbox(settings, port=0, data_dir=tmp_path / "sandbox-data")
    with pytest.raises(SandboxError, match="DATABASE_PATH"):
        await sandbox.start()
    await sandbox.stop()


async def test_a_second_sandbox_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_path=tmp_path / "bot.db")  # type: ignore[call-arg]
    first = Sandbox(settings, port=0, data_dir=tmp_path / "sandbox-data")
    await first.start()
    try:
        second = Sandbox(settings, port=0, data_dir=tmp_path / "sandbox-data")
        with pytest.raises(SandboxError, match="another sandbox"):
            await second.start()
        await second.stop()
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
            featured = (await client.get("/sandbox/people")).json()["people"]
            roles = {p["role"] for p in featured[:6]}
            assert roles >= {"resident", "grid_worker", "secretary", "organizer", "admin"}
            added = await client.post("/sandbox/people", json={"name": "王小明", "language_code": "en"})
            newcomer = added.json()
            assert (newcomer["name"], newcomer["new"], newcomer["language_code"]) == ("王小明", True, "en")
            found = (await client.get("/sandbox/people", params={"q": "网格长 01-1"})).json()["people"]
            assert [p["role"] for p in found] == ["secretary"]
    finally:
        await first.stop()
    assert not (tmp_path / "bot.db").exists()


# ------------------------------------------------------------------------------ the command


class Running:
    """A CLI process whose output is collected line by line as it comes."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], cwd=cwd, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_line(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in self.lines if needle in line), None)
            if found is not None:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line with {needle!r}; output:\n{''.join(self.lines)}")

    def interrupt(self) -> int:
        """Ctrl-C, as in the terminal."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "DATABASE_PATH": str(tmp_path / "gongzhi.db"), "SANDBOX_PORT": str(free_port())}
    env.pop("BOT_TOKEN", None)
    yield env


@pytest.mark.parametrize("command", [["sandbox"], ["run"]])
def test_the_command_serves_the_page_and_ctrl_c_stops_it(
    tmp_path: Path, cli_env: dict[str, str], command: list[str]
) -> None:
    running = Running(command, tmp_path, cli_env)
    try:
        address = running.wait_for_line("Open http://127.0.0.1:").split("Open ")[1].split()[0]
        assert address == f"http://127.0.0.1:{cli_env['SANDBOX_PORT']}/"
        page = httpx.get(address, timeout=10)
        assert page.status_code == 200
        assert "共治" in page.text and "/static/app.js" in page.text
        assert httpx.get(address + "static/app.js", timeout=10).status_code == 200
        people = httpx.get(address + "sandbox/people", timeout=10).json()["people"]
        assert people[0]["featured"]
    finally:
        code = running.interrupt()
    output = "".join(running.lines)
    assert code == 0, output
    assert "Sandbox stopped." in output
    assert "Traceback" not in output
    if command == ["run"]:
        assert "No BOT_TOKEN is set" in output
    assert (tmp_path / "sandbox-data" / "sandbox.db").exists()
    assert not (tmp_path / "gongzhi.db").exists()


def test_a_busy_port_is_named_with_what_to_do(tmp_path: Path, cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cli_env["SANDBOX_PORT"] = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "bot", "sandbox"],
            cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 2
    assert "SANDBOX_PORT" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ the page in Chromium


@pytest.fixture
def chromium() -> str:
    """Debian's chromium and the Playwright client; missing means skip locally, fail on CI."""
    reason = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        reason = "the playwright package is not installed"
    if CHROMIUM is None:
        reason = "chromium is not installed (apt-get install chromium)"
    if reason is None:
        assert CHROMIUM is not None
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the page test: {reason}")
    pytest.skip(reason)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    settings = Settings(_env_file=None, database_path=tmp_path / "bot.db")  # type: ignore[call-arg]
    running = Sandbox(settings, port=0, data_dir=tmp_path / "sandbox-data")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_resident_reports_in_the_page_and_the_worker_accepts_it(
    chromium: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    assert sandbox.directory.summary is not None and sandbox.application is not None
    featured = {p.label: p for p in sandbox.directory.summary.featured}
    resident = featured["resident (verified)"].telegram_id
    worker = featured["grid worker of that grid"].telegram_id
    lighting = report_service.categories(services_of(sandbox.application))["lighting"].name("zh_Hans")
    errors: list[str] = []

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1500, "height": 900}, locale="zh-CN")
            page.set_default_timeout(20_000)
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{sandbox.url}?lang=zh&people={resident},{worker}")
            her = page.locator(f'.pane[data-user="{resident}"]')
            him = page.locator(f'.pane[data-user="{worker}"]')
            await expect(her.locator(".name")).to_have_text("演示居民 0001")
            await expect(him.locator(".meta")).to_contain_text(_("grid worker (full-time)"))

            async def say(text: str) -> None:
                await her.locator("input.text").fill(text)
                await her.locator("input.text").press("Enter")

            async def press(label: str) -> None:
                await her.locator("button.ikb", has_text=label).last.click()

            # The resident files a report with a photo through the /report flow.
            await say("/report")
            await press(lighting)
            describe = "Describe the problem in one message (up to {limit} characters), or send a voice note."
            await expect(her.locator(".msg.bot").last).to_contain_text(before(describe, "{limit}"))
            await say("3号楼楼道的灯不亮了，晚上很黑 <请尽快>")
            await expect(her.locator("button.ikb", has_text=_("Skip"))).to_be_visible()
            await her.locator(".attach-btn").click()
            async with page.expect_file_chooser() as chosen:
                await her.locator('[data-attach="photo"]').click()
            await (await chosen.value).set_files(
                files=[{"name": "light.png", "mimeType": "image/png", "buffer": lamp_photo()}]
            )
            await expect(her.locator(".msg.me img.photo")).to_be_visible()
            await press(_("Done"))
            await press(_("🏠 My building"))
            await press(_("👤 Show my name"))
            await press(_("✅ Confirm"))
            received = her.locator(".msg.bot", has_text="R-")
            await expect(received.last).to_contain_text(before("✅ Report <b>{number}</b> received.", "<b>"))
            number = await received.last.locator("b").first.inner_text()
            assert number.startswith("R-")

            # The worker's pane receives the task with its photo, live, and the worker accepts it.
            task = him.locator(".msg.bot", has_text=number).first
            await expect(task.locator("button.ikb", has_text=_("✅ Accept"))).to_be_visible()
            await expect(him.locator(".msg.bot img.photo")).to_be_visible()
            await task.locator("button.ikb", has_text=_("✅ Accept")).click()
            await expect(him.locator(".toast")).to_contain_text(before("Accepted. Fix by {when}.", "{when}"))
            await expect(task).to_contain_text(before("Status: {status}", "{status}"))
            await expect(task.locator(".edited")).to_be_visible()

            # The change reaches the resident's pane.
            accepted = "✍️ Report {number} ({category}) was accepted and will be fixed by {fix_by}."
            await expect(her.locator(".msg.bot").last).to_contain_text(before(accepted, "{number}") + number)

            # A new person joins from the page and starts with /start, in a third pane.
            await page.locator("#add-person").click()
            await page.locator("#newcomer-name").fill("王小明")
            await page.locator("#newcomer-add").click()
            newcomer = page.locator(".pane").nth(2)
            await expect(newcomer.locator(".chat-hint")).to_be_visible()
            await newcomer.locator("input.text").fill("/start")
            await newcomer.locator("input.text").press("Enter")
            await expect(newcomer.locator("button.ikb", has_text="简体中文")).to_be_visible()
            await newcomer.locator("button.ikb", has_text="简体中文").click()
            await expect(newcomer.locator("button.ikb", has_text=_("I agree"))).to_be_visible()

            await expect(him.locator(".toast")).to_be_hidden(timeout=8_000)
            await page.wait_for_timeout(1_300)  # let the edit flash fade for the picture
            screenshot = README_SCREENSHOT if os.environ.get("SAVE_SCREENSHOT") == "1" else tmp_path / "sandbox.png"
            await page.screenshot(path=str(screenshot))
            assert screenshot.read_bytes().startswith(b"\x89PNG")
        finally:
            await browser.close()
    assert errors == []

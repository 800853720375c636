"""The bot as its own process against the offline Telegram over HTTP: polling, webhook, one instance."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

TOKEN = "123456:TEST-TOKEN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.fixture
def fake_telegram() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.sandbox.fake_http", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    assert match, line
    yield match.group(1)
    process.terminate()
    process.wait(timeout=10)


def control(base: str, path: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        f"{base}/_control/{path}", data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def bot_env(tmp_path: Path, base: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "BOT_TOKEN": TOKEN, "BOT_API_URL": f"{base}/bot",
            "DATABASE_PATH": str(tmp_path / "bot.db"), "LOG_LEVEL": "WARNING", **extra}


def start_bot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bot", "run", *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.terminate()
    try:
        return process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def test_polling_bot_answers_and_a_second_process_is_refused(tmp_path: Path, fake_telegram: str) -> None:
    bot = start_bot(tmp_path, bot_env(tmp_path, fake_telegram))
    try:
        user = control(fake_telegram, "users", {"first_name": "Mei", "language_code": "en"})
        control(fake_telegram, "send", {"user_id": user["id"], "text": "/start"})  # type: ignore[index]

        def answered() -> list:
            return control(fake_telegram, f"chats/{user['id']}/messages")["messages"]  # type: ignore[index]

        messages = wait_for(lambda: [m for m in answered() if "Choose your language" in m.get("text", "")])
        assert messages
        second = subprocess.run([sys.executable, "-m", "bot", "run"], env=bot_env(tmp_path, fake_telegram),
                                cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "already running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        _out, err = stop(bot)
    assert TOKEN not in err


def test_webhook_without_the_secret_header_gets_403(tmp_path: Path, fake_telegram: str) -> None:
    port = free_port()
    env = bot_env(tmp_path, fake_telegram, WEBHOOK_URL="https://bot.example.test", WEBHOOK_SECRET="s3cret",
                  WEBHOOK_LISTEN="127.0.0.1", WEBHOOK_PORT=str(port))
    bot = start_bot(tmp_path, env, "--webhook")
    url = f"http://127.0.0.1:{port}/telegram"
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
                                          "from": {"id": 5, "is_bot": False, "first_name": "Mei"},
                                          "text": "/help"}}

    def post(headers: dict[str, str]) -> int:
        request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    try:
        assert wait_for(lambda: post({}) or None) == 403
        assert post({"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 403
        assert post({"X-Telegram-Bot-Api-Secret-Token": "s3cret"}) == 200
    finally:
        stop(bot)

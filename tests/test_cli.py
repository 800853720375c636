"""The command line as an operator uses it, on a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_PATH": str(tmp_path / "g.db"), **env}
    environment.pop("BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environment, cwd=tmp_path,
        timeout=120,
    )


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("run", "sandbox", "migrate", "import", "seed-demo", "invite", "backup"):
        assert command in result.stdout


def test_a_bad_setting_stops_start_up_with_one_line_naming_it(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "migrate", TIMEZONE="Mars/Olympus")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_token_is_never_echoed_in_a_settings_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "migrate", BOT_TOKEN="123:SECRET", WEBHOOK_PORT="not-a-port")
    assert result.returncode == 2
    assert "SECRET" not in result.stderr + result.stdout


def test_migrate_seed_invite_and_backup_on_a_fresh_database(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "migrate").returncode == 0
    seeded = run_cli(tmp_path, "seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    invite = run_cli(tmp_path, "invite", "--role", "admin", "--bot-username", "gongzhi_bot")
    assert invite.returncode == 0
    assert "https://t.me/gongzhi_bot?start=" in invite.stdout
    backup = run_cli(tmp_path, "backup", str(tmp_path / "backup.db"))
    assert backup.returncode == 0, backup.stderr
    assert (tmp_path / "backup.db").stat().st_size > 0
    again = run_cli(tmp_path, "backup", str(tmp_path / "backup.db"))
    assert again.returncode == 2

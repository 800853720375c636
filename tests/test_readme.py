"""README.md stays true: every setting and every command is documented there."""

from __future__ import annotations

from pathlib import Path

from bot.__main__ import build_parser
from bot.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert not missing, f"README.md does not document {missing}"


def test_every_command_is_in_the_commands_table() -> None:
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = [name for name in subcommands if f"`{name}" not in README]
    assert not missing, f"README.md does not document {missing}"


def test_readme_starts_with_what_gongzhi_is_and_the_two_commands() -> None:
    head = README.split("## ")[0]
    assert head.startswith("# Gongzhi")
    assert head.count("```sh") == 2
    assert 'pip install -e ".[dev]" && python -m pytest' in head

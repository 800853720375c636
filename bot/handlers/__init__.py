"""Telegram adapters, one module per flow or audience; each exposes `register(application)`."""

from __future__ import annotations

from telegram.ext import Application


def register_all(application: Application) -> None:
    """Order matters only between groups; see bot/handlers/groups.py."""

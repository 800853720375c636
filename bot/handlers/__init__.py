"""Telegram adapters, one module per flow or audience; each exposes `register(application)`."""

from __future__ import annotations

from telegram.ext import Application


def register_all(application: Application) -> None:
    """Every feature registers its own handlers; groups (bot/handlers/groups.py) set the order."""
    from bot.handlers import account, fallback, flows, invites, menu, onboarding

    for module in (onboarding, account, invites, flows, menu, fallback):
        module.register(application)

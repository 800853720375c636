"""Telegram adapters, one module per flow or audience; each exposes `register(application)`."""

from __future__ import annotations

from telegram.ext import Application


def register_all(application: Application) -> None:
    """Every feature registers its own handlers; groups (bot/handlers/groups.py) set the order."""
    from bot.handlers import (
        account,
        broadcast,
        dead_letters,
        deliberation,
        deliberation_admin,
        digest,
        export,
        fallback,
        flows,
        groups_link,
        invites,
        meetings,
        menu,
        my_reports,
        notifications,
        onboarding,
        patrols,
        report_flow,
        report_staff,
        roster,
        stats,
        tasks,
        unreachable,
        verify,
        volunteer,
        volunteer_admin,
    )

    features = (onboarding, account, invites, tasks, report_flow, my_reports, report_staff, volunteer,
                volunteer_admin, broadcast, meetings, notifications, groups_link, stats, export, deliberation,
                deliberation_admin, dead_letters, digest, patrols, roster, verify, unreachable)
    for module in (*features, flows, menu, fallback):
        module.register(application)

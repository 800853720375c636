"""The objects every use case needs, built once by `bot.app.build_application`."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock
from bot.config import Settings
from bot.domain.worktime import QuietHours, WorkCalendar, calendar_from_settings, quiet_hours_from_settings
from bot.storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    # Derived from settings so that every SLA and every held push reads the same calendar.
    calendar: WorkCalendar = field(init=False)
    quiet_hours: QuietHours = field(init=False)

    def __post_init__(self) -> None:
        self.calendar = calendar_from_settings(self.settings)
        self.quiet_hours = quiet_hours_from_settings(self.settings)

"""The objects every use case needs, built once by `bot.app.build_application`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Settings
from bot.storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock

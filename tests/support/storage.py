"""A fresh store for storage and service tests that run without the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.storage.db import Database


@asynccontextmanager
async def migrated_database(path: Path) -> AsyncIterator[Database]:
    """An open database at `path` with every migration applied, closed on the way out."""
    database = Database(path)
    await database.open()
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()

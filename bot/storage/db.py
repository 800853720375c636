"""aiosqlite Database with one writer and explicit transactions.

aiosqlite runs one connection on one thread, and every coroutine that shares it shares its
transaction. So all writes go through `transaction()`, which holds an asyncio lock, opens
`BEGIN IMMEDIATE` and rolls back on any error or cancellation. Reads use a second connection
so that they never see (or commit) a writer's half-done work.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class AlreadyRunning(Exception):
    """Another bot process holds this database."""


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._lock_file: int | None = None
        self._after_commit: list[Callable[[], None]] = []

    async def open(self, *, exclusive: bool = False) -> None:
        """Open both connections; `exclusive` takes the single-instance lock for a running bot."""
        if exclusive:
            self._take_instance_lock()
        self._writer = await self._connect()
        self._reader = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _take_instance_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(
                f"another Gongzhi process is already running on {self.path}; stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_file = fd

    async def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            os.close(self._lock_file)
            self._lock_file = None

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every successful commit (the outbox sender uses it to wake up)."""
        self._after_commit.append(callback)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The only way to write. Never await the Bot API inside it."""
        assert self._writer is not None, "database is not open"
        async with self._lock:
            conn = self._writer
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await asyncio.shield(conn.execute("ROLLBACK"))
                raise
            await asyncio.shield(conn.execute("COMMIT"))
        for callback in self._after_commit:
            callback()

    async def fetch_all(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[aiosqlite.Row]:
        """One hop to the database thread (execute + fetch + close together): reads dominate per-update cost."""
        assert self._reader is not None, "database is not open"
        return list(await self._reader.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> aiosqlite.Row | None:
        """The first row; meant for queries that pick one row by key (it reads what the query returns)."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def migrate(self) -> list[str]:
        """Apply numbered migrations not yet applied; returns the names applied."""
        applied: list[str] = []
        async with self.transaction() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
        done = {row[0] for row in await self.fetch_all("SELECT number FROM schema_migrations")}
        for number, name, sql in migration_files():
            if number in done:
                continue
            async with self.transaction() as conn:
                for statement in split_sql(sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations(number, name) VALUES (?, ?)", (number, name)
                )
            applied.append(name)
        return applied

    async def backup(self, target: Path) -> None:
        """A consistent copy while the bot runs (VACUUM INTO reads one snapshot; it refuses an existing file)."""
        assert self._reader is not None, "database is not open"
        await self._reader.execute("VACUUM INTO ?", (str(target),))


def migration_files() -> list[tuple[int, str, str]]:
    """Numbered migrations in order; a duplicate number is a programming error."""
    found: dict[int, tuple[str, str]] = {}
    folder = resources.files("bot.storage") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        match = MIGRATION_NAME.match(entry.name)
        if not match:
            continue
        number = int(match.group(1))
        if number in found:
            raise ValueError(f"two migrations share number {number:03d}: {found[number][0]} and {entry.name}")
        found[number] = (entry.name, entry.read_text(encoding="utf-8"))
    return [(n, name, sql) for n, (name, sql) in sorted(found.items())]


def split_sql(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement knows about triggers)."""
    import sqlite3

    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements

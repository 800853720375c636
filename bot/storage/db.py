"""The store: SQLite with one writer, explicit transactions, and reads that cost what the query costs.

Every statement the bot runs while serving a person is a keyed lookup or a small write that SQLite
finishes in microseconds, while a hop to a database thread (aiosqlite) costs about a hundred: measured
on the throughput benchmark, hops were most of an update's cost. So the writer and the reader are plain
sqlite3 connections used on the event loop's own thread, behind the same awaitable shape as aiosqlite
(`await conn.execute(...)`, `async with conn.execute(...) as cursor`), so callers are written as if
they could suspend and stay correct if a statement ever moves off the loop. Long scans (the dashboard,
exports, backups) go to `background`, an aiosqlite connection on its own thread, so that a
heavy query never stalls everyone else's replies.

All writes go through `transaction()`: an asyncio lock (a transaction may await other work, and every
coroutine sharing the writer shares its transaction), `BEGIN IMMEDIATE`, and a rollback on any error or
cancellation. Reads use a second connection so they never see a writer's half-done work.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# How long a write waits for another process (a CLI import, say) to finish its write.
BUSY_TIMEOUT_MS = 5000
# How long a statement on the event loop may block in SQLite itself; the writer waits for the write lock
# in short asynchronous sleeps instead, so that a long write elsewhere never freezes the bot.
_INLINE_BUSY_MS = 50
_LOCK_RETRY_SECONDS = 0.01

Row = sqlite3.Row
Params = Iterable[Any] | dict[str, Any]


class Reader(Protocol):
    """Anything that answers a query: the database's read side, a transaction's connection, the background."""

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...


class Cursor:
    """A statement already run; awaitable and an async context manager, as aiosqlite's cursor is."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    def __await__(self) -> Generator[Any, None, Cursor]:
        yield from ()
        return self

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def fetchone(self) -> Row | None:
        row: Row | None = self._cursor.fetchone()
        return row

    async def fetchall(self) -> list[Row]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class Connection:
    """A sqlite3 connection used on the event loop's thread (see the module docstring for why)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    @classmethod
    def open(cls, path: Path) -> Connection:
        raw = sqlite3.connect(path, isolation_level=None)
        raw.row_factory = sqlite3.Row
        for pragma in _pragmas(_INLINE_BUSY_MS):
            raw.execute(pragma)
        return cls(raw)

    async def begin(self) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write without blocking the event loop."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or loop.time() >= give_up:
                    raise
            await asyncio.sleep(_LOCK_RETRY_SECONDS)

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        return Cursor(self._raw.execute(sql, params))

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> Cursor:
        return Cursor(self._raw.executemany(sql, rows))

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._raw.execute(sql, params).fetchall()

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._raw.execute(sql, params).fetchone()
        return row

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    def close(self) -> None:
        self._raw.close()


class BackgroundReader:
    """Reads on a thread of their own (aiosqlite), for scans long enough to stall the event loop."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, path: Path) -> BackgroundReader:
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in _pragmas(BUSY_TIMEOUT_MS):
            await conn.execute(pragma)
        return cls(conn)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params))

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def run(self, sql: str, params: Params = ()) -> None:
        await self._conn.execute(sql, params)

    async def close(self) -> None:
        await self._conn.close()


def _pragmas(busy_ms: int) -> tuple[str, ...]:
    return (
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={busy_ms}",
        "PRAGMA synchronous=NORMAL",
    )


class AlreadyRunning(Exception):
    """Another bot process holds this database."""


class Database:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        self._background: BackgroundReader | None = None
        self._lock = asyncio.Lock()
        self._lock_file: int | None = None
        self._after_commit: list[Callable[[], None]] = []

    async def open(self, *, exclusive: bool = False) -> None:
        """Open the connections; `exclusive` takes the single-instance lock for a running bot."""
        if exclusive:
            self._take_instance_lock()
        self._writer = Connection.open(self.path)
        self._reader = Connection.open(self.path)
        self._background = await BackgroundReader.open(self.path)

    @property
    def background(self) -> BackgroundReader:
        """The reader for long scans (dashboard, exports, digests), off the event loop."""
        assert self._background is not None, "database is not open"
        return self._background

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
                conn.close()
        if self._background is not None:
            await self._background.close()
        self._writer = self._reader = self._background = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            os.close(self._lock_file)
            self._lock_file = None

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every successful commit (the outbox sender uses it to wake up)."""
        self._after_commit.append(callback)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """The only way to write. Never await the Bot API inside it.

        COMMIT and ROLLBACK run without suspending, so a cancellation cannot cut them off.
        """
        assert self._writer is not None, "database is not open"
        async with self._lock:
            conn = self._writer
            await conn.begin()
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        for callback in self._after_commit:
            callback()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        assert self._reader is not None, "database is not open"
        return await self._reader.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        assert self._reader is not None, "database is not open"
        return await self._reader.fetch_one(sql, params)

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        assert self._reader is not None, "database is not open"
        return await self._reader.fetch_value(sql, params)

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
        await self.background.run("VACUUM INTO ?", (str(target),))


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

"""The one-writer store: transactions never leak into each other; migrations are numbered once."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.db import AlreadyRunning, Database, migration_files, split_sql
from tests.support.storage import migrated_database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(tmp_path / "t.db") as database:
        yield database


async def test_two_interleaved_writers_never_commit_each_others_work(db: Database) -> None:
    started = asyncio.Event()

    async def slow_writer_that_fails() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO communities (code, name) VALUES ('A', 'half-done')")
            started.set()
            await asyncio.sleep(0.05)
            raise RuntimeError("boom")

    async def quick_writer() -> None:
        await started.wait()
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO communities (code, name) VALUES ('B', 'complete')")

    results = await asyncio.gather(slow_writer_that_fails(), quick_writer(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    names = [r[0] for r in await db.fetch_all("SELECT name FROM communities ORDER BY code")]
    assert names == ["complete"]


class SomeoneElse:
    """Another person being served: counts how often the event loop gets round to them."""

    def __init__(self) -> None:
        self.turns = 0
        self._task = asyncio.create_task(self._served())

    async def _served(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)

    def leave(self) -> None:
        self._task.cancel()


async def test_keyed_reads_answer_at_once_and_long_scans_let_other_people_be_served(db: Database) -> None:
    """A lookup runs on the event loop (a thread hop would cost more than the query); a dashboard-sized scan
    runs on the background reader's thread, so the loop keeps serving while it works."""
    other = SomeoneElse()
    await asyncio.sleep(0)
    before = other.turns
    assert await db.fetch_value("SELECT COUNT(*) FROM communities") == 0
    assert other.turns == before  # nobody else ran: the read never suspended
    scan = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) SELECT SUM(i) FROM n"
    assert await db.background.fetch_value(scan) == 200000 * 200001 // 2
    assert other.turns > before  # the loop went on while the scan ran elsewhere
    other.leave()


async def test_a_write_waits_for_another_process_without_freezing_the_bot(db: Database) -> None:
    """A CLI import holding the write lock delays the bot's next write, but replies keep flowing meanwhile."""
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO communities (code, name) VALUES ('CLI', 'imported')")

    async def bot_write() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO communities (code, name) VALUES ('BOT', 'from the bot')")

    resident = SomeoneElse()
    write = asyncio.create_task(bot_write())
    await asyncio.sleep(0.1)
    assert not write.done() and resident.turns > 10  # waiting, and the loop is free
    assert await db.fetch_value("SELECT COUNT(*) FROM communities") == 0  # reads go on too
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(write, timeout=5)
    resident.leave()
    names = [r[0] for r in await db.fetch_all("SELECT name FROM communities ORDER BY code")]
    assert names == ["from the bot", "imported"]


async def test_a_cancelled_transaction_rolls_back(db: Database) -> None:
    inside = asyncio.Event()

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO communities (code, name) VALUES ('C', 'cancelled')")
            inside.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(writer())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await db.fetch_value("SELECT COUNT(*) FROM communities") == 0
    async with db.transaction() as conn:  # the writer is usable again
        await conn.execute("INSERT INTO communities (code, name) VALUES ('D', 'after')")
    assert await db.fetch_value("SELECT COUNT(*) FROM communities") == 1


async def test_migrations_apply_once(db: Database) -> None:
    assert await db.migrate() == []
    count = await db.fetch_value("SELECT COUNT(*) FROM schema_migrations")
    assert count == len(migration_files())


def test_migration_numbers_are_unique() -> None:
    numbers = [number for number, _name, _sql in migration_files()]
    assert numbers == sorted(set(numbers))
    assert all(sql.strip() and split_sql(sql) for _n, _name, sql in migration_files())


async def test_rows_queued_before_the_voice_column_keep_going_and_a_row_carries_one_attachment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = ("2025-03-03T02:30:00Z", "2025-03-03T02:30:00Z")
    database = Database(tmp_path / "older.db")
    await database.open()
    try:
        older = [migration for migration in migration_files() if migration[0] < 9]
        monkeypatch.setattr("bot.storage.db.migration_files", lambda: older)
        await database.migrate()
        async with database.transaction() as conn:
            await conn.execute(
                "INSERT INTO outbox (chat_id, template, photo, created_at, due_at) "
                "VALUES (-100, 'Before', 'a-photo', ?, ?)",
                at,
            )
        monkeypatch.undo()
        assert await database.migrate() == [name for number, name, _sql in migration_files() if number >= 9]
        kept = await database.fetch_one("SELECT state, photo, voice FROM outbox")
        assert kept is not None and tuple(kept) == ("pending", "a-photo", None)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            async with database.transaction() as conn:
                await conn.execute(
                    "INSERT INTO outbox (chat_id, template, photo, voice, created_at, due_at) "
                    "VALUES (-100, 'Both', 'a-photo', 'a-voice', ?, ?)",
                    at,
                )
    finally:
        await database.close()


async def test_backup_is_a_consistent_copy(db: Database, tmp_path: Path) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO communities (code, name) VALUES ('E', '示范社区')")
    target = tmp_path / "copy.db"
    await db.backup(target)
    copy = Database(target)
    await copy.open()
    try:
        assert await copy.fetch_value("SELECT name FROM communities") == "示范社区"
    finally:
        await copy.close()


async def test_a_second_bot_process_on_the_same_database_is_refused(tmp_path: Path) -> None:
    first = Database(tmp_path / "bot.db")
    await first.open(exclusive=True)
    try:
        second = Database(tmp_path / "bot.db")
        with pytest.raises(AlreadyRunning, match="already running"):
            await second.open(exclusive=True)
        code = (
            "import asyncio, sys\n"
            "from bot.storage.db import Database, AlreadyRunning\n"
            "async def main():\n"
            f"    await Database({str(tmp_path / 'bot.db')!r}).open(exclusive=True)\n"
            "try:\n    asyncio.run(main())\nexcept AlreadyRunning:\n    sys.exit(3)\n"
        )
        other_process = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
        assert await asyncio.wait_for(other_process.wait(), timeout=60) == 3
    finally:
        await first.close()

"""Scale benchmark: a large street's store, and the three queries people wait for, in a fresh bot process.

The store holds N residents and M reports spread over five years (16 communities of 8 grids, each grid
with two grid workers and a team lead). Seeding uses bulk inserts (executemany in big transactions)
with the tables' indexes dropped, then builds the indexes once. A fresh process then builds the bot's
Application and measures, with the very functions the bot calls:

- worker_tasks_ms  a grid worker's open tasks, first page (bot.storage.reports.tasks_of, as /tasks);
- my_reports_ms    a resident's own and followed reports, first page (bot.storage.reports.reports_of);
- stats_street_week_ms  the whole street's dashboard for the last full week (bot.services.stats.dashboard,
                   as /stats: every figure, percentiles included);
- rss_mb           the process's peak resident memory.

Each figure is the median over repeated calls (percentiles computed in Python); p90 is printed too.
Report events are not seeded: none of the measured queries reads them.

    python bench/scale.py            # 100,000 residents, 1,000,000 reports (aim: A, B < 10 ms; C < 500 ms)
    python bench/scale.py --quick    # 10,000 residents, 100,000 reports

The seeded database is kept in bench/out/ under a name that says its size and schema; a rerun skips
seeding.
The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.clock import to_db  # noqa: E402
from bot.domain.rates import percentile  # noqa: E402
from bot.storage.db import Database, migration_files  # noqa: E402

OUT = ROOT / "bench" / "out"
# The street's "now": a Wednesday, so the last full week is Monday 23 Feb – Sunday 1 Mar 2026.
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
YEARS = 5
COMMUNITIES, GRIDS_PER_COMMUNITY, BUILDINGS_PER_GRID = 16, 8, 25
CATEGORIES = (
    ("sanitation", 20),
    ("lighting", 15),
    ("leak", 12),
    ("lift", 8),
    ("safety", 6),
    ("noise", 12),
    ("greenery", 6),
    ("parking", 10),
    ("care", 4),
    ("other", 7),
)
CHUNK = 50_000
SAMPLES = 200
DASHBOARD_RUNS = 15
# Tables filled in bulk: their indexes are dropped first and built once at the end.
BULK_TABLES = ("people", "roles", "reports", "report_ratings", "report_followers")


def stamp(seconds: float) -> str:
    return to_db(datetime.fromtimestamp(seconds, UTC))


# ------------------------------------------------------------------------------------------ seeding


def seed(path: Path, residents: int, reports: int) -> float:
    """Build the store at `path` (through a temporary file, so a broken run leaves nothing cached)."""
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    for leftover in OUT.glob(partial.name + "*"):
        leftover.unlink()

    async def migrate() -> None:
        db = Database(partial)
        await db.open()
        await db.migrate()
        await db.close()

    asyncio.run(migrate())
    conn = sqlite3.connect(partial, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    indexes = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({','.join('?' * len(BULK_TABLES))})",
        BULK_TABLES,
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f"DROP INDEX {name}")
    rng = random.Random(20260304)
    grids, buildings, staff = _structure(conn)
    workers_by_grid, first_resident = _staff(conn, grids, staff)
    homes = _residents(conn, residents, buildings, first_resident, rng)
    _reports(conn, reports, homes, workers_by_grid, rng)
    print(f"building {len(indexes)} indexes", flush=True)
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    partial.rename(path)
    return time.perf_counter() - started


def _structure(
    conn: sqlite3.Connection,
) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]], list[str]]:
    """Communities, grids and buildings; returns (grid, community) pairs, buildings and staff role names."""
    grids: list[tuple[int, int]] = []
    buildings: list[tuple[int, int, int]] = []
    conn.execute("BEGIN")
    for c in range(1, COMMUNITIES + 1):
        conn.execute(
            "INSERT INTO communities (id, code, name) VALUES (?, ?, ?)", (c, f"C{c:02d}", f"第{c}社区")
        )
        for g in range(GRIDS_PER_COMMUNITY):
            grid = (c - 1) * GRIDS_PER_COMMUNITY + g + 1
            conn.execute(
                "INSERT INTO grids (id, code, community_id, name) VALUES (?, ?, ?, ?)",
                (grid, f"G{grid:03d}", c, f"第{c}社区第{g + 1}网格"),
            )
            grids.append((grid, c))
            for b in range(BUILDINGS_PER_GRID):
                building = (grid - 1) * BUILDINGS_PER_GRID + b + 1
                conn.execute(
                    "INSERT INTO buildings (id, code, grid_id, name) VALUES (?, ?, ?, ?)",
                    (building, f"B{building:05d}", grid, f"{b + 1}号楼"),
                )
                buildings.append((building, grid, c))
    conn.execute("COMMIT")
    return grids, buildings, ["grid_worker", "grid_worker", "secretary"]


def _person(person_id: int, name: str, building: int | None, created: str) -> tuple[Any, ...]:
    return (
        person_id,
        9_000_000_000 + person_id,
        name,
        f"139{person_id:08d}",
        "zh_Hans",
        created,
        building,
        "1-101" if building else None,
        created,
        created,
    )


_PERSON_SQL = (
    "INSERT INTO people (id, telegram_id, name, phone, locale, consent_at, building_id, unit, onboarded_at, "
    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ROLE_SQL = "INSERT INTO roles (person_id, role, scope_kind, scope_id, granted_at) VALUES (?, ?, ?, ?, ?)"


def _staff(
    conn: sqlite3.Connection, grids: list[tuple[int, int]], roles: list[str]
) -> tuple[dict[int, list[int]], int]:
    """Two grid workers and a team lead per grid, two organizers per community, two street admins;
    returns the grid workers by grid and the next free person id."""
    created = stamp((NOW - timedelta(days=365 * YEARS + 30)).timestamp())
    people, grants, workers = [], [], {}
    next_id = 1
    for grid, _community in grids:
        for role in roles:
            people.append(_person(next_id, f"网格员{next_id}", None, created))
            grants.append((next_id, role, "grid", grid, created))
            if role == "grid_worker":
                workers.setdefault(grid, []).append(next_id)
            next_id += 1
    for community in sorted({c for _g, c in grids}):
        for _ in range(2):
            people.append(_person(next_id, f"社区工作者{next_id}", None, created))
            grants.append((next_id, "organizer", "community", community, created))
            next_id += 1
    for _ in range(2):
        people.append(_person(next_id, f"街道管理员{next_id}", None, created))
        grants.append((next_id, "admin", "street", 0, created))
        next_id += 1
    conn.execute("BEGIN")
    conn.executemany(_PERSON_SQL, people)
    conn.executemany(_ROLE_SQL, grants)
    conn.execute("COMMIT")
    return workers, next_id


def _residents(
    conn: sqlite3.Connection,
    count: int,
    buildings: list[tuple[int, int, int]],
    first_id: int,
    rng: random.Random,
) -> list[tuple[int, int, int, int]]:
    """(person, building, grid, community) of each resident."""
    created = stamp((NOW - timedelta(days=365 * YEARS + 1)).timestamp())
    homes = []
    for start in range(0, count, CHUNK):
        people, grants = [], []
        for person_id in range(first_id + start, first_id + min(start + CHUNK, count)):
            building, grid, community = rng.choice(buildings)
            people.append(_person(person_id, f"居民{person_id}", building, created))
            grants.append((person_id, "resident", "street", 0, created))
            homes.append((person_id, building, grid, community))
        conn.execute("BEGIN")
        conn.executemany(_PERSON_SQL, people)
        conn.executemany(_ROLE_SQL, grants)
        conn.execute("COMMIT")
    print(f"seeded {count} residents", flush=True)
    return homes


_REPORT_SQL = (
    "INSERT INTO reports (id, number, category, state, urgent, anonymous, description, building_id, unit, "
    "grid_id, community_id, reporter_id, channel, assignee_id, created_at, assigned_at, accept_by, "
    "accepted_at, fix_by, due_at, resolved_at, closed_at, outcome, reopen_count, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, '1-101', ?, ?, ?, 'bot', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
OUTCOMES = (
    ("closed", "confirmed_fixed", 70),
    ("closed_unverified", "unverified", 20),
    ("not_ours", "not_ours", 5),
    ("duplicate", "duplicate", 3),
    ("withdrawn", "withdrawn", 2),
)
HOUR = 3600.0
Times = tuple[str, str | None, float | None, float | None, float | None, float | None]


def _lifecycle(filed: float, end: float, rng: random.Random) -> Times:
    """(state, outcome, accepted, resolved, closed, due) of a report filed at `filed`, as of `end`.

    Nine in ten are accepted within their four-hour sign-for window. Reports older than ten days are
    closed; younger ones are more and more often still open, the newest waiting to be accepted."""
    accept_by, fix_by = filed + 4 * HOUR, filed + 24 * HOUR
    accepted = filed + rng.uniform(0.1, 4.4) * HOUR
    resolved = accepted + rng.uniform(2 * HOUR, 72 * HOUR)
    closed = resolved + rng.uniform(HOUR, 72 * HOUR)
    age_days = (end - filed) / 86400
    if accepted >= end:
        return "assigned", None, None, None, None, accept_by
    if closed >= end or (age_days < 10 and rng.random() < 0.9 * (1 - age_days / 10)):
        if resolved < end and rng.random() < 0.3:
            return "resolved", None, accepted, resolved, None, None
        return rng.choice(("accepted", "in_progress", "reopened")), None, accepted, None, None, fix_by
    state, outcome, _weight = rng.choices(OUTCOMES, [w for _s, _o, w in OUTCOMES])[0]
    if state == "withdrawn":
        return state, outcome, None, None, filed + rng.uniform(0.1, 2) * HOUR, None
    if state in ("not_ours", "duplicate"):
        return state, outcome, accepted, None, resolved, None
    return state, outcome, accepted, resolved, closed, None


def _reports(
    conn: sqlite3.Connection,
    count: int,
    homes: list[tuple[int, int, int, int]],
    workers: dict[int, list[int]],
    rng: random.Random,
) -> None:
    """Reports in time order (ids follow filing times), with ratings for most closed ones and a few
    followers."""
    end = NOW.timestamp()
    start = (NOW - timedelta(days=365 * YEARS)).timestamp()
    times = sorted(rng.uniform(start, end) for _ in range(count))
    codes = [code for code, _w in CATEGORIES]
    weights = [w for _c, w in CATEGORIES]
    sequence: dict[int, int] = {}

    def moment(value: float | None) -> str | None:
        return None if value is None else stamp(value)

    for first in range(0, count, CHUNK):
        rows, ratings, followers = [], [], []
        for index in range(first, min(first + CHUNK, count)):
            report_id, filed = index + 1, times[index]
            person, building, grid, community = homes[rng.randrange(len(homes))]
            year = datetime.fromtimestamp(filed, UTC).year
            sequence[year] = sequence.get(year, 0) + 1
            state, outcome, accepted, resolved, closed, due = _lifecycle(filed, end, rng)
            rows.append(
                (
                    report_id,
                    f"R-{year}-{sequence[year]:06d}",
                    rng.choices(codes, weights)[0],
                    state,
                    int(rng.random() < 0.02),
                    int(rng.random() < 0.05),
                    "楼道灯不亮，晚上很黑",
                    building,
                    grid,
                    community,
                    person,
                    rng.choice(workers[grid]),
                    stamp(filed),
                    stamp(filed + 1),
                    stamp(filed + 4 * HOUR),
                    moment(accepted),
                    stamp(filed + 24 * HOUR),
                    moment(due),
                    moment(resolved),
                    moment(closed),
                    outcome,
                    int(rng.random() < 0.05),
                    stamp(closed or filed),
                )
            )
            if closed is not None and state != "withdrawn" and rng.random() < 0.8:
                stars = rng.choices((5, 4, 3, 2, 1), (55, 25, 10, 5, 5))[0]
                ratings.append((report_id, person, stars, stamp(min(closed + HOUR, end - 1))))
            if rng.random() < 0.03:
                follower = homes[rng.randrange(len(homes))][0]
                if follower != person:
                    followers.append((report_id, follower, stamp(filed + HOUR)))
        conn.execute("BEGIN")
        conn.executemany(_REPORT_SQL, rows)
        conn.executemany(
            "INSERT INTO report_ratings (report_id, person_id, stars, rated_at) VALUES (?, ?, ?, ?)", ratings
        )
        conn.executemany(
            "INSERT INTO report_followers (report_id, person_id, followed_at) VALUES (?, ?, ?)", followers
        )
        conn.execute("COMMIT")
        print(f"seeded {min(first + CHUNK, count)} reports", flush=True)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO report_numbers (year, last) VALUES (?, ?)", sorted(sequence.items()))
    conn.execute("COMMIT")


# ---------------------------------------------------------------------------------------- measuring


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def measure(path: Path) -> dict[str, Any]:
    """Runs in a fresh process: the bot's Application is built, then its own queries are timed."""
    from bot.app import build_application
    from bot.clock import FakeClock
    from bot.config import Settings
    from bot.domain.rates import PeriodKind, period_for
    from bot.handlers.tasks import PER_PAGE
    from bot.runtime import services_of
    from bot.services import stats
    from bot.storage import reports as store

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_path=path, bot_api_url="http://127.0.0.1:9/bot"
    )
    application = build_application(settings, clock=FakeClock(NOW))
    services = services_of(application)
    db = services.db
    await db.open()
    rng = random.Random(7)
    workers = [row[0] for row in await db.fetch_all("SELECT person_id FROM roles WHERE role = 'grid_worker'")]
    residents = await db.fetch_value("SELECT COUNT(*) FROM roles WHERE role = 'resident'")
    first_resident = await db.fetch_value("SELECT MIN(person_id) FROM roles WHERE role = 'resident'")
    reports = await db.fetch_value("SELECT COUNT(*) FROM reports")
    sampled_workers = [rng.choice(workers) for _ in range(SAMPLES)]
    sampled_residents = [first_resident + rng.randrange(residents) for _ in range(SAMPLES)]
    week = period_for(PeriodKind.LAST_WEEK, NOW.astimezone(settings.tz).date())
    for person in sampled_workers[:10]:  # warm the caches as a running bot's would be
        await store.tasks_of(db, person, offset=0, limit=PER_PAGE)
    for person in sampled_residents[:10]:
        await store.reports_of(db, person, offset=0, limit=PER_PAGE)
    board = await stats.dashboard(services, stats.STREET, week)
    worker_ms = [
        await timed(lambda p=p: store.tasks_of(db, p, offset=0, limit=PER_PAGE)) for p in sampled_workers
    ]
    mine_ms = [
        await timed(lambda p=p: store.reports_of(db, p, offset=0, limit=PER_PAGE)) for p in sampled_residents
    ]
    street_ms = [
        await timed(lambda: stats.dashboard(services, stats.STREET, week)) for _ in range(DASHBOARD_RUNS)
    ]
    await db.close()
    return {
        "residents": residents,
        "reports": reports,
        "week": f"{week.first}..{week.last}",
        "week_received": board.received,
        "worker_tasks": worker_ms,
        "my_reports": mine_ms,
        "stats_street_week": street_ms,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def schema_version() -> str:
    """A short digest of the migrations: a store seeded under an older schema is not reused."""
    digest = hashlib.sha256()
    for _number, name, sql in migration_files():
        digest.update(name.encode() + sql.encode())
    return digest.hexdigest()[:8]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 residents and 100,000 reports")
    parser.add_argument("--residents", type=int)
    parser.add_argument("--reports", type=int)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(asyncio.run(measure(args.measure)), ensure_ascii=False))
        return 0
    residents = args.residents or (10_000 if args.quick else 100_000)
    reports = args.reports or (100_000 if args.quick else 1_000_000)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"scale-{residents}-{reports}-{schema_version()}.db"
    if path.exists():
        print(f"using the seeded store {path}")
    else:
        print(f"seeding {residents} residents and {reports} reports into {path} …", flush=True)
        print(f"seeded in {seed(path, residents, reports):.0f} s")
    child = subprocess.run([sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True)
    if child.returncode != 0:
        print(child.stdout + child.stderr, file=sys.stderr)
        return child.returncode
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"dashboard week {result['week']}: {result['week_received']} reports received")
    figures = {}
    for name in ("worker_tasks", "my_reports", "stats_street_week"):
        values = result[name]
        figures[name] = percentile(values, 0.5)
        print(
            f"{name}: median {figures[name]:.2f} ms, p90 {percentile(values, 0.9):.2f} ms, "
            f"max {max(values):.2f} ms over {len(values)} calls"
        )
    print(
        f"RESULT scale residents={result['residents']} reports={result['reports']} "
        f"worker_tasks_ms={figures['worker_tasks']:.2f} my_reports_ms={figures['my_reports']:.2f} "
        f"stats_street_week_ms={figures['stats_street_week']:.1f} rss_mb={result['rss_mb']:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

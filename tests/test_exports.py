"""Exports an organizer opens in Excel: UTF-8 with BOM, reports with timelines and nobody named, volunteer
hours; through /export and through `python -m bot export`."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import to_db
from bot.domain.deliberation import Panel, TopicState, Track
from bot.domain.people import Scope, ScopeKind
from bot.domain.rates import date_range
from bot.services import exports
from bot.services.stats import STREET
from bot.storage import deliberation as deliberation_store
from tests.support.people import BotHarness
from tests.test_stats import Week, seed_week

TZ = ZoneInfo("Asia/Shanghai")
BOM = b"\xef\xbb\xbf"
MARCH = date_range(datetime(2025, 3, 1).date(), datetime(2025, 3, 31).date())


def rows_of(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(BOM) and b"\r\n" in content
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


async def add_verified_service(week: Week, hours: float) -> None:
    """Alice served at a community activity on Saturday and her hours were verified."""
    starts = to_db(datetime(2025, 3, 8, 9, 0, tzinfo=TZ))
    ends = to_db(datetime(2025, 3, 8, 12, 0, tzinfo=TZ))
    async with week.h.services.db.transaction() as conn:
        opportunity = (
            await conn.execute(
                "INSERT INTO opportunities (title, scope_kind, scope_id, community_id, hours, points, "
                "created_at) VALUES ('=清扫楼道', 'community', ?, ?, ?, 10, ?)",
                (week.street.community, week.street.community, hours, starts),
            )
        ).lastrowid
        await conn.execute(
            "INSERT INTO slot_events (kind, event_id, capacity, starts_at, ends_at) "
            "VALUES ('opportunity', ?, 5, ?, ?)",
            (opportunity, starts, ends),
        )
        seat = (
            await conn.execute(
                "INSERT INTO seats (kind, event_id, person_id, state, seq, created_at, updated_at) "
                "VALUES ('opportunity', ?, ?, 'confirmed', 1, ?, ?)",
                (opportunity, week.ids["alice"], starts, starts),
            )
        ).lastrowid
        await conn.execute(
            "INSERT INTO volunteer_service (seat_id, opportunity_id, person_id, status, hours, points, "
            "verified_at) VALUES (?, ?, ?, 'verified', ?, 10, ?)",
            (seat, opportunity, week.ids["alice"], hours, ends),
        )


async def add_closed_vote(week: Week) -> None:
    """An anonymous yes/no topic of the community, two eligible residents, one secret ballot, closed on
    Friday with its outcome."""
    now = week.h.clock.now()
    closes = datetime(2025, 3, 7, 18, 0, tzinfo=TZ)
    async with week.h.services.db.transaction() as conn:
        topic_id = await deliberation_store.insert_topic(
            conn,
            state=TopicState.OPEN,
            track=Track.SMALL,
            community_id=week.street.community,
            title="加装电梯",
            background="",
            now=now,
            building_ids=[week.street.building_a],
        )
        await conn.execute(
            "UPDATE deliberation_topics SET anonymous = 1, final = 1, quorum_percent = 50, opened_at = ?, "
            "closes_at = ?, outcome_decision = '同意加装' WHERE id = ?",
            (to_db(now), to_db(closes), topic_id),
        )
        await deliberation_store.freeze(
            conn, topic_id, [(week.ids[n], f"p{week.ids[n]}", Panel.RESIDENT) for n in ("alice", "bob")]
        )
        topic = await deliberation_store.get(conn, topic_id)
        assert topic is not None
        assert await deliberation_store.cast(
            conn,
            topic=topic,
            voter_key=f"p{week.ids['alice']}",
            person_id=week.ids["alice"],
            panel=Panel.RESIDENT,
            choices=(1,),
            now=now,
        )
        await conn.execute(
            "UPDATE deliberation_topics SET state = 'closed', closed_at = ? WHERE id = ?",
            (to_db(closes), topic_id),
        )


@pytest.fixture
async def week(tmp_path: Path) -> AsyncIterator[Week]:
    async with BotHarness(tmp_path, verify_window_hours=4) as h:
        yield await seed_week(h)


async def test_reports_export_opens_in_excel_with_timelines_and_names_nobody(week: Week) -> None:
    document = await exports.export(week.h.services, exports.Export.REPORTS, STREET, MARCH, "en")
    rows = rows_of(document.content)
    assert document.rows == len(rows) == 10 and document.filename == "reports-street-20250301-20250331.csv"
    assert [r["Accepted in time"] for r in rows].count("yes") == 9
    assert [r["Confirmed fixed"] for r in rows].count("yes") == 7
    assert sorted(r["Rating"] for r in rows if r["Rating"]) == ["2", "3", "4", "4", "4", "5", "5", "5"]
    first = rows[0]
    assert first["Number"] == "R-2025-000001" and first["Grid"] == "North" and first["Channel"] == "the bot"
    assert first["Filed"] == "2025-03-03 09:00" and first["Status"] == "✅ closed"
    assert "accepted → ✍️ accepted" in first["Timeline"] and "confirmed_fixed → ✅ closed" in first["Timeline"]
    assert float(first["Working hours to accept"]) == pytest.approx(50 / 60, abs=0.05)
    text = document.content.decode("utf-8-sig")
    for private in ("Alice", "Bob", "13800000001", "13800000002", "Wang", "water company"):
        assert private not in text


async def test_chinese_headers_and_a_formula_looking_description_stays_text(week: Week) -> None:
    async with week.h.services.db.transaction() as conn:
        await conn.execute("UPDATE reports SET description = '=HYPERLINK(\"http://x\")' WHERE id = 1")
    document = await exports.export(week.h.services, exports.Export.REPORTS, STREET, MARCH, "zh_Hans")
    first = rows_of(document.content)[0]
    assert first["编号"] == "R-2025-000001" and first["类别"] == "照明维修"
    assert first["描述"] == '\'=HYPERLINK("http://x")'


async def test_volunteer_hours_export_and_the_dashboard_count_verified_service(week: Week) -> None:
    await add_verified_service(week, 2.5)
    community = Scope(kind=ScopeKind.COMMUNITY, id=week.street.community)
    document = await exports.export(week.h.services, exports.Export.HOURS, community, MARCH, "en")
    [row] = rows_of(document.content)
    assert row["Activity"] == "'=清扫楼道" and row["Volunteer"] == "Alice Ng" and row["Hours"] == "2.5"
    south = Scope(kind=ScopeKind.GRID, id=week.street.south)
    assert (await exports.export(week.h.services, exports.Export.HOURS, south, MARCH, "en")).rows == 0
    await week.liu.send("/stats")
    assert "Volunteers: 1 · service hours: 2.5" in week.liu.last_message.text


async def test_organizer_exports_through_telegram_and_cannot_export_the_street(week: Week) -> None:
    liu = week.liu
    await liu.send("/export")
    assert "This month: 2025-03-01 – 2025-03-31" in liu.last_message.text
    await liu.press("📄 Reports")
    sent = liu.last_message.document
    assert sent is not None and sent.file_name is not None and sent.file_name.endswith(".csv")
    assert len(rows_of(sent.content)) == 10
    await liu.press("Last week")
    await liu.press("📄 Reports")
    assert "0 rows" in liu.last_message.text
    await liu.press_data("ex:f:s0:tm:r")
    answer = liu.last_callback_answer
    assert answer is not None and answer.show_alert and "your own area" in (answer.text or "")
    await liu.press_data(f"ex:f:c{week.street.community}:tm:zz")
    assert "expired" in (liu.last_callback_answer.text or "")  # type: ignore[union-attr]


async def test_deliberation_results_are_totals_and_turnout_never_ballots(week: Week) -> None:
    await add_closed_vote(week)
    document = await exports.export(week.h.services, exports.Export.DELIBERATION, STREET, MARCH, "en")
    [row] = rows_of(document.content)
    assert row["Topic"] == "加装电梯" and row["Community"] == "Riverside"
    assert (row["Eligible votes"], row["Votes cast"], row["Turnout"], row["Quorum met"]) == (
        "2",
        "1",
        "50%",
        "yes",
    )
    assert row["Result"] == "yes: 1 (100%); no: 0 (0%); abstain: 0 (0%)" and row["Decision"] == "同意加装"
    text = document.content.decode("utf-8-sig")
    assert "Alice" not in text and "Bob" not in text
    south = Scope(kind=ScopeKind.GRID, id=week.street.south)
    assert (await exports.export(week.h.services, exports.Export.DELIBERATION, south, MARCH, "en")).rows == 0
    await week.liu.send("/stats")
    assert "Votes closed: 1 · turnout: 50% (1 of 2)" in week.liu.last_message.text
    await week.liu.send("/export")
    await week.liu.press("🗳 Deliberation results")
    sent = week.liu.last_message.document
    assert sent is not None and len(rows_of(sent.content)) == 1


def run_cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_PATH": str(database)}
    environment.pop("BOT_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "export", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


async def test_command_line_export_writes_the_same_csv(week: Week, tmp_path: Path) -> None:
    database = week.h.settings.database_path
    out = tmp_path / "march.csv"
    done = run_cli(database, "reports", "--from", "2025-03-01", "--to", "2025-03-31", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote 10 rows" in done.stdout
    assert len(rows_of(out.read_bytes())) == 10
    grid = run_cli(
        database,
        "hours",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-31",
        "--out",
        str(out),
        "--scope",
        f"grid:{week.street.north}",
        "--lang",
        "zh_Hans",
    )
    assert grid.returncode == 0 and out.read_bytes().startswith(BOM)
    common = ["--to", "2025-03-31", "--out", str(out)]
    for bad in (
        ["reports", "--from", "2025-03-01", *common, "--scope", "street:1"],
        ["reports", "--from", "2025-03-01", *common, "--scope", "grid"],
        ["reports", "--from", "2025-04-01", *common],
    ):
        assert run_cli(database, *bad).returncode == 2

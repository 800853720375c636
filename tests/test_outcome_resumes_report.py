"""A report escalated to deliberation goes back to work when its topic's outcome is published, or when the
topic is called off, through the offline Telegram.

Rita (building 12) reports a broken stairwell light on Monday 3 March 2025 at 09:00; Wang, the grid's worker,
who reads the bot in Chinese, accepts it; Chen, the grid's team lead, escalates it; Olga announces the topic
at once for three days, so voting closes on Thursday 6 March at 09:00. Lighting gives 24 working hours to
fix (09:00–17:30 working days): the first fix deadline, Wednesday 16:00, falls while the topic is decided,
and a clock restarted on Thursday at 09:00 runs to Monday 10 March 16:00, reminding on Friday at 12:30.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import from_db
from bot.domain.deliberation import Rules, Track
from bot.domain.people import Role, Scope, ScopeKind
from bot.domain.reports import Report, ReportState
from bot.services import deliberation as topics
from bot.services import reports as report_service
from bot.services import roster
from bot.services.deliberation import Setup
from bot.services.reports import ACCEPT_DUE, ACCEPT_REMIND, FIX_DUE, FIX_REMIND
from tests.support.people import BotHarness, Person
from tests.test_deliberation_scenarios import B12, Street, add, street_of, vote
from tests.test_recategorise import recategorise
from tests.test_reports_scenarios import TZ

DECISION = "Replace the stairwell lights with motion-sensor lamps"
NUMBER = "R-2025-000001"


def march(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=TZ)


@dataclass
class Escalated:
    street: Street
    wang: Person  # the grid's worker, reads the bot in Chinese
    chen: Person  # the grid's team lead
    una: Person  # follows Rita's report; unverified, so not among those who decide
    report_id: int
    topic_id: int

    @property
    def h(self) -> BotHarness:
        return self.street.h

    @property
    def rita(self) -> Person:
        return self.street.residents[0]

    async def report(self) -> Report:
        found = await report_service.get(self.h.services, self.report_id)
        assert found is not None
        return found

    async def pending_timers(self) -> dict[str, datetime]:
        rows = await self.h.services.db.fetch_all(
            "SELECT kind, due_at FROM timers WHERE subject = ? AND kind LIKE 'report.%' AND state = 'pending'",
            (str(self.report_id),),
        )
        return {row["kind"]: from_db(row["due_at"]) for row in rows}

    async def events(self) -> list[tuple[str, str | None, str]]:
        return [(e.kind, e.to_state, e.detail) for e in await report_service.timeline(self.h.services, self.report_id)]


async def file_light_report(person: Person) -> None:
    await person.send("/report")
    await person.press("Lighting")
    await person.send("Stairwell light broken on floor 3")
    await person.press("Skip")
    await person.press("🏠 My building")
    await person.press("👤 Show my name")


async def escalated_report(h: BotHarness) -> Escalated:
    """Up to the moment the team lead made a topic of Rita's report: a draft for an organizer to set up."""
    street = await street_of(h)
    wang, chen = h.person("Wang", "zh-hans"), h.person("Chen", "en")
    grid = Scope(kind=ScopeKind.GRID, id=1)
    wang_id = street.ids[wang.id] = await add(h, wang, name="Wang", role=(Role.GRID_WORKER, grid))
    street.ids[chen.id] = await add(h, chen, name="Chen", role=(Role.SECRETARY, grid))
    async with h.services.db.transaction() as conn:
        await conn.execute("UPDATE people SET locale = 'zh_Hans' WHERE id = ?", (wang_id,))
    rita, una = street.residents[0], street.unverified
    await file_light_report(rita)
    await rita.press("✅ Confirm")
    await file_light_report(una)
    await una.press(f"Follow {NUMBER}")
    await wang.press("✅ 签收")
    report_id = await h.services.db.fetch_value("SELECT id FROM reports WHERE number = ?", (NUMBER,))
    await chen.send(f"/escalate {NUMBER}")
    assert "is now topic #1" in chen.last_message.text
    return Escalated(street, wang, chen, una, report_id, 1)


async def announce(case: Escalated, *, opens_in: timedelta | None = None) -> None:
    """Olga announces the topic for building 12, voting to close three days after it opens (at once unless
    `opens_in`)."""
    h = case.h
    olga = await case.street.member(case.street.olga)
    draft = await topics.managed_topic(h.services, olga, case.topic_id)
    opens_at = h.clock.now() + opens_in if opens_in else None
    await topics.publish(h.services, olga, Setup(
        track=Track.SMALL, community_id=1, title=draft.title, background=draft.background, rules=Rules(),
        closes_at=(opens_at or h.clock.now()) + timedelta(days=3), opens_at=opens_at, building_ids=[B12],
    ), draft_id=draft.id)
    await h.settle()


async def escalated_case(h: BotHarness) -> Escalated:
    """Up to the moment voting opens on the topic the team lead made of Rita's report."""
    case = await escalated_report(h)
    await announce(case)
    for resident in case.street.residents[:3]:
        await vote(resident, case.topic_id, "👍 Yes")
    return case


@pytest.fixture
async def case(tmp_path: Path) -> AsyncIterator[Escalated]:
    async with BotHarness(tmp_path) as h:
        yield await escalated_case(h)


async def olga_publishes_the_outcome(case: Escalated) -> None:
    """From the topic card, as an organizer does once voting has closed."""
    olga = case.street.olga
    await olga.send("/topics")
    await olga.press_data(f"dva:t:{case.topic_id}")
    await olga.press("📜 Publish the outcome")
    await olga.send(DECISION)
    await olga.send("Property management orders the lamps; the grid worker fits them")
    await olga.send("Wang, grid worker")
    await olga.send("4-1")
    await olga.press("📜 Publish")
    assert "The outcome is published" in olga.last_message.text


def outcomes(person: Person) -> list[str]:
    return [m.text for m in person.inbox if m.text.startswith("📜 Outcome")]


async def test_publishing_the_outcome_of_an_escalated_report_puts_its_worker_back_on_the_clock(
    case: Escalated,
) -> None:
    await case.h.advance(days=3)  # voting closes on Thursday 09:00; Wednesday's fix deadline passed meanwhile
    assert (await case.report()).state is ReportState.DELIBERATION
    assert not any("Overdue" in m.text for m in case.chen.inbox)
    assert await case.pending_timers() == {}
    await olga_publishes_the_outcome(case)
    report = await case.report()
    assert report.state is ReportState.IN_PROGRESS and report.assignee_id is not None
    assert report.fix_by == report.due_at == march(10, 16)
    assert await case.pending_timers() == {FIX_REMIND: march(7, 12, 30), FIX_DUE: march(10, 16)}
    assert (await case.events())[-1] == ("resumed", ReportState.IN_PROGRESS, f"topic {case.topic_id}")
    told = case.wang.last_message
    assert told.text == (
        f"📜 议题 #1 已有议事结果，工单 {NUMBER}（照明维修）状态更新：🔧 处置中。\n"
        f"决定：{DECISION}\n🛠 办结时限 3月10日 周一 16:00（4天后）。"
    )
    assert told.buttons == ["📋 打开工单"]
    # The reporter (who also voted) and the follower read the outcome and where the report stands, once.
    line = f"🔧 Report {NUMBER} (Lighting) is now 🔧 in progress; fix by Mon 10 Mar 16:00."
    for resident in (case.rita, case.una):
        [outcome] = outcomes(resident)
        assert DECISION in outcome and outcome.endswith(line)
    [plain] = outcomes(case.street.residents[1])  # a neighbour who voted: the outcome alone
    assert DECISION in plain and "Report" not in plain
    await case.wang.press("📋 打开工单")
    card = case.wang.last_message.text
    assert "🔧 处置中" in card and "3月10日 周一 16:00" in card


async def test_a_resumed_task_not_fixed_by_its_new_deadline_reaches_the_team_lead_on_the_timer_tick(
    case: Escalated,
) -> None:
    h, wang, chen = case.h, case.wang, case.chen
    await h.advance(days=3)
    await olga_publishes_the_outcome(case)
    await h.restart()
    await h.advance(days=1, hours=3, minutes=29)  # Friday 12:29
    assert not any(m.text.startswith("⏰") for m in wang.inbox)
    await h.advance(minutes=2)
    assert wang.last_message.text.startswith(f"⏰ 工单 {NUMBER}（照明维修）办结时限：")
    await h.restart()
    await h.advance(days=3, hours=3, minutes=28)  # Monday 10 March 15:59
    assert not any("Overdue" in m.text for m in chen.inbox)
    await h.advance(minutes=2)
    assert chen.last_message.text == (
        f"⚠️ Overdue notice: report {NUMBER} (Lighting) was not fixed in time (🔧 in progress)."
    )
    assert chen.last_message.buttons == ["📋 Open task"]
    report = await case.report()
    assert report.overdue(h.clock.now())
    assert [kind for kind, _state, _detail in await case.events()][-2:] == ["resumed", "fix_overdue"]
    fired = await h.services.db.fetch_value(
        "SELECT COUNT(*) FROM timers WHERE kind = ? AND subject = ? AND state = 'fired'",
        (FIX_DUE, str(case.report_id)),
    )
    assert fired == 1
    await h.advance(hours=1)
    assert sum("Overdue notice" in m.text for m in chen.inbox) == 1


async def test_an_outcome_published_after_the_team_lead_resolved_the_report_leaves_it_alone(
    case: Escalated,
) -> None:
    h, chen = case.h, case.chen
    await h.advance(days=2)  # Wednesday: the lead does not wait for the vote
    await chen.press_data(f"tk:o:{case.report_id}")
    await chen.press("✔️ Mark fixed")
    await chen.send("New lamp fitted by the property management")
    await chen.send_photo()
    assert "Is it fixed?" in case.rita.last_message.text
    await h.advance(days=1)
    before = len(case.wang.inbox)
    await olga_publishes_the_outcome(case)
    report = await case.report()
    assert report.state is ReportState.RESOLVED and report.due_at is None
    assert FIX_DUE not in await case.pending_timers()
    assert "resumed" not in [kind for kind, _state, _detail in await case.events()]
    assert case.wang.inbox[before:] == []
    [outcome] = outcomes(case.rita)
    assert DECISION in outcome and "is now" not in outcome
    [followed] = outcomes(case.una)
    assert followed == outcome


async def test_an_escalated_report_whose_worker_erased_their_account_is_routed_again_by_the_outcome(
    case: Escalated,
) -> None:
    h, wang, chen = case.h, case.wang, case.chen
    await wang.send("/deleteme")
    await wang.press(wang.last_message.buttons[0])  # yes, erase
    await h.advance(days=3)
    await olga_publishes_the_outcome(case)
    report = await case.report()
    assert report.state is ReportState.ASSIGNED and report.assignee_id == case.street.ids[chen.id]
    assert report.due_at == march(6, 13) and report.fix_by == march(10, 16)
    assert await case.pending_timers() == {
        ACCEPT_REMIND: march(6, 11), ACCEPT_DUE: march(6, 13), FIX_REMIND: march(7, 12, 30), FIX_DUE: march(10, 16),
    }
    assert [(kind, state) for kind, state, _detail in await case.events()][-2:] == [
        ("resumed", None), ("assigned", ReportState.ASSIGNED),
    ]
    task, outcome = chen.inbox[-2:]
    assert task.text.startswith(f"🆕 Task {NUMBER} · Lighting") and "fix by Mon 10 Mar 16:00" in task.text
    assert outcome.text.startswith(f"📜 Topic #1 has its outcome, and task {NUMBER} (Lighting) is now ⏳ assigned.")
    assert outcome.buttons == ["📋 Open task"]
    [told] = outcomes(case.rita)
    assert told.endswith(f"Report {NUMBER} (Lighting) is now ⏳ assigned; fix by Mon 10 Mar 16:00.")
    await chen.press("✅ Accept")
    accepted = await case.report()
    assert accepted.state is ReportState.ACCEPTED and accepted.due_at == march(10, 16)


async def test_team_lead_recategorising_a_resumed_report_times_the_fix_deadline_from_the_outcome(
    case: Escalated,
) -> None:
    h, wang, chen = case.h, case.wang, case.chen
    await h.advance(days=3)  # Thursday 09:00: the clock restarts now, three days after the assignment
    await olga_publishes_the_outcome(case)
    await h.advance(hours=1)
    await recategorise(chen, "Safety hazard")
    report = await case.report()
    assert report.category == "safety" and report.state is ReportState.IN_PROGRESS
    assert report.fix_by == report.due_at == march(6, 17)  # a hazard's 8 working hours from the outcome
    assert await case.pending_timers() == {FIX_REMIND: march(6, 13), FIX_DUE: march(6, 17)}
    assert wang.last_message.text == f"🏷 工单 {NUMBER} 的类别已改为“安全隐患”：办结时限 3月6日 周四 17:00。"
    await h.advance(hours=6, minutes=59)  # 16:59
    assert not any("Overdue" in m.text for m in chen.inbox)
    await h.advance(minutes=2)
    assert chen.last_message.text == (
        f"⚠️ Overdue notice: report {NUMBER} (Safety hazard) was not fixed in time (🔧 in progress)."
    )


def timeline_labels(card: str) -> list[str]:
    return [line.split(" — ", 1)[1] for line in card.splitlines() if line.startswith("• ")]


async def test_worker_and_reporter_read_the_escalation_and_the_return_to_work_in_their_own_language(
    case: Escalated,
) -> None:
    await case.h.advance(days=3)
    wang = case.wang
    await wang.send("/tasks")
    await wang.press(wang.last_message.buttons[0])
    during = wang.last_message.text.splitlines()
    assert "🛠 办结时限暂停，待议事结果公布后重新计时" in during  # not an old deadline that reads as overdue
    assert not any(line.startswith("🛠 办结时限 ") for line in during)
    await olga_publishes_the_outcome(case)
    await case.wang.press("📋 打开工单")
    assert timeline_labels(case.wang.last_message.text)[-2:] == ["转入议事", "议事结束，恢复处置"]
    rita = case.rita
    await rita.send("/myreports")
    await rita.press(rita.last_message.buttons[0])
    assert timeline_labels(rita.last_message.text)[-2:] == [
        "escalated to deliberation", "back to work after deliberation",
    ]


async def test_organizer_calling_off_the_topic_of_an_escalated_report_puts_its_worker_back_on_the_clock(
    tmp_path: Path,
) -> None:
    async with BotHarness(tmp_path) as h:
        case = await escalated_report(h)
        await announce(case, opens_in=timedelta(days=1))  # the neighbours hear of it; voting opens on Tuesday
        await h.advance(hours=1)
        olga, wang, chen = case.street.olga, case.wang, case.chen
        await olga.send("/topics")
        await olga.press_data(f"dva:t:{case.topic_id}")
        await olga.press("✖️ Call off")
        await olga.press("Yes")
        report = await case.report()
        assert report.state is ReportState.IN_PROGRESS and report.assignee_id is not None
        assert report.fix_by == report.due_at == march(5, 17)  # 24 working hours from Monday 10:00
        assert await case.pending_timers() == {FIX_REMIND: march(4, 13, 30), FIX_DUE: march(5, 17)}
        assert (await case.events())[-1] == ("resumed", ReportState.IN_PROGRESS, f"topic {case.topic_id} called off")
        assert wang.last_message.text == (
            f"✖️ 议题 #1 已取消，工单 {NUMBER}（照明维修）状态更新：🔧 处置中。\n🛠 办结时限 3月5日 周三 17:00（2天后）。"
        )
        assert wang.last_message.buttons == ["📋 打开工单"]
        # The reporter (told of the topic as a neighbour too) and the follower hear it once, with their report.
        line = f"🔧 Report {NUMBER} (Lighting) is now 🔧 in progress; fix by Wed 5 Mar 17:00."
        for resident in (case.rita, case.una):
            [called_off] = [m.text for m in resident.inbox if m.text.startswith("✖️")]
            assert called_off.startswith("✖️ Topic #1 ") and called_off.endswith(line)
        [plain] = [m.text for m in case.street.residents[1].inbox if m.text.startswith("✖️")]
        assert plain.endswith("was called off.")
        await h.restart()
        await h.advance(days=2, hours=6, minutes=59)  # Wednesday 16:59
        assert not any("Overdue" in m.text for m in chen.inbox)
        await h.advance(minutes=2)
        assert chen.last_message.text == (
            f"⚠️ Overdue notice: report {NUMBER} (Lighting) was not fixed in time (🔧 in progress)."
        )


async def stand_in(case: Escalated) -> tuple[Person, int]:
    """Zhou, another worker of the grid, who reads the bot in English."""
    zhou = case.h.person("Zhou", "en")
    grid = Scope(kind=ScopeKind.GRID, id=1)
    case.street.ids[zhou.id] = await add(case.h, zhou, name="Zhou", role=(Role.GRID_WORKER, grid))
    return zhou, case.street.ids[zhou.id]


WAITS = f"🗳 Task {NUMBER} (Lighting) is yours now. It is being decided in deliberation: its fix deadline is suspended"


async def test_worker_going_on_leave_during_the_vote_hands_the_escalated_task_over_and_the_outcome_resumes_it(
    case: Escalated,
) -> None:
    h, wang, chen = case.h, case.wang, case.chen
    zhou, zhou_id = await stand_in(case)
    await h.advance(days=1)  # Tuesday 09:00, the vote runs until Thursday
    await roster.mark_leave(h.services, await case.street.member(wang), date(2025, 3, 5), date(2025, 3, 14), zhou_id)
    await wang.send("/leave")
    await wang.press(wang.last_message.buttons[0])  # hand my open task to Zhou
    report = await case.report()
    assert report.state is ReportState.DELIBERATION and report.assignee_id == zhou_id and report.due_at is None
    assert await case.pending_timers() == {}  # the fix clock stays suspended
    assert any(m.text.startswith(WAITS) for m in zhou.inbox)
    assert any(m.text.endswith("is now handled by a grid worker.") for m in case.rita.inbox)
    await h.advance(days=2)
    await olga_publishes_the_outcome(case)
    report = await case.report()
    assert report.state is ReportState.IN_PROGRESS and report.assignee_id == zhou_id
    assert report.fix_by == report.due_at == march(10, 16)
    assert await case.pending_timers() == {FIX_REMIND: march(7, 12, 30), FIX_DUE: march(10, 16)}
    assert zhou.last_message.text.startswith(f"📜 Topic #1 has its outcome, and task {NUMBER} (Lighting) is now 🔧 in")
    assert not any(m.text.startswith("📜 议题") for m in wang.inbox)
    await h.advance(days=1, hours=3, minutes=31)  # Friday 12:31: half-way
    assert zhou.last_message.text.startswith(f"⏰ Task {NUMBER} (Lighting) is to be fixed")
    await h.advance(days=3, hours=3, minutes=30)  # Monday 10 March 16:01
    assert chen.last_message.text == (
        f"⚠️ Overdue notice: report {NUMBER} (Lighting) was not fixed in time (🔧 in progress)."
    )


async def test_team_lead_reassigning_an_escalated_task_during_the_vote_leaves_it_waiting_for_the_outcome(
    case: Escalated,
) -> None:
    h, wang, chen = case.h, case.wang, case.chen
    zhou, zhou_id = await stand_in(case)
    told = len(case.rita.inbox)
    await chen.press_data(f"tk:o:{case.report_id}")
    await chen.press("⚙️ Manage")
    await chen.press("👥 Reassign")
    await chen.press(next(b for b in chen.last_message.buttons if b.startswith("Zhou")))
    report = await case.report()
    assert report.state is ReportState.DELIBERATION and report.assignee_id == zhou_id and report.due_at is None
    assert await case.pending_timers() == {}
    assert zhou.last_message.text.startswith(WAITS) and zhou.last_message.buttons == ["📋 Open task"]
    assert wang.last_message.text == f"工单 {NUMBER}（照明维修）已改派他人，您无需再处理。"
    assert case.rita.inbox[told:] == []  # nothing changed for her
    await h.advance(days=3)
    await olga_publishes_the_outcome(case)
    report = await case.report()
    assert report.state is ReportState.IN_PROGRESS and report.assignee_id == zhou_id
    assert report.due_at == march(10, 16) and FIX_DUE in await case.pending_timers()

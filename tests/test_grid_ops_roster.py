"""Duty roster, leave and offboarding: urgent night reports reach the person on duty, a stand-in takes a
worker's new and open tasks, and a leaving worker's tasks move on in one step with the reporters told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.domain.people import Role, Scope, ScopeKind
from bot.domain.reports import ReportState
from bot.services import digests, roster, tasks
from bot.services.reports import Refused
from tests.grid_ops_team import Team, local, team_of, texts
from tests.reports_street import add_person
from tests.support.people import BotHarness


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Team]:
    async with BotHarness(tmp_path) as h:
        yield await team_of(h)


HANDLED = "is now handled by a grid worker."


# ------------------------------------------------------------------------------------------------ duty


async def test_an_urgent_report_at_23_00_reaches_the_person_on_duty_who_takes_it_over(team: Team) -> None:
    chen = team.chen
    await chen.send("/duty")
    assert "Nobody is on the roster" in chen.last_message.text
    await chen.press("➕ Add a duty")
    await chen.press("North")
    await chen.press("Zhou · grid worker (part-time)")
    await chen.press("Today")
    await chen.press("The same day")
    assert "North: Zhou, Mon 3 Mar" in chen.last_message.text
    await chen.press("✅ Save")
    assert "📅 Saved: North, Zhou, Mon 3 Mar. They are told." in texts(chen)
    assert "You are on duty for North from 2025-03-03 to 2025-03-03" in texts(team.zhou)

    await team.advance_to(local(2025, 3, 3, 23, 0), step=timedelta(hours=6))
    leak = await team.file("alice", category="leak", description="Water pouring from the ceiling", urgent=True)
    assert leak.assignee_id == team.ids["wang"]
    assert f"🆕 Task {leak.number} · Water leak · ⚠️ urgent" in texts(team.wang)
    alert = team.zhou.last_message
    assert alert.text.startswith(f"🚨 Urgent, while you are on duty: {leak.number} · Water leak")
    assert "Alice Ng · 13800000001" in alert.text and "It went to Wang too." in alert.text

    await team.zhou.press("🙋 Take it over")
    assert team.zhou.last_callback_answer is not None
    assert team.zhou.last_callback_answer.text == "It is yours now. Please accept it."
    taken = await team.report(leak.id)
    assert taken.assignee_id == team.ids["zhou"] and taken.state is ReportState.ASSIGNED
    assert f"Task {leak.number} (Water leak) was taken over by Zhou, on duty" in texts(team.wang)
    assert f"Report {leak.number} (Water leak) {HANDLED}" in texts(team.alice)
    await team.zhou.press("✅ Accept")
    assert (await team.report(leak.id)).state is ReportState.ACCEPTED

    # Three in the morning still belongs to Monday's duty; so does a second tap on the old button.
    await team.advance_to(local(2025, 3, 4, 3, 0))
    second = await team.file("bob", category="lift", description="Lift stuck", urgent=True)
    assert team.zhou.last_message.text.startswith(f"🚨 Urgent, while you are on duty: {second.number}")
    await team.zhou.press_data(f"duty:t:{leak.id}")
    assert team.zhou.last_callback_answer is not None
    assert "accepted this report already" in team.zhou.last_callback_answer.text


async def test_no_duty_copy_in_working_hours_or_for_ordinary_reports_and_communities_cover_grids(
    team: Team,
) -> None:
    services = team.h.services
    chen, liu = await team.profile("chen"), await team.profile("liu")
    today = date(2025, 3, 3)
    await roster.add_shift(services, chen, Scope(kind=ScopeKind.GRID, id=team.street.north), team.ids["zhou"],
                           today, today + timedelta(days=6))
    await roster.add_shift(services, liu, Scope(kind=ScopeKind.COMMUNITY, id=team.street.community),
                           team.ids["wang"], today, today + timedelta(days=6))
    await team.h.settle()
    await team.file("alice", category="leak", description="Dripping", urgent=True)  # 09:00, working time
    await team.advance_to(local(2025, 3, 3, 22, 0))
    await team.file("alice", description="Light out again")  # not urgent
    assert "🚨" not in texts(team.zhou)
    # South has no roster of its own: the community's person on duty covers it.
    south = await team.file("carol", category="safety", description="Loose railing", urgent=True,
                            building_id=team.street.building_s)
    assert south.assignee_id == team.ids["liu"]
    assert team.wang.last_message.text.startswith(f"🚨 Urgent, while you are on duty: {south.number}")
    assert "🚨" not in texts(team.zhou)
    # Saturday daytime is not working time either.
    await team.advance_to(local(2025, 3, 8, 11, 0), step=timedelta(hours=12))
    weekend = await team.file("bob", category="lift", description="Lift stuck", urgent=True)
    assert team.zhou.last_message.text.startswith(f"🚨 Urgent, while you are on duty: {weekend.number}")


async def test_only_those_keeping_a_roster_change_it(team: Team) -> None:
    chen, wang = await team.profile("chen"), await team.profile("wang")
    north = Scope(kind=ScopeKind.GRID, id=team.street.north)
    with pytest.raises(Refused):
        await roster.add_shift(team.h.services, wang, north, team.ids["zhou"], date(2025, 3, 3), date(2025, 3, 3))
    with pytest.raises(Refused):  # Carol is not on the team
        await roster.add_shift(team.h.services, chen, north, team.ids["carol"], date(2025, 3, 3), date(2025, 3, 3))
    with pytest.raises(Refused):  # over already
        await roster.add_shift(team.h.services, chen, north, team.ids["zhou"], date(2025, 3, 1), date(2025, 3, 2))
    shift = await roster.add_shift(team.h.services, chen, north, team.ids["zhou"], date(2025, 3, 3),
                                   date(2025, 3, 9))
    await team.wang.send("/duty")
    assert "North · Zhou · Mon 3 Mar – Sun 9 Mar" in team.wang.last_message.text
    assert team.wang.last_message.buttons == []  # workers read the roster, leads change it
    await team.wang.press_data(f"duty:x:{shift.id}")
    assert team.wang.last_callback_answer is not None and "outside the grids" in team.wang.last_callback_answer.text
    await team.chen.send("/duty")
    await team.chen.press("🗑 North · Zhou · Mon 3 Mar – Sun 9 Mar")
    assert "Nobody is on the roster" in team.chen.last_message.text
    assert "Your duty from 2025-03-03 to 2025-03-09 was taken off the roster." in texts(team.zhou)


# ----------------------------------------------------------------------------------------------- leave


async def test_leave_routes_new_tasks_to_the_stand_in_and_hands_over_open_ones(team: Team) -> None:
    services = team.h.services
    wang_profile = await team.profile("wang")
    light = await team.file("alice", description="Stair light out")
    await tasks.accept(services, wang_profile, light.id)
    bins = await team.file("bob", category="sanitation", description="Bins overflowing")
    await digests.ensure_digest(services)

    wang = team.wang
    await wang.send("/leave")
    await wang.press("➕ Mark leave")
    await wang.press("Tomorrow")
    await wang.send("3-7")
    await wang.press("Zhou · grid worker (part-time)")
    assert "Tue 4 Mar – Fri 7 Mar, stand-in: Zhou" in wang.last_message.text
    await wang.press("✅ Save")
    assert "🌴 Leave saved: Tue 4 Mar – Fri 7 Mar. Zhou stands in and is told." in texts(wang)
    assert "Wang is on leave from 2025-03-04 to 2025-03-07, and you stand in" in texts(team.zhou)
    assert wang.last_message.buttons[0] == "🤝 Hand my 2 open tasks to Zhou"

    today = await team.file("carol", description="Light out", building_id=team.street.building_b)
    assert today.assignee_id == team.ids["wang"]  # the leave starts tomorrow
    await team.advance_to(local(2025, 3, 4, 9, 0))
    stand_in_digest = next(m.text for m in team.zhou.inbox if m.text.startswith("☀️ Daily digest"))
    assert "🤝 Standing in for Wang (3):" in stand_in_digest
    assert all(r.number in stand_in_digest for r in (light, bins, today))
    assert not any(m.text.startswith("☀️ Daily digest") for m in wang.inbox)
    new = await team.file("alice", description="Corridor light out")
    assert new.assignee_id == team.ids["zhou"]

    await wang.send("/leave")
    await wang.press("🤝 Hand my 3 open tasks to Zhou")
    assert wang.last_callback_answer is not None and wang.last_callback_answer.text == "Handed over: 3."
    for report in (light, bins, today):
        moved = await team.report(report.id)
        assert moved.assignee_id == team.ids["zhou"] and moved.state is ReportState.ASSIGNED
    assert f"Report {light.number} (Lighting) {HANDLED}" in texts(team.alice)
    assert f"Report {bins.number} (Sanitation) {HANDLED}" in texts(team.bob)
    assert "Wang handed their 3 open tasks over to you while they are on leave." in texts(team.zhou)
    assert wang.last_message.buttons[0] == "✖️ Cancel leave Tue 4 Mar – Fri 7 Mar"

    wang_profile = await team.profile("wang")
    with pytest.raises(Refused):  # overlapping leave
        await roster.mark_leave(services, wang_profile, date(2025, 3, 6), date(2025, 3, 10), team.ids["zhou"])
    await wang.press("✖️ Cancel leave Tue 4 Mar – Fri 7 Mar")
    assert "No leave marked" in wang.last_message.text
    assert "Wang cancelled their leave from 2025-03-04 to 2025-03-07" in texts(team.zhou)
    back = await team.file("bob", description="Gate light out")
    assert back.assignee_id == team.ids["wang"]


async def test_an_overdue_notice_reaches_the_team_leads_stand_in_while_they_are_on_leave(team: Team) -> None:
    services = team.h.services
    chen = await team.profile("chen")
    await roster.mark_leave(services, chen, date(2025, 3, 3), date(2025, 3, 7), team.ids["zhou"])
    report = await team.file("alice", description="Stair light out")
    await team.h.advance(hours=5)  # past its four working hours to accept
    notice = f"⚠️ Overdue notice: report {report.number} (Lighting) was not accepted in time"
    assert notice in texts(team.zhou)
    assert notice not in texts(team.chen)


async def test_leave_days_and_stand_ins_are_checked(team: Team) -> None:
    wang = team.wang
    await wang.send("/leave")
    await wang.press("➕ Mark leave")
    await wang.send("next week-ish")
    assert "I could not read that day" in texts(wang)
    await wang.send_sticker()
    await wang.send("2025-03-10")
    await wang.send("3-9")  # before the first day
    assert texts(wang).count("I could not read that day") == 3
    await wang.send("2025-03-12")
    await wang.press_data(wang.last_message.callback_data["Zhou · grid worker (part-time)"].replace(
        f":{team.ids['zhou']}", f":{team.ids['carol']}"
    ))
    assert wang.last_callback_answer is not None and "Pick someone from the list" in wang.last_callback_answer.text
    await wang.send("/cancel")
    assert await team.h.services.db.fetch_value("SELECT COUNT(*) FROM leaves") == 0
    await team.alice.send("/leave")
    assert "for staff" in team.alice.last_message.text


# ----------------------------------------------------------------------------------------- offboarding


async def test_offboarding_reassigns_every_open_task_at_once_and_tells_the_reporters(team: Team) -> None:
    services = team.h.services
    wang_profile = await team.profile("wang")
    light = await team.file("alice", description="Stair light out")
    await tasks.accept(services, wang_profile, light.id)
    bins = await team.file("bob", category="sanitation", description="Bins overflowing")
    noise = await team.file("alice", category="noise", description="Drilling")
    await tasks.accept(services, wang_profile, noise.id)
    await tasks.resolve(services, wang_profile, noise.id, "Spoke to the neighbour", None)
    elsewhere = await team.file("carol", building_id=team.street.building_s)  # Liu's, untouched

    chen = team.chen
    await chen.send("/offboard")
    await chen.press("Wang · grid worker (full-time) · North")
    assert chen.last_message.buttons == [
        "Chen · grid team lead (default)", "Liu · organizer", "Zhou · grid worker (part-time)",
        "Sun · street admin", "Cancel",
    ]
    await chen.press("Zhou · grid worker (part-time)")
    assert "Their 3 open tasks there go to Zhou at once" in chen.last_message.text
    confirm = chen.last_message
    await chen.press("✅ End the role and hand over")
    assert "Done: Wang is off the team; 3 open tasks went to Zhou" in chen.last_message.text

    assert not (await team.profile("wang")).has(Role.GRID_WORKER)
    for report, state in ((light, ReportState.ASSIGNED), (bins, ReportState.ASSIGNED), (noise, ReportState.RESOLVED)):
        moved = await team.report(report.id)
        assert moved.assignee_id == team.ids["zhou"] and moved.state is state
    assert (await team.report(elsewhere.id)).assignee_id == team.ids["liu"]
    alice = texts(team.alice)
    assert f"Report {light.number} (Lighting) {HANDLED}" in alice
    assert f"Report {noise.number} (Noise and neighbours) {HANDLED}" in alice
    assert f"Report {bins.number} (Sanitation) {HANDLED}" in texts(team.bob)
    assert "Your role as grid worker (full-time) in North has ended. Your 3 open tasks there went to Zhou." in (
        texts(team.wang)
    )
    assert "Wang is no longer grid worker (full-time) in North: their 3 open tasks are yours now." in texts(team.zhou)
    audit = await services.db.fetch_value("SELECT detail FROM audit_log WHERE action = 'role.revoke'")
    assert audit == f"grid_worker:grid:{team.street.north} tasks:3→{team.ids['zhou']}"

    await chen.press_data(confirm.callback_data["✅ End the role and hand over"], message_id=confirm.message_id)
    assert chen.last_callback_answer is not None and "removed already" in chen.last_callback_answer.text
    # The resolved report comes back to Zhou when the reporter says it is not fixed.
    await team.alice.press_data(f"mr:f:{noise.id}:n")
    assert (await team.report(noise.id)).assignee_id == team.ids["zhou"]
    assert f"🔁 Task {noise.number} (Noise and neighbours) is reopened" in texts(team.zhou)
    # New reports of the grid no longer go to Wang.
    assert (await team.file("bob", description="Porch light")).assignee_id == team.ids["zhou"]


async def test_offboarding_is_one_transaction(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    services = team.h.services
    light = await team.file("alice")
    real = roster.hand_over

    async def failing(*args: object, **kwargs: object) -> list[object]:
        await real(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(roster, "hand_over", failing)
    with pytest.raises(RuntimeError):
        await roster.offboard(services, await team.profile("chen"), team.ids["wang"], Role.GRID_WORKER,
                              team.street.north, None)
    assert (await team.profile("wang")).has(Role.GRID_WORKER)
    assert (await team.report(light.id)).assignee_id == team.ids["wang"]
    monkeypatch.setattr(roster, "hand_over", real)
    departure = await roster.offboard(services, await team.profile("chen"), team.ids["wang"], Role.GRID_WORKER,
                                      team.street.north, None)
    assert departure.to_id == team.ids["chen"]  # the team lead by default
    assert (await team.report(light.id)).assignee_id == team.ids["chen"]
    await team.h.settle()
    assert f"Report {light.number} (Lighting) is now handled by the grid's team lead." in texts(team.alice)


async def test_who_may_offboard_whom(team: Team) -> None:
    services = team.h.services
    ma = team.h.person("Ma", "en")
    ma_id = await add_person(services.db, team.h.clock.now(), telegram_id=ma.id, name="Ma", role=Role.SECRETARY,
                             scope_id=team.street.north)
    chen = await team.profile("chen")
    with pytest.raises(Refused):  # a team lead does not remove another team lead
        await roster.offboard(services, chen, ma_id, Role.SECRETARY, team.street.north, None)
    with pytest.raises(Refused):  # a worker removes nobody
        await roster.offboard(services, await team.profile("wang"), team.ids["zhou"], Role.PART_TIME_WORKER,
                              team.street.north, None)
    with pytest.raises(Refused):  # the successor must work in the grid
        await roster.offboard(services, chen, team.ids["zhou"], Role.PART_TIME_WORKER, team.street.north,
                              team.ids["carol"])
    await team.wang.send("/help")
    await team.wang.press_data(f"off:y:{team.ids['zhou']}:part_time_worker:{team.street.north}:{team.ids['chen']}")
    assert team.wang.last_callback_answer is not None and "expired" in team.wang.last_callback_answer.text
    await team.chen.send("/help")
    await team.chen.press_data(f"off:y:{ma_id}:secretary:{team.street.north}:{team.ids['chen']}")
    assert team.chen.last_callback_answer is not None and "outside the grids" in team.chen.last_callback_answer.text
    assert (await team.profile("zhou")).has(Role.PART_TIME_WORKER)
    # The street admin may remove a team lead.
    departure = await roster.offboard(services, await team.profile("sun"), ma_id, Role.SECRETARY,
                                      team.street.north, None)
    assert departure.moved == []

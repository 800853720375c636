"""Signing up, invites, and a person's own data — through the real Application and offline Telegram."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.people import Role, Scope, ScopeKind
from bot.storage import invites, people
from tests.reports_street import seed_street
from tests.support.people import BotHarness, Person

PRIVACY = {"zh-hans": "隐私说明", "zh-hk": "隱私說明", "en-us": "Privacy"}
AGREE = {"zh-hans": "我同意", "zh-hk": "我同意", "en-us": "I agree"}
DONE = {"zh-hans": "注册完成", "zh-hk": "註冊完成", "en-us": "You're all set"}
SKIP = {"zh-hans": "跳过", "zh-hk": "跳過", "en-us": "Skip"}


async def sign_up(person: Person, language: str = "en-us", *, share_phone: bool = False) -> None:
    await person.send("/start")
    await person.press({"zh-hans": "简体中文", "zh-hk": "繁體中文", "en-us": "English"}[language])
    await person.press(AGREE[language])
    await person.press("Riverside")
    await person.press("Building A")
    await person.send("3-201")
    if share_phone:
        await person.share_contact(person.phone)
    else:
        await person.press(SKIP[language])


@pytest.fixture
async def bot(tmp_path: Path):
    async with BotHarness(tmp_path) as harness:
        await seed_street(harness.services.db, harness.clock.now())
        yield harness


@pytest.mark.parametrize("language", ["zh-hans", "zh-hk", "en-us"])
async def test_resident_signs_up_in_their_language(bot: BotHarness, language: str) -> None:
    mei = bot.person("Mei", language_code=language)
    await mei.send("/start")
    assert mei.last_message.buttons == ["简体中文", "繁體中文", "English"]
    await mei.press({"zh-hans": "简体中文", "zh-hk": "繁體中文", "en-us": "English"}[language])
    assert PRIVACY[language] in mei.last_message.text
    await mei.press(AGREE[language])
    await mei.press("Riverside")
    await mei.press("Building A")
    await mei.send("3-201")
    await mei.press(SKIP[language])
    assert DONE[language] in mei.inbox[-1].text
    assert "/profile" in mei.inbox[-1].text
    person = await people.by_telegram_id(bot.services.db, mei.id)
    assert person is not None and person.onboarded and person.unit == "3-201"
    assert person.has(Role.RESIDENT) and not person.verified
    commands = bot.core.commands_for(mei.id)
    assert "profile" in [c["command"] for c in commands]


async def test_the_flow_edits_its_own_message_instead_of_piling_up(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await mei.send("/start")
    await mei.press("English")
    await mei.press("I agree")
    await mei.press("Riverside")
    assert len(mei.inbox) == 1
    assert "Which building" in mei.last_message.text


async def test_a_restart_in_the_middle_of_signing_up_resumes_where_she_was(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await mei.send("/start")
    await mei.press("English")
    await mei.press("I agree")
    await mei.press("Riverside")
    await bot.restart()
    await mei.press("Building B")
    assert "unit" in mei.last_message.text
    await mei.send("12-1203")
    await mei.press("Skip")
    person = await people.by_telegram_id(bot.services.db, mei.id)
    assert person is not None and person.onboarded and person.unit == "12-1203"


async def test_start_after_a_restart_shows_the_step_she_was_on(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await mei.send("/start")
    await mei.press("English")
    await bot.restart()
    await mei.send("/start")
    assert "Privacy" in mei.last_message.text


async def test_someone_elses_contact_is_refused(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await mei.send("/start")
    for label in ("English", "I agree", "Riverside", "Building A"):
        await mei.press(label)
    await mei.send("3-201")
    await mei.share_contact("+8613900000000", user_id=mei.id + 1000)
    assert "someone else's contact" in mei.last_message.text
    assert (await people.by_telegram_id(bot.services.db, mei.id)) is None
    await mei.share_contact(mei.phone)
    person = await people.by_telegram_id(bot.services.db, mei.id)
    assert person is not None and person.phone == mei.phone.removeprefix("+86")


async def test_stickers_and_stale_buttons_during_sign_up_get_a_clear_answer(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await mei.send("/start")
    first_message = mei.last_message.message_id
    await mei.press("English")
    await mei.send_sticker()
    assert "didn't understand" in mei.inbox[-2].text
    assert "Privacy" in mei.last_message.text
    await mei.press_data("f:1:lang:en", message_id=first_message)
    assert "expired" in mei.last_callback_answer.text
    await mei.press_data("f:999:agree")
    assert "expired" in mei.last_callback_answer.text
    await mei.send("x" * 5000)
    assert "Privacy" in mei.last_message.text


async def test_building_can_be_typed_and_a_unit_must_be_short(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await mei.send("/start")
    for label in ("English", "I agree", "Riverside"):
        await mei.press(label)
    await mei.send("Z")
    assert "couldn't find" in mei.inbox[-2].text
    await mei.send("b")
    assert "unit" in mei.last_message.text
    await mei.send("<b>" + "9" * 50)
    assert "up to 20 characters" in mei.last_message.text


async def test_cancel_in_the_middle_saves_nothing(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await mei.send("/start")
    await mei.press("English")
    await mei.send("/cancel")
    assert "Nothing was saved" in mei.last_message.text
    assert (await people.by_telegram_id(bot.services.db, mei.id)) is None


async def test_an_imported_resident_is_linked_by_phone_and_stays_verified(bot: BotHarness) -> None:
    db, now = bot.services.db, bot.clock.now()
    mei = bot.person("Mei", language_code="en", phone="+8613811112222")
    building = await db.fetch_value("SELECT id FROM buildings WHERE code = 'A'")
    async with db.transaction() as conn:
        imported = await people.insert(conn, now=now, telegram_id=None, name="王美", phone="13811112222",
                                       building_id=building, unit="3-201", verification="verified")
    await sign_up(mei, share_phone=True)
    person = await people.by_telegram_id(db, mei.id)
    assert person is not None and person.id == imported and person.verified and person.name == "王美"


async def make_invite(bot: BotHarness, role: Role, scope: Scope, *, days: int = 7) -> str:
    async with bot.services.db.transaction() as conn:
        return await invites.create(conn, role=role, scope=scope, created_by=None, now=bot.clock.now(),
                                    ttl=timedelta(days=days))


async def test_a_grid_worker_joins_by_invite_link_once(bot: BotHarness) -> None:
    grid = await bot.services.db.fetch_value("SELECT id FROM grids WHERE code = 'G1'")
    token = await make_invite(bot, Role.GRID_WORKER, Scope(kind=ScopeKind.GRID, id=grid))
    wang = bot.person("Wang", language_code="en")
    await wang.send(f"/start {token}")
    assert "joined Gongzhi as grid worker (full-time)" in wang.inbox[0].text
    await wang.press("English")
    await wang.press("I agree")
    await wang.press("Skip")
    person = await people.by_telegram_id(bot.services.db, wang.id)
    assert person is not None and person.onboarded and person.has(Role.GRID_WORKER)
    li = bot.person("Li", language_code="en")
    await li.send(f"/start {token}")
    assert "already been used" in li.last_message.text
    assert (await people.by_telegram_id(bot.services.db, li.id)) is None


async def test_expired_and_forged_invites_are_refused(bot: BotHarness) -> None:
    token = await make_invite(bot, Role.ADMIN, Scope(kind=ScopeKind.STREET), days=1)
    await bot.advance(days=2)
    eve = bot.person("Eve", language_code="en")
    await eve.send(f"/start {token}")
    assert "has expired" in eve.last_message.text
    await eve.send("/start forged-token-123")
    assert "not valid" in eve.last_message.text
    await eve.send("/start " + "x" * 200)
    assert "not valid" in eve.last_message.text
    assert (await people.by_telegram_id(bot.services.db, eve.id)) is None


async def test_an_organizer_invites_only_within_their_community(bot: BotHarness) -> None:
    db, now = bot.services.db, bot.clock.now()
    community = await db.fetch_value("SELECT id FROM communities WHERE code = 'C1'")
    token = await make_invite(bot, Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=community))
    zhao = bot.person("Zhao", language_code="en")
    await zhao.send(f"/start {token}")
    for label in ("English", "I agree", "Skip"):
        await zhao.press(label)
    await zhao.send("/invite")
    assert "street admin" not in zhao.last_message.buttons
    await zhao.press("grid worker (full-time)")
    assert zhao.last_message.buttons[:2] == ["North", "South"]
    await zhao.press("North")
    link = zhao.last_message.text.split("\n")[-1]
    assert link.startswith("https://t.me/") and "?start=" in link
    resident = bot.person("Mei", language_code="en")
    await sign_up(resident)
    await resident.send("/invite")
    assert "for staff" in resident.last_message.text
    async with db.transaction() as conn:
        other = (await conn.execute("INSERT INTO communities (code, name) VALUES ('C2', 'Hillside')")).lastrowid
        await conn.execute("INSERT INTO grids (code, community_id, name) VALUES ('G9', ?, 'Far')", (other,))
    await zhao.send("/invite")
    await zhao.press("grid worker (full-time)")
    assert "Far" not in zhao.last_message.buttons
    far = await db.fetch_value("SELECT id FROM grids WHERE code = 'G9'")
    await zhao.press_data(zhao.last_message.callback_data["North"].replace(
        zhao.last_message.callback_data["North"].split(":")[-1], str(far)))
    assert "cannot invite into that scope" in zhao.last_message.text
    assert now is not None


async def test_a_resident_sees_and_erases_their_data(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await sign_up(mei, share_phone=True)
    await mei.send("/mydata")
    document = mei.last_message.document
    assert document is not None and document.file_name == "gongzhi-mydata.json"
    data = json.loads(document.content)
    assert data["profile"][0]["unit"] == "3-201"
    await mei.send("/deleteme")
    await mei.press("Yes, erase my data")
    assert "erased" in mei.inbox[-2].text
    assert (await people.by_telegram_id(bot.services.db, mei.id)) is None
    row = await bot.services.db.fetch_one("SELECT name, phone, unit, erased_at FROM people")
    assert row["name"] == "" and row["phone"] is None and row["unit"] is None and row["erased_at"]
    await mei.send("/profile")
    assert "finish signing up" in mei.last_message.text


async def test_a_forged_erase_button_for_someone_else_changes_nothing(bot: BotHarness) -> None:
    mei, bo = bot.person("Mei", language_code="en"), bot.person("Bo", language_code="en")
    await sign_up(mei)
    await sign_up(bo)
    target = await people.by_telegram_id(bot.services.db, bo.id)
    assert target is not None
    await mei.send("/deleteme")
    await mei.press_data(f"del:yes:{target.id}")
    assert (await people.by_telegram_id(bot.services.db, bo.id)) is not None
    assert (await people.by_telegram_id(bot.services.db, mei.id)) is not None


async def test_language_can_be_changed_later(bot: BotHarness) -> None:
    mei = bot.person("Mei", language_code="en")
    await sign_up(mei)
    await mei.send("/language")
    await mei.press("繁體中文")
    assert "語言" in mei.inbox[-2].text
    await mei.send("/profile")
    assert "我的資料" in mei.last_message.text

"""Structure and people import from the spreadsheets a street office really has; and join links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.people import Role, Scope, ScopeKind
from bot.services.importer import ImportResult, RowError, import_people, import_structure, normalize_phone
from bot.storage import invites
from bot.storage import people as people_store
from bot.storage.db import Database
from bot.storage.invites import TOKEN_PATTERN, Invite, InviteRefusal
from tests.support.storage import migrated_database

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"

STRUCTURE = """community_code,community_name,grid_code,grid_name,building_code,building_name,address,lat,lon
C01,清风社区,C01-G1,清风第一网格,C01-B01,1号楼,清风路1号,31.5901,120.3502
C01,清风社区,C01-G1,清风第一网格,C01-B02,2号楼,清风路3号,31.5903,120.3507
C01,清风社区,C01-G2,清风第二网格,C01-B03,3号楼,清风路5号,,
C02,明月社区,C02-G1,明月第一网格,C02-B01,明月苑1幢,"明月路8号, 东门",31.5950,120.3600
"""

PEOPLE = """name,phone,role,scope_code,building_code,unit
张伟,+86 138-0013-8000,grid_worker,C01-G1,,
张伟,13800138000,resident,,C01-B01,1-101
李娜,139 0013 9000,secretary,C01-G1,,
王芳,13700137000,organizer,C01,,
赵敏,13600136000,admin,,,
刘洋,13500135000,resident,,C01-B02,2-302
陈静,13400134000,resident,,C02-B01,501
"""


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(tmp_path / "t.db") as database:
        yield database


@pytest.fixture
async def street(db: Database, tmp_path: Path) -> Database:
    result = await import_structure(db, write(tmp_path / "structure.csv", STRUCTURE), now=NOW)
    assert result.ok, result.errors
    return db


def counts(result: ImportResult) -> dict[str, tuple[int, int, int]]:
    return {kind: (c.created, c.updated, c.unchanged) for kind, c in result.counts.items()}


async def table_sizes(db: Database) -> dict[str, int]:
    return {
        table: await db.fetch_value(f"SELECT COUNT(*) FROM {table}")
        for table in ("communities", "grids", "buildings", "people", "roles", "invites")
    }


# --- structure -------------------------------------------------------------------------------


async def test_gbk_structure_file_keeps_chinese_names(db: Database, tmp_path: Path) -> None:
    result = await import_structure(db, write(tmp_path / "s.csv", STRUCTURE, "gbk"), now=NOW)
    assert result.ok, result.errors
    assert counts(result) == {"communities": (2, 0, 0), "grids": (3, 0, 0), "buildings": (4, 0, 0)}
    names = [r["name"] for r in await db.fetch_all("SELECT name FROM communities ORDER BY code")]
    assert names == ["清风社区", "明月社区"]
    building = await db.fetch_one("SELECT * FROM buildings WHERE code = 'C02-B01'")
    assert (building["name"], building["address"]) == ("明月苑1幢", "明月路8号, 东门")
    assert (building["lat"], building["lon"]) == (31.595, 120.36)
    no_coordinates = await db.fetch_one("SELECT lat, lon FROM buildings WHERE code = 'C01-B03'")
    assert tuple(no_coordinates) == (None, None)


async def test_utf8_with_bom_is_read_like_plain_utf8(db: Database, tmp_path: Path) -> None:
    result = await import_structure(db, write(tmp_path / "s.csv", STRUCTURE, "utf-8-sig"), now=NOW)
    assert result.ok, result.errors
    assert await db.fetch_value("SELECT name FROM grids WHERE code = 'C01-G2'") == "清风第二网格"


async def test_reimporting_the_same_structure_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", STRUCTURE)
    await import_structure(db, path, now=NOW)
    before = await table_sizes(db)
    again = await import_structure(db, path, now=NOW)
    assert counts(again) == {"communities": (0, 0, 2), "grids": (0, 0, 3), "buildings": (0, 0, 4)}
    assert await table_sizes(db) == before


async def test_a_changed_row_updates_in_place(db: Database, tmp_path: Path) -> None:
    await import_structure(db, write(tmp_path / "s.csv", STRUCTURE), now=NOW)
    renamed = STRUCTURE.replace("清风路3号,31.5903", "清风路3号甲,31.5904")
    result = await import_structure(db, write(tmp_path / "s2.csv", renamed), now=NOW)
    assert counts(result)["buildings"] == (0, 1, 3)
    row = await db.fetch_one("SELECT address, lat FROM buildings WHERE code = 'C01-B02'")
    assert tuple(row) == ("清风路3号甲", 31.5904)


async def test_one_bad_row_imports_nothing_and_names_its_line(db: Database, tmp_path: Path) -> None:
    bad = STRUCTURE + "C02,明月社区,C02-G1,明月第一网格,C02-B02,明月苑2幢,,north,120.36\n"
    result = await import_structure(db, write(tmp_path / "s.csv", bad), now=NOW)
    assert not result.ok
    assert [e.line for e in result.errors] == [6]
    assert "lat" in result.errors[0].reason
    assert set((await table_sizes(db)).values()) == {0}
    assert result.summary_lines()[0].startswith("Nothing was imported")
    assert any(line.startswith("  line 6: lat") for line in result.summary_lines())


async def test_every_bad_row_is_reported(db: Database, tmp_path: Path) -> None:
    bad = STRUCTURE + (
        "C03,,C03-G1,网格,C03-B01,楼,,,\n"  # 6: no community name
        "C01,别的名字,C01-G1,清风第一网格,C01-B09,9号楼,,,\n"  # 7: community renamed mid-file
        "C01,清风社区,C01-G1,清风第一网格,C01-B01,重复,,,\n"  # 8: building code twice
        "C04,a,C04 G1,b,C04-B1,c,,,\n"  # 9: a code with a space
        "C05,a,C05-G1,b,C05-B1,c,,31.5,\n"  # 10: lat without lon
    )
    result = await import_structure(db, write(tmp_path / "s.csv", bad), now=NOW)
    lines = [e.line for e in result.errors]
    assert lines == [6, 7, 8, 9, 10]
    reasons = dict(result.errors)
    assert "community_name" in reasons[6]
    assert "line 2" in reasons[7]
    assert "already on line 2" in reasons[8]
    assert "spaces" in reasons[9]
    assert "both lat and lon" in reasons[10]
    assert await db.fetch_value("SELECT COUNT(*) FROM communities") == 0


async def test_a_wrong_header_is_reported_before_any_row(db: Database, tmp_path: Path) -> None:
    text = STRUCTURE.replace("lat,lon", "latitude,lon").replace("grid_name,", "")
    result = await import_structure(db, write(tmp_path / "s.csv", text), now=NOW)
    assert {e.line for e in result.errors} == {1}
    reasons = " ".join(e.reason for e in result.errors)
    assert "unknown column 'latitude'" in reasons and "missing column 'grid_name'" in reasons


async def test_spreadsheet_leftovers_are_tolerated(db: Database, tmp_path: Path) -> None:
    lines = STRUCTURE.splitlines()
    text = "\n".join([lines[0] + ",,", "", lines[1] + ",,", ",,,,,,,,", *lines[2:]]) + "\r\n"
    result = await import_structure(db, write(tmp_path / "s.csv", text.replace("\n", "\r\n")), now=NOW)
    assert result.ok, result.errors
    assert counts(result)["buildings"] == (4, 0, 0)
    stray = text.replace(lines[1] + ",,", lines[1] + ",,note")
    result = await import_structure(db, write(tmp_path / "s2.csv", stray), now=NOW)
    assert result.errors == [RowError(3, "a value in column 11, which has no header")]


async def test_files_that_cannot_be_read_say_why(db: Database, tmp_path: Path) -> None:
    missing = await import_structure(db, tmp_path / "nope.csv", now=NOW)
    assert missing.errors[0].line == 0 and "cannot read" in missing.errors[0].reason
    utf16 = await import_structure(db, write(tmp_path / "u.csv", STRUCTURE, "utf-16"), now=NOW)
    assert "neither UTF-8 nor GBK" in utf16.errors[0].reason
    empty = await import_structure(db, write(tmp_path / "e.csv", ""), now=NOW)
    assert "empty" in empty.errors[0].reason
    assert empty.summary_lines()[1].startswith("  file: ")


# --- people ----------------------------------------------------------------------------------


async def test_gbk_people_file_imports_staff_and_verified_residents(street: Database, tmp_path: Path) -> None:
    result = await import_people(street, write(tmp_path / "p.csv", PEOPLE, "gbk"), now=NOW)
    assert result.ok, result.errors
    assert counts(result) == {"people": (6, 0, 0), "roles": (7, 0, 0)}
    zhang = await street.fetch_one("SELECT * FROM people WHERE phone = '13800138000'")
    assert zhang["name"] == "张伟" and zhang["telegram_id"] is None
    assert (zhang["unit"], zhang["verification"]) == ("1-101", "verified")
    person = await people_store.by_id(street, zhang["id"])
    assert person is not None
    grid_id = await street.fetch_value("SELECT id FROM grids WHERE code = 'C01-G1'")
    assert {(g.role, g.scope) for g in person.roles} == {
        (Role.GRID_WORKER, Scope(kind=ScopeKind.GRID, id=grid_id)),
        (Role.RESIDENT, Scope(kind=ScopeKind.STREET)),
    }
    organizer = await street.fetch_one("SELECT verification, building_id FROM people WHERE name = '王芳'")
    assert tuple(organizer) == ("unverified", None)


async def test_staff_not_on_telegram_get_one_join_link_each(street: Database, tmp_path: Path) -> None:
    result = await import_people(street, write(tmp_path / "p.csv", PEOPLE), now=NOW)
    by_name = {i.name: i for i in result.invites}
    assert set(by_name) == {"张伟", "李娜", "王芳", "赵敏"}  # residents join by their phone, not a link
    zhang = by_name["张伟"]
    assert (zhang.role, zhang.scope_code, zhang.new) == (Role.GRID_WORKER, "C01-G1", True)
    assert zhang.expires_at == NOW + timedelta(days=7)
    assert all(TOKEN_PATTERN.match(i.token) for i in result.invites)
    stored = await street.fetch_one(
        "SELECT person_id, role, scope_kind FROM invites WHERE token = ?", (zhang.token,)
    )
    assert tuple(stored) == (zhang.person_id, "grid_worker", "grid")
    lines = result.summary_lines(bot_username="gongzhi_bot")
    assert f"https://t.me/gongzhi_bot?start={zhang.token}" in "\n".join(lines)


async def test_reimporting_people_changes_nothing_and_reuses_links(street: Database, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", PEOPLE)
    first = await import_people(street, path, now=NOW)
    before = await table_sizes(street)
    again = await import_people(street, path, now=NOW + timedelta(hours=1))
    assert counts(again) == {"people": (0, 0, 6), "roles": (0, 0, 7)}
    assert await table_sizes(street) == before
    assert {i.token for i in again.invites} == {i.token for i in first.invites}
    assert not any(i.new for i in again.invites)
    assert "0 new, 4 still valid" in "\n".join(again.summary_lines())


async def test_people_matched_by_phone_are_updated_not_duplicated(street: Database, tmp_path: Path) -> None:
    await import_people(street, write(tmp_path / "p.csv", PEOPLE), now=NOW)
    moved = "name,phone,role,scope_code,building_code,unit\n刘洋,8613500135000,resident,,C01-B03,7-701\n"
    result = await import_people(street, write(tmp_path / "p2.csv", moved), now=NOW)
    assert counts(result) == {"people": (0, 1, 0), "roles": (0, 0, 1)}
    assert await street.fetch_value("SELECT COUNT(*) FROM people WHERE phone = '13500135000'") == 1
    liu = await street.fetch_one(
        "SELECT b.code, p.unit, p.verification FROM people p JOIN buildings b ON b.id = p.building_id "
        "WHERE p.phone = '13500135000'"
    )
    assert tuple(liu) == ("C01-B03", "7-701", "verified")


async def test_staff_already_on_telegram_get_no_link(street: Database, tmp_path: Path) -> None:
    async with street.transaction() as conn:
        await people_store.insert(conn, now=NOW, telegram_id=4242, name="李娜", phone="13900139000")
    result = await import_people(street, write(tmp_path / "p.csv", PEOPLE), now=NOW)
    assert "李娜" not in {i.name for i in result.invites}
    assert await street.fetch_value("SELECT COUNT(*) FROM people WHERE phone = '13900139000'") == 1


async def test_unknown_grid_code_names_the_line_and_imports_nobody(street: Database, tmp_path: Path) -> None:
    text = PEOPLE + "孙丽,13300133000,part_time_worker,C09-G7,,\n"
    result = await import_people(street, write(tmp_path / "p.csv", text), now=NOW)
    assert result.errors == [RowError(9, "unknown grid code 'C09-G7'; import the structure file first")]
    assert result.invites == []
    assert await street.fetch_value("SELECT COUNT(*) FROM people") == 0
    assert await street.fetch_value("SELECT COUNT(*) FROM invites") == 0


async def test_every_bad_people_row_is_reported(street: Database, tmp_path: Path) -> None:
    text = PEOPLE + (
        "周强,,grid_worker,C01-G1,,\n"  # 9: no phone
        "吴刚,13200132000,boss,,,\n"  # 10: unknown role
        "郑洁,13100131000,resident,,C01-B01,\n"  # 11: resident without unit
        "冯军,13000130000,organizer,,,\n"  # 12: organizer without community
        "别人,13800138000,informant,C01-G1,,\n"  # 13: phone of someone else in the file
        "钱多,13900000000,admin,C01,,\n"  # 14: admin is street-wide
        "何平,15900159000,grid_worker,C01-G1,C01-B01,101\n"  # 15: home on a staff row
        "陈静,13400134000,resident,,C01-B02,601\n"  # 16: a second home
        "马丁,+44 20 7946,informant,C01-G2,,\n"  # 17: fine
        "高飞,12,informant,C01-G2,,\n"  # 18: not a phone
        "韩梅,15800158000,volunteer,C77,,\n"  # 19: unknown community
        "李娜,13900139000,secretary,C01-G1,,\n"  # 20: the same role twice
    )
    result = await import_people(street, write(tmp_path / "p.csv", text), now=NOW)
    reasons = dict(result.errors)
    assert sorted(reasons) == [9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20]
    assert "phone" in reasons[9]
    assert "unknown role 'boss'" in reasons[10]
    assert "building_code and unit" in reasons[11]
    assert "scope_code" in reasons[12] and "community" in reasons[12]
    assert "张伟 on line 2" in reasons[13]
    assert "must be empty" in reasons[14]
    assert "resident row" in reasons[15]
    assert "line 8" in reasons[16]
    assert "not a phone number" in reasons[18]
    assert "unknown community code 'C77'" in reasons[19]
    assert "line 4" in reasons[20]
    assert await street.fetch_value("SELECT COUNT(*) FROM people") == 0


async def test_people_before_structure_says_what_to_import_first(db: Database, tmp_path: Path) -> None:
    result = await import_people(db, write(tmp_path / "p.csv", PEOPLE), now=NOW)
    assert [e.line for e in result.errors] == [2, 3, 4, 5, 7, 8]  # the admin (line 6) needs no place
    assert all("import the structure file first" in e.reason for e in result.errors)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138-0013-8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("(138) 0013 8000", "13800138000"),
        ("0510-82345678", "051082345678"),
        ("+852 9123 4567", "85291234567"),
        ("", ""),
    ],
)
def test_phones_are_normalised_to_digits_without_china_code(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


# --- invites ---------------------------------------------------------------------------------


async def make_invite(db: Database, ttl: timedelta = timedelta(days=7), person_id: int | None = None) -> str:
    async with db.transaction() as conn:
        return await invites.create(
            conn, role=Role.ORGANIZER, scope=Scope(kind=ScopeKind.COMMUNITY, id=1), created_by=None, now=NOW,
            ttl=ttl, person_id=person_id,
        )


async def new_person(db: Database, telegram_id: int) -> int:
    async with db.transaction() as conn:
        return await people_store.insert(conn, now=NOW, telegram_id=telegram_id, name=f"p{telegram_id}")


async def consume(db: Database, token: str, person_id: int, now: datetime) -> Invite | InviteRefusal:
    async with db.transaction() as conn:
        return await invites.consume(conn, token, person_id=person_id, now=now)


async def test_a_valid_invite_is_spent_once(street: Database) -> None:
    token = await make_invite(street)
    assert TOKEN_PATTERN.match(token) and len(token) <= 64
    alice = await new_person(street, 1)
    invite = await consume(street, token, alice, NOW + timedelta(days=1))
    assert isinstance(invite, Invite)
    assert (invite.role, invite.scope) == (Role.ORGANIZER, Scope(kind=ScopeKind.COMMUNITY, id=1))
    assert (invite.used_by, invite.used_at) == (alice, NOW + timedelta(days=1))
    assert invite.expires_at == NOW + timedelta(days=7)


async def test_a_reused_invite_is_refused(street: Database) -> None:
    token = await make_invite(street)
    alice, bob = await new_person(street, 1), await new_person(street, 2)
    assert isinstance(await consume(street, token, alice, NOW), Invite)
    assert await consume(street, token, bob, NOW) is InviteRefusal.USED
    assert await street.fetch_value("SELECT used_by FROM invites WHERE token = ?", (token,)) == alice


async def test_an_expired_invite_is_refused(street: Database) -> None:
    token = await make_invite(street, ttl=timedelta(hours=1))
    alice = await new_person(street, 1)
    assert await consume(street, token, alice, NOW + timedelta(hours=1)) is InviteRefusal.EXPIRED
    assert await street.fetch_value("SELECT used_at FROM invites WHERE token = ?", (token,)) is None


@pytest.mark.parametrize("forged", ["AAAAAAAAAAAAAAAAAAAAAA", "x" * 65, "../../etc", "", "a b"])
async def test_a_forged_invite_is_refused(street: Database, forged: str) -> None:
    await make_invite(street)
    alice = await new_person(street, 1)
    assert await consume(street, forged, alice, NOW) is InviteRefusal.UNKNOWN


async def test_an_expired_import_link_is_replaced_on_reimport(street: Database, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", PEOPLE)
    first = await import_people(street, path, now=NOW, invite_ttl=timedelta(days=1))
    later = await import_people(street, path, now=NOW + timedelta(days=2), invite_ttl=timedelta(days=1))
    assert all(i.new for i in later.invites)
    assert not {i.token for i in first.invites} & {i.token for i in later.invites}
    assert counts(later)["people"] == (0, 0, 6)


async def test_the_documented_examples_import_cleanly(db: Database) -> None:
    structure = await import_structure(db, EXAMPLES / "structure.csv", now=NOW)
    assert structure.ok, structure.errors
    staff = await import_people(db, EXAMPLES / "staff.csv", now=NOW)
    assert staff.ok, staff.errors
    assert counts(staff) == {"people": (9, 0, 0), "roles": (10, 0, 0)}
    assert len(staff.invites) == 7

"""Import the street's structure and its people from CSV files, all or nothing.

Street offices keep these lists in spreadsheets, which in China are often saved as GBK. Every
row is validated first and every problem is reported with its line number; only a clean file
is written, in one transaction. Everything is matched by code (structure) or by phone
(people), so importing the same file again changes nothing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, field_validator, model_validator

from bot.clock import to_db
from bot.domain.people import ROLE_SCOPE, Role, Scope, ScopeKind, normalize_phone
from bot.storage import invites
from bot.storage import people as people_store
from bot.storage.db import Connection, Database

STRUCTURE_COLUMNS = (
    "community_code", "community_name", "grid_code", "grid_name", "building_code", "building_name",
    "address", "lat", "lon",
)
STRUCTURE_REQUIRED = frozenset(STRUCTURE_COLUMNS[:6])
PEOPLE_COLUMNS = ("name", "phone", "role", "scope_code", "building_code", "unit")
PEOPLE_REQUIRED = frozenset({"name", "phone", "role"})

DEFAULT_INVITE_TTL = timedelta(days=7)
# Topic stakeholders are invited per deliberation topic, never imported.
IMPORTABLE_ROLES = tuple(role for role in Role if role is not Role.STAKEHOLDER)


# ---------------------------------------------------------------------------------------------
# Result


class Counts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class RowError(NamedTuple):
    """A problem in the file; line 0 means the file as a whole."""

    line: int
    reason: str


class IssuedInvite(BaseModel):
    """A join link for an imported person who is not yet on Telegram."""

    token: str
    person_id: int
    name: str
    role: Role
    scope_code: str
    expires_at: datetime
    new: bool


class ImportResult(BaseModel):
    """What an import did (or, with errors, why it did nothing)."""

    kind: str
    counts: dict[str, Counts] = Field(default_factory=dict)
    errors: list[RowError] = Field(default_factory=list)
    invites: list[IssuedInvite] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary_lines(self, bot_username: str | None = None) -> list[str]:
        """English lines for the command line; with `bot_username`, invites print as t.me links."""
        if self.errors:
            lines = [f"Nothing was imported: {len(self.errors)} problem(s) in the {self.kind} file."]
            lines += [
                f"  line {e.line}: {e.reason}" if e.line else f"  file: {e.reason}" for e in self.errors
            ]
            return lines
        lines = [f"Imported {self.kind}:"]
        for name, c in self.counts.items():
            lines.append(f"  {name}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged")
        if self.invites:
            fresh = sum(1 for i in self.invites if i.new)
            kept = len(self.invites) - fresh
            lines.append(f"Join links for people not yet on Telegram ({fresh} new, {kept} still valid):")
            for i in self.invites:
                link = f"https://t.me/{bot_username}?start={i.token}" if bot_username else f"/start {i.token}"
                role = f"{i.role.value} {i.scope_code}" if i.scope_code else i.role.value
                lines.append(f"  {i.name} ({role}, until {i.expires_at:%Y-%m-%d %H:%M} UTC): {link}")
        return lines


# ---------------------------------------------------------------------------------------------
# Reading CSV


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GBK's superset GB18030."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


@dataclass
class _Sheet:
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _read_sheet(path: Path, columns: tuple[str, ...], required: frozenset[str]) -> _Sheet:
    """Rows keyed by column with their starting line numbers; blank rows skipped."""
    sheet = _Sheet()
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        sheet.errors.append(RowError(0, f"cannot read {path}: {exc.strerror or exc}"))
        return sheet
    except UnicodeDecodeError:
        sheet.errors.append(RowError(0, "the file is neither UTF-8 nor GBK text; save it as CSV (UTF-8)"))
        return sheet
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in cells]
                sheet.errors.extend(_header_errors(header, line, columns, required))
                if sheet.errors:
                    return sheet
                continue
            stray = [
                i + 1 for i, cell in enumerate(cells) if cell.strip() and (i >= len(header) or not header[i])
            ]
            if stray:
                sheet.errors.append(RowError(line, f"a value in column {stray[0]}, which has no header"))
                continue
            values = {
                name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header) if name
            }
            sheet.rows.append((line, values))
    except csv.Error as exc:
        sheet.errors.append(RowError(last_line + 1, f"not valid CSV: {exc}"))
    if header is None:
        sheet.errors.append(RowError(0, f"the file is empty; the header should be: {','.join(columns)}"))
    return sheet


def _header_errors(
    header: list[str], line: int, columns: tuple[str, ...], required: frozenset[str]
) -> Iterator[RowError]:
    expected = ",".join(columns)
    for name in header:
        if name and name not in columns:
            yield RowError(line, f"unknown column {name!r}; the columns are: {expected}")
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    for name in duplicates:
        yield RowError(line, f"column {name!r} appears twice")
    for name in sorted(required - set(header)):
        yield RowError(line, f"missing column {name!r}; the columns are: {expected}")


def _reason(exc: ValidationError) -> str:
    """Pydantic's errors as one line a clerk can act on."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _filled(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("is empty")
    return value


def _code(value: Any) -> Any:
    if isinstance(value, str) and re.search(r"\s", value.strip()):
        raise ValueError(f"{value!r} has spaces; codes are one word such as C01-G2")
    return value


Text = Annotated[str, BeforeValidator(_filled), Field(max_length=200)]
Code = Annotated[str, BeforeValidator(_code), BeforeValidator(_filled), Field(max_length=64)]
OptionalCode = Annotated[
    Annotated[str, Field(max_length=64)] | None, BeforeValidator(_code), BeforeValidator(_blank_to_none)
]


# ---------------------------------------------------------------------------------------------
# Structure


class StructureRow(BaseModel):
    community_code: Code
    community_name: Text
    grid_code: Code
    grid_name: Text
    building_code: Code
    building_name: Text
    address: Annotated[str, Field(max_length=300)] = ""
    lat: Annotated[Annotated[float, Field(ge=-90, le=90)] | None, BeforeValidator(_blank_to_none)] = None
    lon: Annotated[Annotated[float, Field(ge=-180, le=180)] | None, BeforeValidator(_blank_to_none)] = None

    @model_validator(mode="after")
    def _both_coordinates(self) -> StructureRow:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class _Existing(NamedTuple):
    id: int
    values: tuple[Any, ...]


async def _by_code(conn: Connection, sql: str) -> dict[str, _Existing]:
    async with conn.execute(sql) as cursor:
        return {row[1]: _Existing(row[0], tuple(row)[2:]) for row in await cursor.fetchall()}


def _check_same(
    seen: dict[str, tuple[int, tuple[Any, ...]]], code: str, values: tuple[Any, ...], line: int,
    difference: str, errors: list[RowError],
) -> None:
    """A community or grid listed on many rows must be described the same way on each."""
    first = seen.setdefault(code, (line, values))
    if first[1] != values:
        errors.append(RowError(line, f"{difference} on line {first[0]}"))


async def import_structure(db: Database, path: Path, *, now: datetime) -> ImportResult:
    """Upsert communities, grids and buildings by code; one row per building."""
    result = ImportResult(kind="structure")
    sheet = await asyncio.to_thread(_read_sheet, path, STRUCTURE_COLUMNS, STRUCTURE_REQUIRED)
    result.errors.extend(sheet.errors)
    rows: list[StructureRow] = []
    communities: dict[str, tuple[int, tuple[Any, ...]]] = {}
    grids: dict[str, tuple[int, tuple[Any, ...]]] = {}
    buildings: dict[str, int] = {}
    for line, values in sheet.rows:
        try:
            row = StructureRow.model_validate(values)
        except ValidationError as exc:
            result.errors.append(RowError(line, _reason(exc)))
            continue
        _check_same(
            communities, row.community_code, (row.community_name,), line,
            f"community {row.community_code} has another name", result.errors,
        )
        _check_same(
            grids, row.grid_code, (row.community_code, row.grid_name), line,
            f"grid {row.grid_code} has another name or community", result.errors,
        )
        first = buildings.setdefault(row.building_code, line)
        if first != line:
            result.errors.append(RowError(line, f"building {row.building_code} is already on line {first}"))
        rows.append(row)
    if not sheet.errors and not sheet.rows:
        result.errors.append(RowError(0, "the file has a header but no rows"))
    if result.errors:
        return result

    counts = {kind: Counts() for kind in ("communities", "grids", "buildings")}
    async with db.transaction() as conn:
        have_c = await _by_code(conn, "SELECT id, code, name FROM communities")
        have_g = await _by_code(conn, "SELECT id, code, community_id, name FROM grids")
        have_b = await _by_code(conn, "SELECT id, code, grid_id, name, address, lat, lon FROM buildings")
        community_ids: dict[str, int] = {}
        grid_ids: dict[str, int] = {}
        for row in rows:
            if row.community_code not in community_ids:
                community_ids[row.community_code] = await _upsert(
                    conn, "communities", have_c.get(row.community_code), counts["communities"],
                    code=row.community_code, name=row.community_name,
                )
            if row.grid_code not in grid_ids:
                grid_ids[row.grid_code] = await _upsert(
                    conn, "grids", have_g.get(row.grid_code), counts["grids"], code=row.grid_code,
                    community_id=community_ids[row.community_code], name=row.grid_name,
                )
            await _upsert(
                conn, "buildings", have_b.get(row.building_code), counts["buildings"], code=row.building_code,
                grid_id=grid_ids[row.grid_code], name=row.building_name, address=row.address,
                lat=row.lat, lon=row.lon,
            )
    result.counts = counts
    return result


async def _upsert(
    conn: Connection, table: str, existing: _Existing | None, counts: Counts, *, code: str,
    **values: Any,
) -> int:
    """Insert by code, or update only when something differs, counting which it was."""
    if existing is None:
        columns = ["code", *values]
        cursor = await conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (code, *values.values()),
        )
        counts.created += 1
        assert cursor.lastrowid is not None
        return cursor.lastrowid
    if existing.values == tuple(values.values()):
        counts.unchanged += 1
    else:
        await conn.execute(
            f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in values)} WHERE id = ?",
            (*values.values(), existing.id),
        )
        counts.updated += 1
    return existing.id


# ---------------------------------------------------------------------------------------------
# People


def _phone(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    digits = normalize_phone(value)
    if not digits:
        raise ValueError("is empty; the phone matches the person when they join the bot")
    if not 5 <= len(digits) <= 15:
        raise ValueError(f"{value!r} is not a phone number")
    return digits


class PersonRow(BaseModel):
    name: Text
    phone: Annotated[str, BeforeValidator(_phone)]
    role: Role
    scope_code: OptionalCode = None
    building_code: OptionalCode = None
    unit: Annotated[Annotated[str, Field(max_length=32)] | None, BeforeValidator(_blank_to_none)] = None

    @field_validator("role", mode="before")
    @classmethod
    def _known_role(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() not in IMPORTABLE_ROLES:
            raise ValueError(f"unknown role {value!r}; one of: {', '.join(IMPORTABLE_ROLES)}")
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _role_fields(self) -> PersonRow:
        kind = ROLE_SCOPE[self.role]
        if self.role is Role.RESIDENT:
            if not self.building_code or not self.unit:
                raise ValueError("a resident needs building_code and unit")
        elif self.building_code or self.unit:
            raise ValueError(
                "building_code and unit belong on a resident row; add a second row with role resident"
            )
        if kind is ScopeKind.STREET and self.scope_code:
            raise ValueError(f"scope_code must be empty for {self.role.value} (the whole street)")
        if kind is not ScopeKind.STREET and not self.scope_code:
            raise ValueError(f"{self.role.value} needs scope_code: the code of a {kind.value}")
        return self


class _Grant(NamedTuple):
    role: Role
    scope: Scope
    scope_code: str
    line: int


@dataclass
class _PersonPlan:
    """One person gathered from all their rows in the file."""

    line: int
    phone: str
    name: str
    building_id: int | None = None
    unit: str | None = None
    grants: list[_Grant] = field(default_factory=list)


async def _ids_by_code(db: Database, table: str) -> dict[str, int]:
    return {row["code"]: row["id"] for row in await db.fetch_all(f"SELECT id, code FROM {table}")}


async def import_people(
    db: Database, path: Path, *, now: datetime, invite_ttl: timedelta = DEFAULT_INVITE_TTL
) -> ImportResult:
    """Staff and residents, matched by phone; one row per role. Residents are imported verified.

    Roles are only added, never removed. Each person with a role other than resident who is not
    yet on Telegram gets a single-use join link (a still-valid one is returned again, not renewed).
    """
    result = ImportResult(kind="people")
    sheet = await asyncio.to_thread(_read_sheet, path, PEOPLE_COLUMNS, PEOPLE_REQUIRED)
    result.errors.extend(sheet.errors)
    scope_ids = {
        ScopeKind.GRID: await _ids_by_code(db, "grids"),
        ScopeKind.COMMUNITY: await _ids_by_code(db, "communities"),
    }
    building_ids = await _ids_by_code(db, "buildings")
    plans: dict[str, _PersonPlan] = {}
    for line, values in sheet.rows:
        try:
            row = PersonRow.model_validate(values)
        except ValidationError as exc:
            result.errors.append(RowError(line, _reason(exc)))
            continue
        problem = _plan_row(row, line, plans, scope_ids, building_ids)
        if problem:
            result.errors.append(RowError(line, problem))
    if not sheet.errors and not sheet.rows:
        result.errors.append(RowError(0, "the file has a header but no rows"))
    if result.errors:
        return result

    counts = {"people": Counts(), "roles": Counts()}
    async with db.transaction() as conn:
        for plan in plans.values():
            person_id, telegram_id = await _upsert_person(conn, plan, now, counts["people"])
            for grant in plan.grants:
                if await people_store.grant(conn, person_id, grant.role, grant.scope, now):
                    counts["roles"].created += 1
                else:
                    counts["roles"].unchanged += 1
            if telegram_id is None and any(g.role is not Role.RESIDENT for g in plan.grants):
                result.invites.append(await _invite(conn, person_id, plan, now, invite_ttl))
    result.counts = counts
    return result


def _plan_row(
    row: PersonRow, line: int, plans: dict[str, _PersonPlan], scope_ids: dict[ScopeKind, dict[str, int]],
    building_ids: dict[str, int],
) -> str | None:
    """Fold one valid row into its person's plan; a reason when it contradicts the database or the file."""
    kind = ROLE_SCOPE[row.role]
    scope = Scope(kind=kind)
    if row.scope_code:
        scope_id = scope_ids[kind].get(row.scope_code)
        if scope_id is None:
            return f"unknown {kind.value} code {row.scope_code!r}; import the structure file first"
        scope = Scope(kind=kind, id=scope_id)
    building_id = None
    if row.building_code:
        building_id = building_ids.get(row.building_code)
        if building_id is None:
            return f"unknown building code {row.building_code!r}; import the structure file first"
    plan = plans.setdefault(row.phone, _PersonPlan(line=line, phone=row.phone, name=row.name))
    if plan.name != row.name:
        return f"phone {row.phone} belongs to {plan.name} on line {plan.line}"
    for grant in plan.grants:
        if grant.role is row.role and (grant.role is Role.RESIDENT or grant.scope == scope):
            return f"{row.name} is already listed as {row.role.value} on line {grant.line}"
    if row.role is Role.RESIDENT:
        plan.building_id, plan.unit = building_id, row.unit
    plan.grants.append(_Grant(row.role, scope, row.scope_code or "", line))
    return None


async def _upsert_person(
    conn: Connection, plan: _PersonPlan, now: datetime, counts: Counts
) -> tuple[int, int | None]:
    """Find the person by phone (or create them); update the name and verified home when they differ."""
    async with conn.execute(
        "SELECT id, telegram_id, name, building_id, unit, verification FROM people "
        "WHERE phone = ? AND erased_at IS NULL ORDER BY id LIMIT 1",
        (plan.phone,),
    ) as cursor:
        row = await cursor.fetchone()
    home = plan.building_id is not None
    if row is None:
        person_id = await people_store.insert(
            conn, now=now, telegram_id=None, name=plan.name, phone=plan.phone, building_id=plan.building_id,
            unit=plan.unit, verification="verified" if home else "unverified",
        )
        if home:
            await conn.execute("UPDATE people SET verified_at = ? WHERE id = ?", (to_db(now), person_id))
        counts.created += 1
        return person_id, None
    person_id, telegram_id = row["id"], row["telegram_id"]
    same_name = row["name"] == plan.name
    same_home = not home or (
        (row["building_id"], row["unit"], row["verification"]) == (plan.building_id, plan.unit, "verified")
    )
    if same_name and same_home:
        counts.unchanged += 1
        return person_id, telegram_id
    if not same_name:
        await conn.execute("UPDATE people SET name = ? WHERE id = ?", (plan.name, person_id))
    if not same_home:
        await conn.execute(
            "UPDATE people SET building_id = ?, unit = ?, verification = 'verified', verified_by = NULL, "
            "verified_at = ? WHERE id = ?",
            (plan.building_id, plan.unit, to_db(now), person_id),
        )
    counts.updated += 1
    return person_id, telegram_id


async def _invite(
    conn: Connection, person_id: int, plan: _PersonPlan, now: datetime, ttl: timedelta
) -> IssuedInvite:
    """The person's still-valid link, or a new one for their first role other than resident."""
    current = await invites.valid_for_person(conn, person_id, now)
    if current is not None:
        code = next((g.scope_code for g in plan.grants if g.scope == current.scope), "")
        return IssuedInvite(
            token=current.token, person_id=person_id, name=plan.name, role=current.role, scope_code=code,
            expires_at=current.expires_at, new=False,
        )
    grant = next(g for g in plan.grants if g.role is not Role.RESIDENT)
    token = await invites.create(
        conn, role=grant.role, scope=grant.scope, created_by=None, now=now, ttl=ttl, person_id=person_id
    )
    return IssuedInvite(
        token=token, person_id=person_id, name=plan.name, role=grant.role, scope_code=grant.scope_code,
        expires_at=(now + ttl).astimezone(UTC), new=True,
    )

"""Who a notice reaches: a registry of audience kinds, each resolving picked ids to people and group chats.

Features add kinds without editing this module. The deliberation feature, for instance:

    from bot.services.audiences import DELIBERATION, AudienceKind, Choice, Reach, register_audience

    register_audience(DELIBERATION, AudienceKind(
        label=N_("🗳 Eligible people of a topic"),
        resolve=eligible_people,      # async (db, Audience) -> Reach: Audience.ids are topic ids
        footprint=topic_communities,  # async (db, Audience) -> frozenset of community ids, None = street
        choices=topics_for,           # async (db, Person) -> [Choice(id, name)]: topics this person may address
        describe=topic_titles,        # async (db, Audience) -> [names] for summaries and approvals
    ))

The footprint decides who may send (an organizer only within their communities) and whether a
street admin must approve (beyond one community); it is checked again at every step and at send time.
Choices are what the /broadcast flow offers to one person: only ids inside that person's area.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.domain import meetings as meeting_rules
from bot.domain.broadcasts import Audience, Footprint, area
from bot.domain.people import Person
from bot.i18n import N_
from bot.storage import broadcasts as store
from bot.storage import meetings as meeting_store
from bot.storage.db import Database

log = logging.getLogger(__name__)

STREET = "street"
COMMUNITY = "community"
GRID = "grid"
BUILDING = "building"
VOLUNTEERS = "volunteers"
GRID_WORKERS = "grid_workers"
REPRESENTATIVES = "representatives"
MEETING = "meeting"
GROUPS = "groups"
DELIBERATION = "deliberation"  # registered by the deliberation feature: Audience.ids are topic ids
WHOLE_STREET = 0  # the choice id meaning "the whole street" for the role kinds


@dataclass(frozen=True)
class Reach:
    """Person ids and group chat ids, each once."""

    people: tuple[int, ...] = ()
    chats: tuple[int, ...] = ()


@dataclass(frozen=True)
class Choice:
    id: int
    label: str  # a name people gave (a community, a topic): shown as is


Resolve = Callable[[Database, Audience], Awaitable[Reach]]
FootprintOf = Callable[[Database, Audience], Awaitable[Footprint]]
ChoicesFor = Callable[[Database, Person], Awaitable[list[Choice]]]
Describe = Callable[[Database, Audience], Awaitable[list[str]]]


@dataclass(frozen=True)
class AudienceKind:
    label: str  # a msgid (N_) naming the kind on the /broadcast button
    resolve: Resolve
    footprint: FootprintOf
    choices: ChoicesFor | None = None  # None: nothing to pick
    describe: Describe | None = None
    multiple: bool = True  # several ids may be picked
    order: int = 50


_kinds: dict[str, AudienceKind] = {}


def register_audience(kind: str, resolver: AudienceKind) -> None:
    """Add (or replace) an audience kind; idempotent, so a module may register at import time."""
    _kinds[kind] = resolver


def kind_of(kind: str) -> AudienceKind | None:
    return _kinds.get(kind)


def kinds() -> list[tuple[str, AudienceKind]]:
    return sorted(_kinds.items(), key=lambda item: (item[1].order, item[0]))


class UnknownAudience(LookupError):
    """An audience whose kind no loaded feature provides."""


def _kind(audience: Audience) -> AudienceKind:
    found = _kinds.get(audience.kind)
    if found is None:
        raise UnknownAudience(f"no audience kind {audience.kind!r} is registered")
    return found


async def resolve(db: Database, audience: Audience) -> Reach:
    return await _kind(audience).resolve(db, audience)


async def footprint(db: Database, audience: Audience) -> Footprint:
    return await _kind(audience).footprint(db, audience)


async def describe(db: Database, audience: Audience) -> list[str]:
    kind = _kind(audience)
    if kind.describe is None:
        return [f"#{i}" for i in audience.ids]
    return await kind.describe(db, audience)


async def choices(db: Database, person: Person, kind: str) -> list[Choice]:
    found = _kinds.get(kind)
    if found is None or found.choices is None:
        return []
    return await found.choices(db, person)


async def valid_pick(db: Database, person: Person, audience: Audience) -> bool:
    """Are the picked ids among what this person may pick (forged or stale ids are not)?"""
    found = _kinds.get(audience.kind)
    if found is None:
        return False
    if found.choices is None:
        return not audience.ids
    if not audience.ids or (not found.multiple and len(audience.ids) > 1):
        return False
    offered = {c.id for c in await found.choices(db, person)}
    return set(audience.ids) <= offered


# ---- helpers --------------------------------------------------------------------------------------------


def _marks(ids: Iterable[object]) -> str:
    return ", ".join("?" for _ in ids)


async def _ids(db: Database, sql: str, params: tuple[object, ...] = ()) -> tuple[int, ...]:
    return tuple(dict.fromkeys(int(r[0]) for r in await db.fetch_all(sql, params)))


def _within(person: Person, community_id: int | None) -> bool:
    allowed = area(person)
    return allowed is None or (community_id is not None and community_id in allowed)


async def _communities_of(db: Database, table: str, ids: tuple[int, ...]) -> Footprint:
    if table == "grids":
        sql = f"SELECT DISTINCT community_id FROM grids WHERE id IN ({_marks(ids)})"
    else:
        sql = ("SELECT DISTINCT g.community_id FROM buildings b JOIN grids g ON g.id = b.grid_id "
               f"WHERE b.id IN ({_marks(ids)})")
    return frozenset(await _ids(db, sql, ids))


async def _names(db: Database, table: str, ids: tuple[int, ...]) -> list[str]:
    rows = await db.fetch_all(f"SELECT name FROM {table} WHERE id IN ({_marks(ids)}) ORDER BY code", ids)
    return [r["name"] for r in rows]


# ---- the whole street and places ------------------------------------------------------------------------


async def _street(db: Database, _audience: Audience) -> Reach:
    return Reach(people=await _ids(db, "SELECT id FROM people WHERE erased_at IS NULL ORDER BY id"))


async def _street_footprint(_db: Database, _audience: Audience) -> Footprint:
    return None


def _living_in(column: str) -> Resolve:
    """Residents whose home is in the picked places, `column` naming the place (`g.community_id`, `g.id`
    or `b.id`): communities, grids and buildings differ only in that."""

    async def resolve(db: Database, audience: Audience) -> Reach:
        sql = ("SELECT p.id FROM people p JOIN buildings b ON b.id = p.building_id JOIN grids g ON g.id = b.grid_id "
               f"WHERE p.erased_at IS NULL AND {column} IN ({_marks(audience.ids)}) ORDER BY p.id")
        return Reach(people=await _ids(db, sql, audience.ids))

    return resolve


def _named_in(table: str) -> Describe:
    """The picked places' names from `table` (communities, grids or buildings), in their code order."""

    async def describe(db: Database, audience: Audience) -> list[str]:
        return await _names(db, table, audience.ids)

    return describe


async def _community_footprint(_db: Database, audience: Audience) -> Footprint:
    return frozenset(audience.ids)


async def _community_choices(db: Database, person: Person) -> list[Choice]:
    rows = await db.fetch_all("SELECT id, name FROM communities ORDER BY code")
    return [Choice(r["id"], r["name"]) for r in rows if _within(person, r["id"])]


async def _grid_footprint(db: Database, audience: Audience) -> Footprint:
    return await _communities_of(db, "grids", audience.ids)


async def _grid_choices(db: Database, person: Person) -> list[Choice]:
    rows = await db.fetch_all("SELECT g.id, g.name, g.community_id, c.name AS community FROM grids g "
                              "JOIN communities c ON c.id = g.community_id ORDER BY c.code, g.code")
    return [Choice(r["id"], f"{r['name']} · {r['community']}") for r in rows if _within(person, r["community_id"])]


async def _building_footprint(db: Database, audience: Audience) -> Footprint:
    return await _communities_of(db, "buildings", audience.ids)


async def _building_choices(db: Database, person: Person) -> list[Choice]:
    rows = await db.fetch_all("SELECT b.id, b.name, g.community_id FROM buildings b JOIN grids g ON g.id = b.grid_id "
                              "JOIN communities c ON c.id = g.community_id ORDER BY c.code, g.code, b.code")
    return [Choice(r["id"], r["name"]) for r in rows if _within(person, r["community_id"])]


# ---- roles ---------------------------------------------------------------------------------------------


def _street_wide(audience: Audience) -> bool:
    return WHOLE_STREET in audience.ids


async def _role_footprint(_db: Database, audience: Audience) -> Footprint:
    return None if _street_wide(audience) else frozenset(audience.ids)


async def _role_choices(db: Database, person: Person) -> list[Choice]:
    street = [Choice(WHOLE_STREET, "")] if area(person) is None else []
    return street + await _community_choices(db, person)


async def _role_names(db: Database, audience: Audience) -> list[str]:
    named = await _names(db, "communities", tuple(i for i in audience.ids if i != WHOLE_STREET))
    return ([""] if _street_wide(audience) else []) + named


async def _volunteers(db: Database, audience: Audience) -> Reach:
    """Residents who joined as volunteers (living there or volunteering there) and volunteer role holders."""
    base = ("SELECT v.person_id FROM volunteers v JOIN people p ON p.id = v.person_id WHERE p.erased_at IS NULL "
            "UNION SELECT r.person_id FROM roles r JOIN people p ON p.id = r.person_id "
            "WHERE r.role = 'volunteer' AND p.erased_at IS NULL")
    if _street_wide(audience):
        return Reach(people=await _ids(db, f"SELECT person_id FROM ({base}) ORDER BY person_id"))
    marks = _marks(audience.ids)
    sql = (f"SELECT x.person_id FROM ({base}) x JOIN people p ON p.id = x.person_id "
           "LEFT JOIN buildings b ON b.id = p.building_id LEFT JOIN grids g ON g.id = b.grid_id "
           f"WHERE g.community_id IN ({marks}) OR EXISTS (SELECT 1 FROM roles r WHERE r.person_id = x.person_id "
           f"AND r.role = 'volunteer' AND r.scope_kind = 'community' AND r.scope_id IN ({marks})) "
           "ORDER BY x.person_id")
    return Reach(people=await _ids(db, sql, (*audience.ids, *audience.ids)))


async def _grid_workers(db: Database, audience: Audience) -> Reach:
    """Each grid's team: full-time and part-time grid workers and the team lead."""
    sql = ("SELECT r.person_id FROM roles r JOIN people p ON p.id = r.person_id "
           "LEFT JOIN grids g ON r.scope_kind = 'grid' AND g.id = r.scope_id "
           "WHERE p.erased_at IS NULL AND r.role IN ('grid_worker', 'part_time_worker', 'secretary') ")
    if _street_wide(audience):
        return Reach(people=await _ids(db, sql + "ORDER BY r.person_id"))
    return Reach(people=await _ids(db, sql + f"AND g.community_id IN ({_marks(audience.ids)}) ORDER BY r.person_id",
                                   audience.ids))


async def _representatives(db: Database, audience: Audience) -> Reach:
    sql = ("SELECT r.person_id FROM roles r JOIN people p ON p.id = r.person_id "
           "WHERE p.erased_at IS NULL AND r.role = 'representative' ")
    if _street_wide(audience):
        return Reach(people=await _ids(db, sql + "ORDER BY r.person_id"))
    return Reach(people=await _ids(
        db, sql + f"AND r.scope_kind = 'community' AND r.scope_id IN ({_marks(audience.ids)}) ORDER BY r.person_id",
        audience.ids))


# ---- people who answered a meeting -------------------------------------------------------------------


async def _meeting_people(db: Database, audience: Audience) -> Reach:
    found: list[int] = []
    for meeting_id in audience.ids:
        found += await meeting_store.answered(db, meeting_id)
    return Reach(people=tuple(dict.fromkeys(found)))


async def _meeting_footprint(db: Database, audience: Audience) -> Footprint:
    communities: set[int] = set()
    for meeting_id in audience.ids:
        meeting = await meeting_store.get(db, meeting_id)
        if meeting is None or meeting.community_id is None:
            return None
        communities.add(meeting.community_id)
    return frozenset(communities)


async def _meeting_choices(db: Database, person: Person) -> list[Choice]:
    return [Choice(m.id, m.title) for m in await meeting_store.latest(db)
            if meeting_rules.manages(person, m.community_id)]


async def _meeting_names(db: Database, audience: Audience) -> list[str]:
    return [m.title for m in [await meeting_store.get(db, i) for i in audience.ids] if m is not None]


# ---- linked Telegram groups ----------------------------------------------------------------------------


async def _groups(db: Database, audience: Audience) -> Reach:
    linked = {g.chat_id for g in await store.linked_groups(db)}
    return Reach(chats=tuple(i for i in dict.fromkeys(audience.ids) if i in linked))


async def _group_footprint(db: Database, audience: Audience) -> Footprint:
    groups = {g.chat_id: g for g in await store.linked_groups(db)}
    return frozenset(groups[i].community_id for i in audience.ids if i in groups and groups[i].community_id)


async def _group_choices(db: Database, person: Person) -> list[Choice]:
    return [Choice(g.chat_id, f"{g.title} · {g.place_name}") for g in await store.linked_groups(db)
            if _within(person, g.community_id)]


async def _group_names(db: Database, audience: Audience) -> list[str]:
    groups = {g.chat_id: g for g in await store.linked_groups(db)}
    return [groups[i].title for i in audience.ids if i in groups]


register_audience(STREET, AudienceKind(N_("🏙 Whole street"), _street, _street_footprint, order=10))
register_audience(COMMUNITY, AudienceKind(N_("🏘 Communities"), _living_in("g.community_id"), _community_footprint,
                                          _community_choices, _named_in("communities"), order=20))
register_audience(GRID, AudienceKind(N_("🔲 Grids"), _living_in("g.id"), _grid_footprint, _grid_choices,
                                     _named_in("grids"), order=30))
register_audience(BUILDING, AudienceKind(N_("🏢 Buildings"), _living_in("b.id"), _building_footprint,
                                         _building_choices, _named_in("buildings"), order=40))
register_audience(VOLUNTEERS, AudienceKind(N_("🙋 Volunteers"), _volunteers, _role_footprint, _role_choices,
                                           _role_names, order=50))
register_audience(GRID_WORKERS, AudienceKind(N_("🧑‍💼 Grid workers"), _grid_workers, _role_footprint,
                                             _role_choices, _role_names, order=51))
register_audience(REPRESENTATIVES, AudienceKind(N_("🎖 Representatives"), _representatives, _role_footprint,
                                                _role_choices, _role_names, order=52))
register_audience(MEETING, AudienceKind(N_("📅 People who answered a meeting"), _meeting_people,
                                        _meeting_footprint, _meeting_choices, _meeting_names, multiple=False,
                                        order=60))
register_audience(GROUPS, AudienceKind(N_("💬 Linked Telegram groups"), _groups, _group_footprint, _group_choices,
                                       _group_names, order=70))

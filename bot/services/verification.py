"""Resident verification, and who counts in household-based decisions.

A grid worker confirms the building and unit a resident claims (or rejects the claim with a reason the
resident reads). Moving home makes a resident unverified again (`onboarding.change_home`). Only verified
residents count in votes and household decisions; the deliberation feature asks this module:

    await verified_residents(db, building_ids)    # person ids who may vote on a matter of these buildings
    await households(db, building_ids)            # every verified household (building id, unit) there
    await household_of(db, person_id, building_ids)  # the household a person votes for, None if ineligible

Each takes the Database, or a transaction's connection to read inside one.

Also here: /unreachable — people of a grid who blocked the bot, so the team reaches them another way.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import NamedTuple

from bot.delivery.outbox import Button
from bot.domain.people import WORKER_ROLES, Person, Role
from bot.domain.reports import REASON_MAX, clean_text
from bot.domain.roster import Area, area_of
from bot.i18n import N_
from bot.services.container import Services
from bot.services.reports import STALE, Refused, place_text_for, push
from bot.storage import grid_ops, people
from bot.storage.db import Connection, Reader
from bot.storage.grid_ops import Claim, GridCount, GridRow, Unreachable

VERIFY_ROLES = (*WORKER_ROLES, Role.ORGANIZER, Role.ADMIN)
NOT_WAITING = N_("This resident no longer waits for verification (they moved, or someone answered already).")


class Household(NamedTuple):
    building_id: int
    unit: str


# ------------------------------------------------------------------------------------- eligibility API


async def verified_residents(source: Reader, building_ids: list[int] | set[int]) -> list[int]:
    """Ids of residents of these buildings whose home a grid worker confirmed (or an import marked
    verified) and who are signed up in the bot, so they can vote; sorted."""
    return await grid_ops.verified_residents(source, building_ids)


async def households(source: Reader, building_ids: list[int] | set[int]) -> list[Household]:
    """Every household (building id, unit) of these buildings with at least one verified resident, signed
    up or imported: the denominator of household turnout; sorted."""
    return [Household(b, u) for b, u in await grid_ops.households(source, building_ids)]


async def household_of(
    source: Reader, person_id: int, building_ids: list[int] | set[int]
) -> Household | None:
    """The household a person speaks for in a decision about these buildings; None when they are not a
    verified, signed-up resident there (or have no unit)."""
    claim = await grid_ops.claim(source, person_id)
    if (
        claim is None
        or not claim.verified
        or claim.telegram_id is None
        or not claim.unit
        or claim.building_id not in set(building_ids)
    ):
        return None
    return Household(claim.building_id, claim.unit)


# --------------------------------------------------------------------------------------- verifying


def area(person: Person) -> Area:
    """Whose homes a person reviews: grid teams their grids, organizers their community, admins all."""
    return area_of(person, *VERIFY_ROLES)


def unit_check(unit: str | None) -> str:
    """A short fingerprint of the unit a reviewer saw, carried in the button so a unit changed
    meanwhile is not confirmed unseen."""
    return f"{zlib.crc32((unit or '').encode('utf-8')):08x}"


async def waiting(services: Services, person: Person, *, page: int, per_page: int) -> tuple[list[Claim], int]:
    return await grid_ops.waiting(services.db, area(person), offset=page * per_page, limit=per_page)


async def claim_to_review(services: Services, person: Person, person_id: int) -> Claim:
    """A waiting resident of this reviewer's area, else `Refused`."""
    claim = await grid_ops.claim(services.db, person_id)
    if claim is None or not area(person).covers(claim.grid_id, claim.community_id):
        raise Refused(STALE)
    if not await grid_ops.is_waiting(services.db, person_id):
        raise Refused(NOT_WAITING)
    return claim


async def _reviewable(conn: Reader, reviewer: Person, person_id: int, building_id: int, check: str) -> Claim:
    claim = await grid_ops.claim(conn, person_id)
    if claim is None or not area(reviewer).covers(claim.grid_id, claim.community_id):
        raise Refused(STALE)
    if (
        not await grid_ops.is_waiting(conn, person_id)
        or claim.building_id != building_id
        or unit_check(claim.unit) != check
    ):
        raise Refused(NOT_WAITING)
    return claim


async def _record_review(
    services: Services, conn: Connection, reviewer: Person, claim: Claim, decision: str,
    reason: str | None, now: datetime,
) -> str:
    """Log the reviewer's decision on the claim; returns the home as the resident reads it."""
    await grid_ops.record_review(
        conn,
        now=now,
        person_id=claim.person_id,
        building_id=claim.building_id,
        unit=claim.unit,
        decision=decision,
        reason=reason,
        reviewer_id=reviewer.id,
    )
    return await place_text_for(services, claim.building_id, claim.unit)


async def confirm(
    services: Services, reviewer: Person, person_id: int, building_id: int, check: str
) -> Claim:
    """Confirm the home the reviewer saw (`building_id` and the unit's `check`); the resident is told."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        claim = await _reviewable(conn, reviewer, person_id, building_id, check)
        if not await grid_ops.confirm_home(conn, person_id, claim.building_id, claim.unit, reviewer.id, now):
            raise Refused(NOT_WAITING)
        home = await _record_review(services, conn, reviewer, claim, "confirmed", None, now)
        await push(
            conn,
            now,
            [person_id],
            N_(
                "✅ Your grid worker confirmed your home: {home}. Your voice now counts in your building's "
                "decisions."
            ),
            lambda _, loc: {"home": home},
        )
        return claim


async def reject(
    services: Services, reviewer: Person, person_id: int, building_id: int, check: str, reason: str
) -> Claim:
    """Refuse the claimed home with a reason the resident reads; they stay unverified and off the list
    until they claim another home."""
    why = clean_text(reason, REASON_MAX)
    if why is None:
        raise Refused(N_("Please write the reason in up to {limit} characters."), limit=REASON_MAX)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        claim = await _reviewable(conn, reviewer, person_id, building_id, check)
        home = await _record_review(services, conn, reviewer, claim, "rejected", why, now)
        await push(
            conn,
            now,
            [person_id],
            N_(
                "Your grid worker could not confirm your home ({home}): {reason}\nIf your building or unit is "
                "wrong, change it in your profile."
            ),
            lambda _, loc: {"home": home, "reason": why},
            buttons=[[Button(N_("👤 Profile"), "prof:home")]],
        )
        return claim


async def counts(services: Services, person: Person) -> list[GridCount]:
    """Per grid of the person's area: residents signed up, verified, waiting."""
    grids = await grid_ops.grids_in(services.db, area(person))
    return await grid_ops.verification_counts(services.db, [g.id for g in grids])


# ------------------------------------------------------------------------------------- unreachable


async def unreachable(services: Services, person: Person) -> list[tuple[GridRow, list[Unreachable]]]:
    """People who blocked the bot, per grid of the person's area; looking is logged (phones are shown)."""
    grids = await grid_ops.grids_in(services.db, area(person))
    found = await grid_ops.unreachable_in(services.db, [g.id for g in grids])
    async with services.db.transaction() as conn:
        await people.audit(conn, services.clock.now(), person.id, "unreachable.view", str(len(found)))
    return [
        (g, [u for u in found if u.grid_id == g.id]) for g in grids if any(u.grid_id == g.id for u in found)
    ]

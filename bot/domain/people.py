"""People, roles and scopes: who may do what, as data."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel


class Role(StrEnum):
    RESIDENT = "resident"
    VOLUNTEER = "volunteer"
    INFORMANT = "informant"
    GRID_WORKER = "grid_worker"
    PART_TIME_WORKER = "part_time_worker"
    SECRETARY = "secretary"
    ORGANIZER = "organizer"
    REPRESENTATIVE = "representative"
    STAKEHOLDER = "stakeholder"
    ADMIN = "admin"


class ScopeKind(StrEnum):
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"
    TOPIC = "topic"


STAFF_ROLES = frozenset(
    {Role.GRID_WORKER, Role.PART_TIME_WORKER, Role.SECRETARY, Role.ORGANIZER, Role.ADMIN, Role.INFORMANT}
)
WORKER_ROLES = frozenset({Role.GRID_WORKER, Role.PART_TIME_WORKER, Role.SECRETARY})

# Which roles each inviting role may hand out (an admin: all; an organizer: within the community).
INVITABLE_BY: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset(Role) - {Role.RESIDENT},
    Role.ORGANIZER: frozenset(
        {Role.GRID_WORKER, Role.PART_TIME_WORKER, Role.SECRETARY, Role.INFORMANT,
         Role.REPRESENTATIVE, Role.STAKEHOLDER, Role.VOLUNTEER}
    ),
}

# The scope kind each role is granted at.
ROLE_SCOPE: dict[Role, ScopeKind] = {
    Role.RESIDENT: ScopeKind.STREET,
    Role.VOLUNTEER: ScopeKind.COMMUNITY,
    Role.INFORMANT: ScopeKind.GRID,
    Role.GRID_WORKER: ScopeKind.GRID,
    Role.PART_TIME_WORKER: ScopeKind.GRID,
    Role.SECRETARY: ScopeKind.GRID,
    Role.ORGANIZER: ScopeKind.COMMUNITY,
    Role.REPRESENTATIVE: ScopeKind.COMMUNITY,
    Role.STAKEHOLDER: ScopeKind.TOPIC,
    Role.ADMIN: ScopeKind.STREET,
}


class Scope(BaseModel, frozen=True):
    kind: ScopeKind
    id: int = 0


class RoleGrant(BaseModel, frozen=True):
    role: Role
    scope: Scope


class Person(BaseModel):
    id: int
    telegram_id: int | None
    name: str
    username: str | None = None
    phone: str | None = None
    locale: str | None = None
    building_id: int | None = None
    unit: str | None = None
    verification: str = "unverified"
    onboarded: bool = False
    unreachable: bool = False
    roles: list[RoleGrant] = []

    def has(self, *roles: Role) -> bool:
        return any(grant.role in roles for grant in self.roles)

    def scopes_for(self, *roles: Role) -> list[Scope]:
        return [grant.scope for grant in self.roles if grant.role in roles]

    @property
    def verified(self) -> bool:
        return self.verification == "verified"


class StreetPlace(BaseModel):
    """A building with the grid and community it belongs to: what routing needs."""

    building_id: int
    building_code: str
    building_name: str
    grid_id: int
    grid_name: str
    community_id: int
    community_name: str
    lat: float | None = None
    lon: float | None = None


def covers(grant_scope: Scope, place: StreetPlace) -> bool:
    """Does a role granted at `grant_scope` cover this building?"""
    if grant_scope.kind is ScopeKind.STREET:
        return True
    if grant_scope.kind is ScopeKind.COMMUNITY:
        return grant_scope.id == place.community_id
    if grant_scope.kind is ScopeKind.GRID:
        return grant_scope.id == place.grid_id
    return False


def normalize_phone(raw: str) -> str:
    """Digits only, without China's country code, so a spreadsheet number matches a Telegram contact.

    Telegram shares "8613800138000" or "+86 138 0013 8000"; spreadsheets hold "138-0013-8000".
    All become "13800138000". Numbers of other countries keep their country code.
    """
    digits = re.sub(r"\D", "", raw)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            return digits[len(prefix):]
    return digits

"""Invites: staff and representatives join by a single-use deep link made within one's own scope."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.people import INVITABLE_BY, Person, Role, Scope, ScopeKind
from bot.services.container import Services
from bot.storage import invites, people
from bot.storage.invites import InviteRefusal


class _Refused(Exception):
    def __init__(self, refusal: InviteRefusal) -> None:
        self.refusal = refusal


def invitable_roles(inviter: Person) -> list[Role]:
    roles: set[Role] = set()
    for grant in inviter.roles:
        roles |= INVITABLE_BY.get(grant.role, frozenset())
    return sorted(roles - {Role.STAKEHOLDER, Role.RESIDENT}, key=list(Role).index)


async def may_invite(services: Services, inviter: Person, role: Role, scope: Scope) -> bool:
    """Admins invite anyone anywhere; organizers only into their own community and its grids."""
    if inviter.has(Role.ADMIN):
        return role in INVITABLE_BY[Role.ADMIN]
    if role not in INVITABLE_BY[Role.ORGANIZER]:
        return False
    communities = {s.id for s in inviter.scopes_for(Role.ORGANIZER) if s.kind is ScopeKind.COMMUNITY}
    if scope.kind is ScopeKind.COMMUNITY:
        return scope.id in communities
    if scope.kind is ScopeKind.GRID:
        community = await services.db.fetch_value("SELECT community_id FROM grids WHERE id = ?", (scope.id,))
        return community in communities
    return False


async def create_invite(services: Services, inviter: Person, role: Role, scope: Scope) -> str | None:
    """A new token, or None when the inviter may not hand out this role at this scope."""
    if not await may_invite(services, inviter, role, scope):
        return None
    now = services.clock.now()
    async with services.db.transaction() as conn:
        token = await invites.create(
            conn, role=role, scope=scope, created_by=inviter.id, now=now,
            ttl=timedelta(days=services.settings.invite_ttl_days),
        )
        await people.audit(conn, now, inviter.id, "invite.create", f"{role.value}@{scope.kind.value}:{scope.id}")
    return token


async def redeem(
    services: Services, token: str, *, telegram_id: int, name: str, username: str | None, locale: str
) -> tuple[Person, Role] | InviteRefusal:
    """Spend the token and grant its role, all in one transaction; nothing changes on a refusal."""
    now = services.clock.now()
    try:
        async with services.db.transaction() as conn:
            invite = await invites.get(conn, token)
            if invite is None:
                raise _Refused(InviteRefusal.UNKNOWN)
            row = await (await conn.execute(
                "SELECT id FROM people WHERE telegram_id = ? AND erased_at IS NULL", (telegram_id,)
            )).fetchone()
            unlinked = invite.person_id is not None and await (await conn.execute(
                "SELECT 1 FROM people WHERE id = ? AND telegram_id IS NULL AND erased_at IS NULL",
                (invite.person_id,),
            )).fetchone()
            if row is not None:
                person_id = row["id"]
            elif unlinked and invite.person_id is not None:
                person_id = invite.person_id
                await conn.execute(
                    "UPDATE people SET telegram_id = ?, username = ?, locale = ?, "
                    "name = CASE WHEN name = '' THEN ? ELSE name END WHERE id = ?",
                    (telegram_id, username, locale, name, person_id),
                )
            else:
                person_id = await people.insert(
                    conn, now=now, telegram_id=telegram_id, name=name, username=username, locale=locale
                )
            spent = await invites.consume(conn, token, person_id=person_id, now=now)
            if isinstance(spent, InviteRefusal):
                raise _Refused(spent)
            await people.grant(conn, person_id, spent.role, spent.scope, now)
            await people.audit(conn, now, person_id, "invite.redeem", token[:6],
                               f"{spent.role.value}@{spent.scope.kind.value}:{spent.scope.id}")
    except _Refused as refused:
        return refused.refusal
    person = await people.by_id(services.db, person_id)
    assert person is not None
    return person, spent.role

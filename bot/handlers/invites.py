"""/invite makes a single-use deep link for staff; `/start <token>` redeems it."""

from __future__ import annotations

from telegram.ext import Application

from bot.domain.people import ROLE_SCOPE, Person, Role, Scope, ScopeKind
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, register_flow, show
from bot.i18n import N_
from bot.services import invites as invite_service
from bot.storage import structure
from bot.storage.drafts import Draft
from bot.storage.invites import InviteRefusal
from bot.ui.html import esc
from bot.ui.keyboards import paginated
from bot.ui.labels import ROLE_LABELS

FLOW = "invite"
REFUSALS = {
    InviteRefusal.UNKNOWN: N_("This invitation link is not valid. Ask the person who invited you for a new one."),
    InviteRefusal.EXPIRED: N_("This invitation link has expired. Ask the person who invited you for a new one."),
    InviteRefusal.USED: N_("This invitation link has already been used. Each link works once; ask for a new one."),
}


async def redeem_invite(ctx: Ctx, token: str) -> Person | None:
    """Grant the invited role; refusals are explained and change nothing."""
    result = await invite_service.redeem(
        ctx.services, token, telegram_id=ctx.user.id, name=ctx.user.full_name, username=ctx.user.username,
        locale=ctx.locale,
    )
    if isinstance(result, InviteRefusal):
        await ctx.reply(ctx._(REFUSALS[result]))
        return None
    person, role = result
    ctx.person = person
    await ctx.reply(ctx._("You have joined Gongzhi as {role}.").format(role=esc(ctx._(ROLE_LABELS[role]))))
    if person.onboarded:
        await ctx.reply(menu.help_text(ctx), menu.main_menu(ctx))
        await menu.publish_commands(ctx)
    return person


async def cmd_invite(ctx: Ctx) -> None:
    await show(ctx, new_draft(ctx, FLOW, "role"))


async def _scopes(ctx: Ctx, kind: ScopeKind) -> list[tuple[int, str]]:
    """The scopes of `kind` this inviter may invite into."""
    assert ctx.person is not None
    if kind is ScopeKind.STREET:
        return [(0, ctx._("the whole street"))]
    items = await (structure.communities(ctx.services.db) if kind is ScopeKind.COMMUNITY
                   else structure.grids(ctx.services.db))
    allowed = []
    for item in items:
        if await invite_service.may_invite(ctx.services, ctx.person, _any_role_at(kind), Scope(kind=kind, id=item.id)):
            allowed.append((item.id, item.name))
    return allowed


def _any_role_at(kind: ScopeKind) -> Role:
    """A role granted at `kind` that organizers may hand out, to ask whether a scope is theirs."""
    return Role.GRID_WORKER if kind is ScopeKind.GRID else Role.REPRESENTATIVE


async def _view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    assert ctx.person is not None
    if draft.step == "role":
        roles = invite_service.invitable_roles(ctx.person)
        buttons: list[list[Button]] = [[(_(ROLE_LABELS[r]), f"r:{r.value}")] for r in roles]
        return _("Whom do you want to invite? Pick a role."), [*buttons, [(_("Cancel"), "cancel")]], None
    kind = ScopeKind(draft.data["scope_kind"])
    rows, _page, _pages = paginated(
        await _scopes(ctx, kind), int(draft.data.get("page", 0)), per_page=8, per_row=2,
        button=lambda s: (s[1], f"s:{s[0]}"), nav=lambda p: f"pg:{p}", counter=_("{page} of {pages}"),
    )
    return _("Where will they work? Pick the scope."), [*rows, [(_("‹ Back"), "back")]], None


async def _on_turn(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    if ctx.person is None:
        await end_flow(ctx, draft)
        return
    if turn.action is None:
        await ctx.reply(_("Please use the buttons above, or /cancel to stop."))
    elif turn.action == "cancel":
        await end_flow(ctx, draft)
        await ctx.show(_("No invitation was made."))
    elif draft.step == "role" and turn.action == "r" and turn.args and turn.args[0] in Role.__members__.values():
        role = Role(turn.args[0])
        if role not in invite_service.invitable_roles(ctx.person):
            await ctx.answer(_("You cannot invite this role."), alert=True)
            return
        if ROLE_SCOPE[role] is ScopeKind.STREET:
            await _make(turn, role, Scope(kind=ScopeKind.STREET))
        else:
            await turn.goto("scope", role=role.value, scope_kind=ROLE_SCOPE[role].value, page=0)
    elif draft.step == "scope" and turn.action == "pg":
        await turn.goto("scope", page=turn.int_arg() or 0)
    elif draft.step == "scope" and turn.action == "back":
        await turn.goto("role")
    elif draft.step == "scope" and turn.action == "s" and (scope_id := turn.int_arg()) is not None:
        await _make(turn, Role(draft.data["role"]), Scope(kind=ScopeKind(draft.data["scope_kind"]), id=scope_id))
    else:
        await ctx.answer(_("This button has expired. Send /start or /help to go on."), alert=True)


async def _make(turn: Turn, role: Role, scope: Scope) -> None:
    ctx = turn.ctx
    _ = ctx._
    assert ctx.person is not None
    token = await invite_service.create_invite(ctx.services, ctx.person, role, scope)
    await end_flow(ctx, turn.draft)
    if token is None:
        await ctx.show(_("You cannot invite into that scope."))
        return
    link = f"https://t.me/{ctx.context.bot.username}?start={token}"
    await ctx.show(
        _("Invitation for a {role}. Send this link to that person; it works once and expires in {days} days:\n"
          "{link}").format(role=esc(_(ROLE_LABELS[role])), days=ctx.services.settings.invite_ttl_days,
                           link=esc(link))
    )


def register(application: Application) -> None:
    register_flow(application, FLOW, Flow(_on_turn, _view))
    menu.add_command(application, menu.Command(
        "invite", N_("Invite staff or a representative with a single-use link"), cmd_invite,
        roles=frozenset({Role.ADMIN, Role.ORGANIZER}), order=80))

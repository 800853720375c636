"""/start: language → privacy consent → community → building → unit → phone → main menu.

Invited staff (`/start <token>`) get their role at once and skip the home steps. The same
community/building/unit steps serve /profile's "change building" (flow `home`).
"""

from __future__ import annotations

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.domain.people import Person
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.invites import redeem_invite
from bot.i18n import N_
from bot.services import onboarding
from bot.storage import structure
from bot.storage.drafts import Draft
from bot.ui.html import esc
from bot.ui.keyboards import paginated

DIDNT_UNDERSTAND = N_("I didn't understand that. Please use the buttons below, or /cancel to stop.")
FLOW = "onboarding"
HOME_FLOW = "home"
PER_PAGE = 8
# Each language is offered in its own name, which needs no translation.
LANGUAGES: list[Button] = [("简体中文", "lang:zh_Hans"), ("繁體中文", "lang:zh_Hant"), ("English", "lang:en")]


async def cmd_start(ctx: Ctx) -> None:
    args = ctx.context.args or []
    if args:
        person = await redeem_invite(ctx, args[0])
        if person is None or person.onboarded:
            return
        await show(ctx, new_draft(ctx, FLOW, "language", staff=True))
        return
    if ctx.person is not None and ctx.person.onboarded:
        await welcome(ctx, ctx.person, returning=True)
        return
    if ctx.draft is not None and ctx.draft.flow == FLOW:
        await show(ctx, ctx.draft)  # resume after a restart or a pause
        return
    await show(ctx, new_draft(ctx, FLOW, "language"))


async def welcome(ctx: Ctx, person: Person, *, returning: bool = False) -> None:
    ctx.person = person
    _ = ctx._
    text = _("Welcome back, {name}.") if returning else _("You're all set, {name}. Welcome to Gongzhi!")
    await ctx.reply(text.format(name=esc(person.name)) + "\n\n" + menu.help_text(ctx), menu.main_menu(ctx))
    await menu.publish_commands(ctx)


async def _view(ctx: Ctx, draft: Draft) -> View:
    """The text and buttons of `draft.step`, so any step can be shown again (resume, back, retry)."""
    _ = ctx._
    back: list[Button] = [(_("‹ Back"), "back")]
    step = draft.step
    if step == "language":
        return _("Choose your language:"), [LANGUAGES], None
    if step == "consent":
        text = _(
            "<b>Privacy</b>\nGongzhi stores your name, your building and unit, and your phone number if you "
            "share it, so that your grid team can handle your reports. Your phone and name go only to the "
            "grid worker and staff handling your report, never to neighbours. You can see everything stored "
            "about you with /mydata and erase it with /deleteme.\n\nDo you agree?"
        )
        return text, [[(_("I agree"), "agree"), (_("No, thanks"), "decline")], back], None
    if step == "community":
        items = await structure.communities(ctx.services.db)
        rows, _page, _pages = paginated(
            items, int(draft.data.get("page", 0)), per_page=PER_PAGE, per_row=2,
            button=lambda c: (c.name, f"c:{c.id}"), nav=lambda p: f"pg:{p}", counter=_("{page} of {pages}"),
        )
        if not items:
            return _("No communities have been set up yet. Please try again later."), [back], None
        return _("Which community do you live in?"), [*rows, back], None
    if step == "building":
        items = await structure.buildings_in_community(ctx.services.db, int(draft.data["community_id"]))
        rows, _page, _pages = paginated(
            items, int(draft.data.get("page", 0)), per_page=PER_PAGE, per_row=2,
            button=lambda b: (b.name, f"b:{b.id}"), nav=lambda p: f"pg:{p}", counter=_("{page} of {pages}"),
        )
        return _("Which building? Pick it below or type its number."), [*rows, back], None
    if step == "unit":
        return _("Type your unit, for example 3-201."), [back], None
    if step == "phone":
        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton(_("📱 Share my phone number"), request_contact=True)], [_("Skip")]],
            resize_keyboard=True, one_time_keyboard=True,
        )
        text = _(
            "Would you share your phone number? Only your grid team sees it, to call you back about "
            "your reports. You can skip this."
        )
        return text, None, keyboard
    raise ValueError(f"unknown onboarding step {step!r}")


async def on_turn(turn: Turn) -> None:
    """One input during onboarding or a change of home."""
    ctx, draft, action = turn.ctx, turn.draft, turn.action
    _ = ctx._
    step = draft.step
    home_only = draft.flow == HOME_FLOW
    if step == "language" and action == "lang" and turn.args and turn.args[0] in {"zh_Hans", "zh_Hant", "en"}:
        ctx.use_locale(turn.args[0])
        await turn.goto("consent", locale=turn.args[0])
    elif step == "consent" and action == "agree":
        await turn.goto("phone" if draft.data.get("staff") else "community", page=0)
    elif step == "consent" and action == "decline":
        await end_flow(ctx, draft)
        await ctx.show(_("Without your consent Gongzhi cannot store your details. Send /start whenever you "
                         "change your mind."))
    elif step == "consent" and action == "back":
        await turn.goto("language")
    elif step in {"community", "building"} and action == "pg":
        await turn.goto(step, page=turn.int_arg() or 0)
    elif step == "community" and action == "c" and (community_id := turn.int_arg()) is not None:
        if await structure.community(ctx.services.db, community_id) is None:
            await ctx.answer(_("That community no longer exists. Please pick again."), alert=True)
            await turn.goto("community", page=0)
        else:
            await turn.goto("building", community_id=community_id, page=0)
    elif step == "community" and action == "back":
        if home_only:
            await end_flow(ctx, draft)
            await ctx.show(_("Your home is unchanged."))
        else:
            await turn.goto("consent")
    elif step == "building" and action == "b" and (building_id := turn.int_arg()) is not None:
        await _choose_building(turn, building_id)
    elif step == "building" and action == "back":
        await turn.goto("community", page=0)
    elif step == "building" and turn.text:
        await _type_building(turn, turn.text)
    elif step == "unit" and action == "back":
        await turn.goto("building", page=0)
    elif step == "unit" and turn.text:
        unit = onboarding.clean_unit(turn.text)
        if unit is None:
            await ctx.reply(_("A unit is one short line, up to {limit} characters, for example 3-201.").format(
                limit=onboarding.UNIT_MAX))
        elif home_only:
            await _finish_home(turn, unit)
        else:
            await turn.goto("phone", unit=unit)
    elif step == "phone" and turn.contact is not None:
        if turn.contact.user_id != ctx.user.id:
            await ctx.reply(_("That is someone else's contact. Please share your own with the button below, "
                              "or skip."))
            return
        await _finish_signup(turn, turn.contact.phone_number)
    elif step == "phone" and turn.text and turn.text.strip() in {_("Skip"), "/skip"}:
        await _finish_signup(turn, None)
    else:
        await not_understood(turn)


async def _choose_building(turn: Turn, building_id: int) -> None:
    place = await structure.place(turn.ctx.services.db, building_id)
    if place is None or place.community_id != turn.draft.data.get("community_id"):
        await turn.ctx.answer(turn.ctx._("That building is not in this community. Please pick again."), alert=True)
        await turn.goto("building")
        return
    await turn.goto("unit", building_id=building_id)


async def _type_building(turn: Turn, text: str) -> None:
    ctx = turn.ctx
    wanted = text.strip().casefold()
    buildings = await structure.buildings_in_community(ctx.services.db, int(turn.draft.data["community_id"]))
    matches = [b for b in buildings if wanted in {b.code.casefold(), b.name.casefold()}]
    if not matches:
        matches = [b for b in buildings if wanted and wanted in b.name.casefold()]
    if len(matches) == 1:
        await turn.goto("unit", building_id=matches[0].id)
        return
    await ctx.reply(ctx._("I couldn't find one building called “{text}” here. Please pick it below.").format(
        text=esc(text[:64])))
    await turn.goto("building", page=0)


async def _finish_signup(turn: Turn, phone: str | None) -> None:
    ctx, draft = turn.ctx, turn.draft
    signup = onboarding.Signup(
        telegram_id=ctx.user.id, name=ctx.user.full_name, username=ctx.user.username, locale=ctx.locale,
        building_id=draft.data.get("building_id"), unit=draft.data.get("unit"), phone=phone,
        draft_version=draft.version,
    )
    person = await onboarding.complete_signup(ctx.services, signup)
    if person is None:
        return  # a second tap of the same step: the first one finished signing up
    await ctx.reply(ctx._("Thank you."), ReplyKeyboardRemove())
    await welcome(ctx, person)


async def _finish_home(turn: Turn, unit: str) -> None:
    ctx = turn.ctx
    assert ctx.person is not None
    person = await onboarding.change_home(ctx.services, ctx.person, int(turn.draft.data["building_id"]), unit)
    place = await structure.place(ctx.services.db, int(turn.draft.data["building_id"]))
    ctx.person = person
    await ctx.reply(
        ctx._("Your home is now {building}, unit {unit}. Your grid worker will confirm it; until then you "
              "count as unverified.").format(building=esc(place.building_name if place else ""), unit=esc(unit)),
        menu.main_menu(ctx),
    )


async def start_home_change(ctx: Ctx) -> None:
    await show(ctx, new_draft(ctx, HOME_FLOW, "community", page=0))


def register(application) -> None:  # type: ignore[no-untyped-def]
    register_flow(application, FLOW, Flow(on_turn, _view, hint=DIDNT_UNDERSTAND))
    register_flow(application, HOME_FLOW, Flow(on_turn, _view, hint=DIDNT_UNDERSTAND))
    menu.add_command(application, menu.Command(
        "start", N_("Start, or show the main menu"), cmd_start, before_onboarding=True, order=0))

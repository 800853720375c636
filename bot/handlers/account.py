"""A person's own account: /help, /cancel, /language, /profile, /mydata, /deleteme."""

from __future__ import annotations

from telegram import InputFile, ReplyKeyboardRemove, Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.groups import COMMANDS
from bot.handlers.onboarding import LANGUAGES, start_home_change
from bot.i18n import N_
from bot.services import accounts, onboarding
from bot.storage import drafts, structure
from bot.ui.callbacks import decode, encode
from bot.ui.html import esc
from bot.ui.keyboards import inline
from bot.ui.labels import ROLE_LABELS


async def cmd_help(ctx: Ctx) -> None:
    if ctx.person is None or not ctx.person.onboarded:
        await ctx.reply(ctx._("Send /start to sign up. /language changes the language.") + "\n\n" + menu.help_text(ctx))
        return
    await ctx.reply(menu.help_text(ctx), menu.main_menu(ctx))


async def cmd_cancel(ctx: Ctx) -> None:
    async with ctx.services.db.transaction() as conn:
        had_draft = await drafts.clear(conn, ctx.user.id)
    text = ctx._("Cancelled. Nothing was saved.") if had_draft else ctx._("There is nothing to cancel.")
    onboarded = ctx.person is not None and ctx.person.onboarded
    await ctx.reply(text, menu.main_menu(ctx) if onboarded else ReplyKeyboardRemove())


async def cmd_language(ctx: Ctx) -> None:
    await ctx.reply(ctx._("Choose your language:"), inline([[(label, encode("lang", action.split(":")[1]))
                                                            for label, action in LANGUAGES]]))


async def on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return
    _prefix, parts = decode(update.callback_query.data if update.callback_query else None)
    locale = parts[0] if parts else ""
    if locale not in {"zh_Hans", "zh_Hant", "en"}:
        await ctx.answer(ctx._("This button has expired. Send /start or /help to go on."), alert=True)
        return
    ctx.use_locale(locale)
    await ctx.answer()
    if ctx.person is None or not ctx.person.onboarded:
        await ctx.show(ctx._("Language changed. Send /start to sign up."))
        return
    await onboarding.set_locale(ctx.services, ctx.person, locale)
    await ctx.show(ctx._("Language changed."))
    await ctx.reply(menu.help_text(ctx), menu.main_menu(ctx))
    await menu.publish_commands(ctx)


async def cmd_profile(ctx: Ctx) -> None:
    person = ctx.person
    assert person is not None
    _ = ctx._
    place = await structure.place(ctx.services.db, person.building_id) if person.building_id else None
    home = (_("{building}, {community}, unit {unit}").format(
        building=esc(place.building_name), community=esc(place.community_name), unit=esc(person.unit or "—"))
        if place else _("not set"))
    status = _("verified") if person.verified else _("not yet verified by your grid worker")
    roles = ", ".join(sorted({_(ROLE_LABELS[g.role]) for g in person.roles})) or "—"
    text = "\n".join([
        _("<b>Your profile</b>"),
        _("Name: {name}").format(name=esc(person.name)),
        _("Home: {home}").format(home=home),
        _("Status: {status}").format(status=status),
        _("Phone: {phone}").format(phone=esc(person.phone or _("not shared"))),
        _("Roles: {roles}").format(roles=esc(roles)),
    ])
    await ctx.reply(text, inline([[(_("Change my home"), encode("prof", "home"))]]))


async def on_profile_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return
    if ctx.person is None or not ctx.person.onboarded:
        await ctx.answer(ctx._("Please finish signing up first: send /start."), alert=True)
        return
    await ctx.answer()
    await start_home_change(ctx)


async def cmd_mydata(ctx: Ctx) -> None:
    if ctx.person is None:
        await ctx.reply(ctx._("Gongzhi stores nothing about you yet."))
        return
    document = await accounts.export_my_data(ctx.services, ctx.person)
    await ctx.context.bot.send_document(
        chat_id=ctx.user.id, document=InputFile(document, filename="gongzhi-mydata.json"),
        caption=ctx._("Everything Gongzhi stores about you."), rate_limit_args="reply",
    )


async def cmd_deleteme(ctx: Ctx) -> None:
    _ = ctx._
    if ctx.person is None:
        await ctx.reply(_("Gongzhi stores nothing about you yet."))
        return
    await ctx.reply(
        _("This erases your name, phone, home, roles, drafts and queued messages. Your reports stay, without "
          "your name, so your neighbours' cases are not lost. Erase now?"),
        inline([[(_("Yes, erase my data"), encode("del", "yes", ctx.person.id)), (_("No"), encode("del", "no"))]]),
    )


async def on_delete_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ctx = await Ctx.load(update, context)
    if ctx is None:
        return
    _ = ctx._
    _prefix, parts = decode(update.callback_query.data if update.callback_query else None)
    await ctx.answer()
    if parts[:1] == ["no"]:
        await ctx.show(_("Nothing was erased."))
        return
    if ctx.person is None or parts[1:2] != [str(ctx.person.id)]:
        await ctx.show(_("This button has expired. Send /start or /help to go on."))
        return
    await accounts.erase(ctx.services, ctx.person)
    await ctx.show(_("Your data has been erased. Send /start if you want to use Gongzhi again."))
    await ctx.reply(_("Goodbye."), ReplyKeyboardRemove())


def register(application: Application) -> None:
    add = menu.add_command
    add(application, menu.Command("help", N_("What you can do here"), cmd_help, before_onboarding=True, order=1))
    add(application, menu.Command("cancel", N_("Stop what you are doing"), cmd_cancel, before_onboarding=True,
                                  order=2))
    add(application, menu.Command("language", N_("Change the language"), cmd_language, before_onboarding=True,
                                  order=90))
    add(application, menu.Command("profile", N_("Your profile and home"), cmd_profile,
                                  menu_label=N_("👤 Profile"), order=91))
    add(application, menu.Command("mydata", N_("Everything stored about you"), cmd_mydata,
                                  before_onboarding=True, order=92))
    add(application, menu.Command("deleteme", N_("Erase your data"), cmd_deleteme, before_onboarding=True,
                                  order=93))
    application.add_handler(CallbackQueryHandler(on_language, pattern=r"^lang:"), group=COMMANDS)
    application.add_handler(CallbackQueryHandler(on_profile_button, pattern=r"^prof:"), group=COMMANDS)
    application.add_handler(CallbackQueryHandler(on_delete_button, pattern=r"^del:"), group=COMMANDS)

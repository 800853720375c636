"""The command registry: one entry per command gives its handler, who may use it, its /help line,
its main-menu button and its place in the person's Telegram command list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import BotCommand, BotCommandScopeChat, ReplyKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.config import LOCALES
from bot.domain.people import Role
from bot.handlers.common import Ctx
from bot.handlers.groups import COMMANDS, MENU
from bot.i18n import translator
from bot.ui.keyboards import reply

COMMANDS_KEY = "commands"
CommandCallback = Callable[[Ctx], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # a msgid marked with N_
    callback: CommandCallback
    roles: frozenset[Role] | None = None  # None: every onboarded person
    menu_label: str | None = None  # a msgid; shown on the main menu when set
    before_onboarding: bool = False  # usable before /start is finished
    order: int = 50


def commands_of(application: Application) -> list[Command]:
    return sorted(application.bot_data.get(COMMANDS_KEY, []), key=lambda c: (c.order, c.name))


def may_use(ctx: Ctx, command: Command) -> bool:
    if command.before_onboarding:
        return True
    if ctx.person is None or not ctx.person.onboarded:
        return False
    return command.roles is None or ctx.person.has(*command.roles)


def visible_commands(ctx: Ctx) -> list[Command]:
    return [c for c in commands_of(ctx.context.application) if may_use(ctx, c)]


def add_command(application: Application, command: Command) -> None:
    application.bot_data.setdefault(COMMANDS_KEY, []).append(command)

    async def run(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx = await Ctx.load(update, context)
        if ctx is None or not ctx.in_private_chat:
            return
        await run_command(ctx, command)
        raise ApplicationHandlerStop

    application.add_handler(CommandHandler(command.name, run, filters=filters.UpdateType.MESSAGE), group=COMMANDS)


async def run_command(ctx: Ctx, command: Command) -> None:
    """Run a command after checking, on the server, that this person may use it."""
    _ = ctx._
    if not may_use(ctx, command):
        if ctx.person is None or not ctx.person.onboarded:
            await ctx.reply(_("Please finish signing up first: send /start."))
        else:
            await ctx.reply(_("This command is for staff with the right role. Send /help to see yours."))
        return
    await command.callback(ctx)


def main_menu(ctx: Ctx) -> ReplyKeyboardMarkup:
    labels = [ctx._(c.menu_label) for c in visible_commands(ctx) if c.menu_label]
    return reply([labels[i : i + 2] for i in range(0, len(labels), 2)])


def help_text(ctx: Ctx) -> str:
    _ = ctx._
    lines = [_("<b>What you can do</b>")]
    lines += [f"/{c.name} — {_(c.description)}" for c in visible_commands(ctx)]
    return "\n".join(lines)


async def publish_commands(ctx: Ctx) -> None:
    """Telegram's command list for this chat follows the person's language and roles."""
    commands = [BotCommand(c.name, ctx._(c.description)[:256]) for c in visible_commands(ctx)]
    try:
        await ctx.context.bot.set_my_commands(commands, scope=BotCommandScopeChat(ctx.user.id))
    except TelegramError:
        pass  # a cosmetic list; /help always works


def register(application: Application) -> None:
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND,
                       _on_menu_text),
        group=MENU,
    )


async def _on_menu_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A main-menu button sends its label as text; match it in any language."""
    text = (update.message.text or "").strip() if update.message else ""
    for command in commands_of(context.application):
        if command.menu_label and text in {translator(loc)(command.menu_label) for loc in LOCALES}:
            ctx = await Ctx.load(update, context)
            if ctx is not None:
                await run_command(ctx, command)
            raise ApplicationHandlerStop

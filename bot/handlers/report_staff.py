"""Team leads, organizers and street admins over their grid's or community's reports: the open list,
reassign, merge duplicates, change category, not our responsibility, filing on a resident's behalf, and
the street admin's logged reveal of who filed a report."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.people import Role
from bot.domain.reports import Report
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.groups import COMMANDS
from bot.handlers.report_flow import start_on_behalf
from bot.handlers.tasks import (
    EXPIRED,
    PER_PAGE,
    NotePurpose,
    ask_note,
    note_purpose,
    note_to,
    page_row,
    present,
    pressed,
    refuse,
    report_rows,
    report_title,
    show_task,
)
from bot.i18n import N_
from bot.services import reports as report_service
from bot.services import tasks as task_service
from bot.services.reports import Refused
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode, int_part
from bot.ui.html import esc, shorten
from bot.ui.keyboards import inline
from bot.ui.labels import ROLE_LABELS

STAFF_ROLES = frozenset({Role.SECRETARY, Role.ORGANIZER, Role.ADMIN})


async def cmd_gridreports(ctx: Ctx) -> None:
    await show_overseen(ctx, 0)


async def show_overseen(ctx: Ctx, page: int) -> None:
    assert ctx.person is not None
    _ = ctx._
    items, total = await task_service.overseen(ctx.services, ctx.person, page=max(page, 0), per_page=PER_PAGE)
    if total == 0:
        await present(ctx, _("No open reports in your area."))
        return
    rows = report_rows(ctx, items, "tk")
    await present(
        ctx,
        _("<b>Open reports in your area</b> ({total}), nearest deadline first; ⚠️ marks overdue ones.").format(
            total=total
        ),
        inline([*rows, page_row(ctx, "rs", page, total)]),
    )


async def cmd_file(ctx: Ctx) -> None:
    await start_on_behalf(ctx)


def manage_buttons(ctx: Ctx, report: Report) -> list[list[tuple[str, str]]]:
    _ = ctx._
    assert ctx.person is not None
    rows: list[list[tuple[str, str]]] = []
    if report.is_open:
        rows.append(
            [
                (_("👥 Reassign"), encode("rs", "re", report.id)),
                (_("🔗 Merge into…"), encode("rs", "mg", report.id)),
            ]
        )
        rows.append(
            [
                (_("🏷 Change category"), encode("rs", "cc", report.id)),
                (_("🚫 Not our responsibility"), encode("rs", "no", report.id)),
            ]
        )
    if ctx.person.has(Role.ADMIN):
        rows.append([(_("🕵️ Reveal the reporter"), encode("rs", "rv", report.id))])
    rows.append([(_("‹ Back to the task"), encode("tk", "o", report.id))])
    return rows


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed(update, context)
    if press is None:
        return
    ctx, action, number, parts = press
    if action == "l":
        await ctx.answer()
        await show_overseen(ctx, number)
        return
    report = await report_service.get(ctx.services, number)
    if report is None or not report_service.oversees(ctx.person, report):
        await ctx.answer(
            ctx._("Only the grid's team lead, the community's organizers and street admins can do this."),
            alert=True,
        )
        return
    try:
        await _act(ctx, action, report, parts[2:])
    except Refused as refusal:
        await refuse(ctx, refusal)


async def _act(ctx: Ctx, action: str, report: Report, rest: list[str]) -> None:
    _ = ctx._
    person = ctx.person
    assert person is not None
    services = ctx.services
    number = esc(report.number)
    if action == "o":
        await ctx.answer()
        await present(ctx, _("Manage {number}:").format(number=number), inline(manage_buttons(ctx, report)))
    elif action == "re":
        choices = await task_service.assignable(services, person, report.id)
        rows = [
            [(f"{name} · {_(ROLE_LABELS[role])}", encode("rs", "ra", report.id, pid))]
            for pid, name, role in choices
            if pid != report.assignee_id
        ]
        await ctx.answer()
        await present(
            ctx,
            _("Give {number} to whom?").format(number=number),
            inline([*rows, [(_("‹ Back"), encode("rs", "o", report.id))]]),
        )
    elif action == "ra" and (worker := int_part(rest, 0)) is not None:
        updated = await task_service.reassign(services, person, report.id, worker)
        await ctx.answer(_("Reassigned."))
        await show_task(ctx, updated)
    elif action == "mg":
        candidates = await task_service.merge_candidates(services, person, report.id)
        rows = [
            [(shorten(report_title(ctx, r), 60), encode("rs", "mi", report.id, r.id))] for r in candidates
        ]
        await ctx.answer()
        text = (
            _(
                "Merge {number} into which open report of the same building? Its reporter and followers will "
                "follow that one."
            )
            if rows
            else _("No other open report in that building to merge into.")
        )
        await present(
            ctx, text.format(number=number), inline([*rows, [(_("‹ Back"), encode("rs", "o", report.id))]])
        )
    elif action == "mi" and (target := int_part(rest, 0)) is not None:
        await task_service.merge(services, person, report.id, target)
        await ctx.answer(_("Merged."))
        target_report = await report_service.get(services, target)
        assert target_report is not None
        await show_task(ctx, target_report)
    elif action == "cc":
        cats = report_service.categories(services).all
        rows = [
            [(c.name(ctx.locale), encode("rs", "cs", report.id, c.code))]
            for c in cats
            if c.code != report.category
        ]
        await ctx.answer()
        await present(
            ctx,
            _("New category for {number}:").format(number=number),
            inline([*rows, [(_("‹ Back"), encode("rs", "o", report.id))]]),
        )
    elif action == "cs" and rest:
        updated = await task_service.change_category(services, person, report.id, rest[0])
        await ctx.answer(_("Category changed."))
        await show_task(ctx, updated)
    elif action == "no" and report.is_open:
        await ctx.answer()
        await ask_note(ctx, "not_ours", report.id, number=report.number)
    elif action == "rv" and person.has(Role.ADMIN):
        await ctx.answer()
        await ask_note(ctx, "reveal", report.id, number=report.number)
    else:
        await ctx.answer(_(EXPIRED), alert=True)


async def _reveal(ctx: Ctx, draft: Draft, text: str | None, _photo: str | None, _voice: str | None) -> bool:
    assert ctx.person is not None
    details = await task_service.reveal(ctx.services, ctx.person, int(draft.data["id"]), text or "")
    await ctx.reply(
        ctx._("Filed by: {who}\nThis reveal and its reason are logged.").format(
            who=esc(" · ".join(details) or "—")
        )
    )
    return True


def register(application: Application) -> None:
    note_purpose(
        "not_ours",
        NotePurpose(
            N_(
                "Why is {number} not our responsibility, and whom should the resident "
                "turn to? They read this. Up to {limit} characters."
            ),
            note_to(
                task_service.not_ours,
                N_("{number} is closed as not our responsibility; the reporter is told why."),
            ),
        ),
    )
    note_purpose(
        "reveal",
        NotePurpose(
            N_(
                "Revealing who filed {number} is logged with your reason. Type the "
                "reason (up to {limit} characters)."
            ),
            _reveal,
        ),
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=r"^rs:"), group=COMMANDS)
    menu.add_command(
        application,
        menu.Command(
            "gridreports",
            N_("Open reports in your grid or community"),
            cmd_gridreports,
            roles=STAFF_ROLES,
            order=21,
        ),
    )
    menu.add_command(
        application,
        menu.Command(
            "file",
            N_("File a report on a resident's behalf (phone, walk-in, 12345)"),
            cmd_file,
            roles=STAFF_ROLES,
            order=22,
        ),
    )

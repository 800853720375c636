"""/myreports: a resident's own and followed reports with status and timeline; add information, withdraw,
answer "is it fixed?", rate, and reply to a worker's question."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.reports import COMMENT_MAX, WITHDRAWABLE, FixedAnswer, Report, ReportState
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.groups import COMMANDS
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
    report_card,
    report_rows,
)
from bot.i18n import N_
from bot.services import reports as report_service
from bot.services.reports import Refused
from bot.storage.drafts import Draft
from bot.ui.callbacks import encode, int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline

ANSWERS = {"y": FixedAnswer.YES, "n": FixedAnswer.NO, "u": FixedAnswer.NOT_SURE}


async def cmd_myreports(ctx: Ctx) -> None:
    await show_list(ctx, 0)


async def show_list(ctx: Ctx, page: int) -> None:
    assert ctx.person is not None
    _ = ctx._
    items, total = await report_service.my_reports(
        ctx.services, ctx.person, page=max(page, 0), per_page=PER_PAGE
    )
    if total == 0:
        await present(ctx, _("You have no reports yet. Send /report to report a problem."))
        return
    rows = report_rows(ctx, items, "mr")
    await present(
        ctx,
        _("<b>My reports</b> ({total}), newest first. Open one for its timeline.").format(total=total),
        inline([*rows, page_row(ctx, "mr", page, total)]),
    )


def stars(report_id: int) -> list[tuple[str, str]]:
    return [("⭐" * n, encode("mr", "s", report_id, n)) for n in range(1, 6)]


async def show_report(ctx: Ctx, report: Report) -> None:
    _ = ctx._
    assert ctx.person is not None
    own = report.reporter_id == ctx.person.id
    rows: list[list[tuple[str, str]]] = []
    if own and report.state is ReportState.RESOLVED:
        rows.append(
            [
                (_("✅ Yes, fixed"), encode("mr", "f", report.id, "y")),
                (_("❌ No"), encode("mr", "f", report.id, "n")),
                (_("🤔 Not sure"), encode("mr", "f", report.id, "u")),
            ]
        )
    if own and report.is_open:
        rows.append([(_("➕ Add information"), encode("mr", "i", report.id))])
    if own and report.state in WITHDRAWABLE:
        rows.append([(_("↩️ Withdraw"), encode("mr", "w", report.id))])
    text = await report_card(ctx, report, staff=False)
    if own and not report.is_open:
        rated = await report_service.rating(ctx.services, report.id)
        if rated is None and report.state is not ReportState.WITHDRAWN:
            text += "\n\n" + _("How did we do? Rate 1 to 5 stars.")
            rows.append(stars(report.id))
    if not own:
        text += "\n\n" + _("You follow this report and hear about every change.")
    rows.append([(_("‹ My reports"), encode("mr", "l", 0))])
    await present(ctx, text, inline(rows))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    press = await pressed(update, context)
    if press is None:
        return
    ctx, action, number, parts = press
    try:
        await _act(ctx, action, number, parts[2:])
    except Refused as refusal:
        await refuse(ctx, refusal)


async def _act(ctx: Ctx, action: str, number: int, rest: list[str]) -> None:
    _ = ctx._
    person = ctx.person
    assert person is not None
    services = ctx.services
    if action == "l":
        await ctx.answer()
        await show_list(ctx, number)
        return
    if action == "q":
        report = await report_service.question_report(services, person, number)
        await ctx.answer()
        await ask_note(ctx, "answer", number, number=report.number)
        return
    report = await report_service.visible(services, person, number)
    if action == "o":
        await ctx.answer()
        await show_report(ctx, report)
    elif action == "i" and report.is_open and report.reporter_id == person.id:
        await ctx.answer()
        await ask_note(ctx, "information", report.id, number=report.number)
    elif action == "w" and report.state in WITHDRAWABLE and report.reporter_id == person.id:
        await ctx.answer()
        await present(
            ctx,
            _("Withdraw {number}? The grid team stops working on it.").format(number=esc(report.number)),
            inline(
                [
                    [
                        (_("Yes, withdraw"), encode("mr", "wy", report.id)),
                        (_("Keep it"), encode("mr", "o", report.id)),
                    ]
                ]
            ),
        )
    elif action == "wy":
        withdrawn = await report_service.withdraw(services, person, report.id)
        await ctx.answer()
        await present(ctx, _("{number} is withdrawn.").format(number=esc(withdrawn.number)))
    elif action == "f" and rest and rest[0] in ANSWERS:
        await _answer_fixed(ctx, report, ANSWERS[rest[0]])
    elif action == "s" and (given := int_part(rest, 0)) is not None:
        await report_service.rate(services, person, report.id, given)
        await ctx.answer(_("Thank you!"))
        await ask_note(ctx, "rating_comment", report.id, number=report.number, skippable=True)
    else:
        await ctx.answer(_(EXPIRED), alert=True)


async def _answer_fixed(ctx: Ctx, report: Report, answer: FixedAnswer) -> None:
    _ = ctx._
    assert ctx.person is not None
    updated = await report_service.answer_fixed(ctx.services, ctx.person, report.id, answer)
    await ctx.answer()
    number = esc(updated.number)
    if answer is FixedAnswer.YES:
        await present(
            ctx,
            _("Thank you! {number} is closed. How did we do? Rate 1 to 5 stars.").format(number=number),
            inline([stars(updated.id)]),
        )
    elif answer is FixedAnswer.NO:
        await present(
            ctx,
            _("Sorry it is not fixed yet. {number} is reopened and back with the grid worker.").format(
                number=number
            ),
        )
    else:
        await present(
            ctx,
            _(
                "Noted. The grid team lead will arrange a return visit. You can still answer in /myreports."
            ).format(number=number),
        )


async def _information(
    ctx: Ctx, draft: Draft, text: str | None, photo: str | None, voice: str | None
) -> bool:
    assert ctx.person is not None
    report = await report_service.add_information(
        ctx.services, ctx.person, int(draft.data["id"]), text=text, photo=photo, voice=voice
    )
    await ctx.reply(
        ctx._("Added to {number} and passed on to the grid worker.").format(number=esc(report.number))
    )
    return True


async def _rating_comment(
    ctx: Ctx, draft: Draft, text: str | None, _photo: str | None, _voice: str | None
) -> bool:
    assert ctx.person is not None
    if text is not None:
        if len(text) > COMMENT_MAX:
            await ctx.reply(
                ctx._("Please keep the comment under {limit} characters.").format(limit=COMMENT_MAX)
            )
            return False
        await report_service.comment_rating(ctx.services, ctx.person, int(draft.data["id"]), text)
    await present(ctx, ctx._("Thank you for your feedback."))
    return True


def register(application: Application) -> None:
    note_purpose(
        "information",
        NotePurpose(
            N_("More for {number}: type it, or send a photo or a voice note. Up to {limit} characters."),
            _information,
            photos=True,
            voice=True,
        ),
    )
    note_purpose(
        "answer",
        NotePurpose(
            N_("Your answer about {number}. It is passed on without your name. Up to {limit} characters."),
            note_to(report_service.answer_question, N_("Your answer was passed on for {number}.")),
        ),
    )
    note_purpose(
        "rating_comment",
        NotePurpose(
            N_("Thank you for rating {number}. Would you add a comment? Type it, or press Skip."),
            _rating_comment,
        ),
    )
    application.add_handler(CallbackQueryHandler(on_button, pattern=r"^mr:"), group=COMMANDS)
    menu.add_command(
        application,
        menu.Command(
            "myreports",
            N_("Your reports and the ones you follow"),
            cmd_myreports,
            menu_label=N_("📋 My reports"),
            order=11,
        ),
    )

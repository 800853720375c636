"""/report: category → description (or voice note) → up to 3 photos → where → urgent? → anonymous? →
similar open reports → summary with Confirm / Edit / Cancel.

The same flow files a report on a resident's behalf for team leads and organizers (/file): it starts by
asking the channel (phone call, walk-in, 12345 hotline) and asks for the caller's contact instead of
anonymity. The draft is the conversation: a restart resumes it, and Confirm carries its version, so a
double tap files one report.
"""

from __future__ import annotations

import re
from typing import Any

from telegram.ext import Application

from bot.domain.reports import DESCRIPTION_MAX, PHOTOS_MAX, Channel
from bot.handlers import menu
from bot.handlers.common import Ctx
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.tasks import EXPIRED, moment
from bot.i18n import N_
from bot.services import reports as report_service
from bot.services.reports import CHANNEL_LABELS, STATE_LABELS, Refused, ReportInput
from bot.storage.drafts import Draft
from bot.ui.html import esc, shorten
from bot.ui.keyboards import paginated

DIDNT_UNDERSTAND = N_("I didn't understand that. Please use the buttons below, or /cancel to stop.")
FLOW = "report"
PER_PAGE = 8
CONTACT_MAX = 100
CHANNELS = (Channel.PHONE, Channel.WALK_IN, Channel.HOTLINE)


def _sequence(data: dict[str, Any]) -> list[str]:
    behalf = bool(data.get("on_behalf"))
    return [
        *(["channel"] if behalf else []),
        "category",
        "description",
        "photos",
        "where",
        "urgent",
        "contact" if behalf else "anonymous",
        "duplicates",
        "summary",
    ]


async def cmd_report(ctx: Ctx) -> None:
    assert ctx.person is not None
    if ctx.draft is not None and ctx.draft.flow == FLOW and not ctx.draft.data.get("on_behalf"):
        await ctx.reply(ctx._("You have a report in progress; here is where you were. /cancel drops it."))
        await show(ctx, ctx.draft)
        return
    if await report_service.over_hourly_limit(ctx.services, ctx.person):
        await ctx.reply(ctx._(report_service.TOO_MANY).format(limit=ctx.services.settings.reports_per_hour))
        return
    await show(ctx, new_draft(ctx, FLOW, "category", photos=[]))


async def start_on_behalf(ctx: Ctx) -> None:
    """A team lead or organizer files for a resident who called, walked in or used the 12345 hotline."""
    await show(ctx, new_draft(ctx, FLOW, "channel", photos=[], on_behalf=True))


# -------------------------------------------------------------------------------------------- views


async def _view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    data = draft.data
    nav: list[Button] = [(_("‹ Back"), "back"), (_("Cancel"), "cancel")]
    step = draft.step
    if step == "channel":
        return (
            _("How did the resident reach you?"),
            [[(_(CHANNEL_LABELS[c]), f"ch:{c.value}") for c in CHANNELS], [(_("Cancel"), "cancel")]],
            None,
        )
    if step == "category":
        cats = report_service.categories(ctx.services).all
        rows = [
            [(c.name(ctx.locale), f"cat:{c.code}") for c in cats[i : i + 2]] for i in range(0, len(cats), 2)
        ]
        first = not data.get("on_behalf")
        return _("What is the problem about?"), [*rows, [(_("Cancel"), "cancel")] if first else nav], None
    if step == "description":
        return (
            _("Describe the problem in one message (up to {limit} characters), or send a voice note.").format(
                limit=DESCRIPTION_MAX
            ),
            [nav],
            None,
        )
    if step == "photos":
        count = len(data.get("photos", []))
        text = _("Send up to {max} photos, one by one; then press Done. No photo? Press Skip.").format(
            max=PHOTOS_MAX
        )
        if count:
            text += "\n" + _("Photos so far: {n} of {max}.").format(n=count, max=PHOTOS_MAX)
        done = (_("Done"), "done") if count else (_("Skip"), "done")
        return text, [[done], nav], None
    if step == "where":
        return _where_view(ctx, draft, nav)
    if step == "building":
        return await _building_view(ctx, draft)
    if step == "urgent":
        return (
            _(
                "Is it urgent — a danger to people or property right now? Urgent reports are handled "
                "round the clock."
            ),
            [[(_("⚠️ Urgent"), "urgent:1"), (_("Not urgent"), "urgent:0")], nav],
            None,
        )
    if step == "anonymous":
        return (
            _(
                "Should the grid team see your name and phone? If you stay anonymous, they can still ask you "
                "questions through the bot, and nobody but a street admin with a logged reason can find out "
                "who you are."
            ),
            [[(_("👤 Show my name"), "anon:0"), (_("🙈 Anonymous"), "anon:1")], nav],
            None,
        )
    if step == "contact":
        return (
            _("The resident's name and phone in one line, for example: Wang, 13800000000. Or press Skip."),
            [[(_("Skip"), "skip")], nav],
            None,
        )
    if step == "duplicates":
        return await _duplicates_view(ctx, draft, nav)
    if step == "summary":
        return (
            await summary(ctx, draft),
            [[(_("✅ Confirm"), "confirm")], [(_("✏️ Edit"), "edit"), (_("✖️ Cancel"), "cancel")]],
            None,
        )
    if step == "edit":
        return (
            _("What do you want to change?"),
            [
                [(_("Category"), "to:category"), (_("Description"), "to:description")],
                [(_("Photos"), "to:photos"), (_("Place"), "to:where")],
                [(_("‹ Back"), "to:summary")],
            ],
            None,
        )
    raise ValueError(f"unknown report step {step!r}")


def _where_view(ctx: Ctx, draft: Draft, nav: list[Button]) -> View:
    _ = ctx._
    rows: list[list[Button]] = []
    person = ctx.person
    if person is not None and person.building_id is not None and not draft.data.get("on_behalf"):
        rows.append([(_("🏠 My building"), "home")])
    rows.append([(_("🏢 Pick a building"), "pick")])
    text = _(
        "Where is the problem? Pick below, or send a location pin (📎 → Location) and I will find the "
        "nearest building."
    )
    return text, [*rows, nav], None


async def _building_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    person = ctx.person if draft.data.get("on_behalf") else None
    items = await report_service.buildings(ctx.services, person)
    rows, _page, _pages = paginated(
        items,
        int(draft.data.get("page", 0)),
        per_page=PER_PAGE,
        per_row=2,
        button=lambda b: (b[2], f"b:{b[0]}"),
        nav=lambda p: f"pg:{p}",
        counter=_("{page} of {pages}"),
    )
    return _("Which building? Pick it below or type its name."), [*rows, [(_("‹ Back"), "back")]], None


async def _duplicates_view(ctx: Ctx, draft: Draft, nav: list[Button]) -> View:
    _ = ctx._
    similar = await report_service.similar_open(
        ctx.services, draft.data["category"], int(draft.data["building_id"])
    )
    lines = [
        _(
            "These open reports look like yours. If it is the same problem, follow one instead: you will "
            "hear about every change, and the count of residents affected goes up."
        )
    ]
    rows: list[list[Button]] = []
    for report in similar[:3]:
        lines.append(
            "• "
            + _("{number} · {status} · filed {when} · 👥 {n}").format(
                number=esc(report.number),
                status=_(STATE_LABELS[report.state]),
                when=moment(ctx, report.created_at),
                n=report.affected_count,
            )
        )
        if report.description:
            lines.append("  " + esc(shorten(report.description, 120)))
        rows.append([(_("Follow {number}").format(number=report.number), f"fol:{report.id}")])
    rows.append([(_("It's a different problem"), "diff")])
    return "\n".join(lines), [*rows, nav], None


async def summary(ctx: Ctx, draft: Draft) -> str:
    _ = ctx._
    data = draft.data
    category = report_service.categories(ctx.services)[data["category"]]
    lines = [_("<b>Your report</b> — please check it:")]
    if data.get("on_behalf"):
        lines = [
            _("<b>Report for a resident</b> — please check it:"),
            _("Channel: {channel}").format(channel=_(CHANNEL_LABELS[Channel(data["channel"])])),
        ]
    lines.append(
        _("Category: {category}").format(category=esc(category.name(ctx.locale)))
        + (_(" · ⚠️ urgent") if data.get("urgent") else "")
    )
    if data.get("description"):
        lines.append(_("Description: {text}").format(text=esc(data["description"])))
    if data.get("voice"):
        lines.append(_("🎤 With a voice note."))
    lines.append(_("📷 Photos: {n}").format(n=len(data.get("photos", []))))
    place = await report_service.place_text_for(ctx.services, int(data["building_id"]), data.get("unit"))
    lines.append("📍 " + esc(place))
    if data.get("on_behalf"):
        lines.append(_("Contact: {contact}").format(contact=esc(data.get("contact") or "—")))
    elif data.get("anonymous"):
        lines.append(_("🙈 Anonymous: the grid team will not see who you are."))
    else:
        lines.append(_("👤 The grid worker handling it sees your name and phone."))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- turns


async def _forward(turn: Turn, after: str, **data: Any) -> None:
    """Go to the step after `after`, skipping what does not apply (or on to the summary when editing)."""
    ctx = turn.ctx
    merged = {**turn.draft.data, **data}
    steps = _sequence(merged)
    if merged.get("editing"):
        candidates = ["urgent", "duplicates", "summary"] if after == "category" else ["duplicates", "summary"]
    else:
        candidates = steps[steps.index(after) + 1 :]
    for step in candidates:
        if step == "urgent":
            category = report_service.categories(ctx.services).get(merged.get("category", ""))
            if category is None or not category.allows_urgent:
                merged["urgent"] = False
                continue
        if step == "duplicates" and (merged.get("on_behalf") or not await _has_duplicates(ctx, merged)):
            continue
        if step == "summary":
            merged["editing"] = False
        await turn.goto(step, **{**merged, "page": 0})
        return


async def _has_duplicates(ctx: Ctx, data: dict[str, Any]) -> bool:
    key = f"{data.get('category')}:{data.get('building_id')}"
    if data.get("different") == key:
        return False
    return bool(await report_service.similar_open(ctx.services, data["category"], int(data["building_id"])))


async def _back(turn: Turn) -> None:
    data = turn.draft.data
    step = "where" if turn.draft.step == "building" else turn.draft.step
    if data.get("editing") or step == "summary":
        await turn.goto("summary")
        return
    steps = _sequence(data)
    earlier = [s for s in steps[: steps.index(step)] if s != "duplicates"]
    category = report_service.categories(turn.ctx.services).get(data.get("category", ""))
    if "urgent" in earlier and (category is None or not category.allows_urgent):
        earlier.remove("urgent")
    if earlier:
        await turn.goto(earlier[-1], page=0)


async def on_turn(turn: Turn) -> None:
    ctx, draft, action = turn.ctx, turn.draft, turn.action
    _ = ctx._
    step = draft.step
    if ctx.person is None:
        await end_flow(ctx, draft)
        return
    if action == "cancel":
        await end_flow(ctx, draft)
        await ctx.show(_("Cancelled. Nothing was sent."))
    elif action == "back":
        await _back(turn)
    elif step == "channel" and action == "ch" and turn.args and turn.args[0] in {c.value for c in CHANNELS}:
        await _forward(turn, "channel", channel=turn.args[0])
    elif step == "category" and action == "cat" and turn.args:
        await _choose_category(turn, turn.args[0])
    elif step == "description":
        await _describe(turn)
    elif step == "photos":
        await _photos(turn)
    elif step in {"where", "building"} and turn.location is not None:
        await _located(turn, turn.location.latitude, turn.location.longitude)
    elif step == "where" and action == "home" and ctx.person.building_id is not None:
        await _forward(
            turn, "where", building_id=ctx.person.building_id, unit=ctx.person.unit, lat=None, lon=None
        )
    elif step == "where" and action == "pick":
        await turn.goto("building", page=0)
    elif step == "building" and action == "pg":
        await turn.goto("building", page=turn.int_arg() or 0)
    elif step == "building" and action == "b" and (building_id := turn.int_arg()) is not None:
        await _choose_building(turn, building_id)
    elif step == "building" and turn.text:
        await _type_building(turn, turn.text)
    elif step == "urgent" and action == "urgent" and turn.args:
        await _forward(turn, "urgent", urgent=turn.args[0] == "1")
    elif step == "anonymous" and action == "anon" and turn.args:
        await _forward(turn, "anonymous", anonymous=turn.args[0] == "1")
    elif step == "contact" and (action == "skip" or turn.text):
        await _contact(turn)
    elif step == "duplicates" and action == "diff":
        await _forward(turn, "duplicates", different=f"{draft.data['category']}:{draft.data['building_id']}")
    elif step == "duplicates" and action == "fol" and (report_id := turn.int_arg()) is not None:
        await _follow(turn, report_id)
    elif step == "summary" and action == "confirm":
        await _confirm(turn)
    elif step == "summary" and action == "edit":
        await turn.goto("edit")
    elif (
        step == "edit"
        and action == "to"
        and turn.args
        and turn.args[0] in {"category", "description", "photos", "where", "summary"}
    ):
        await turn.goto(turn.args[0], editing=turn.args[0] != "summary", page=0)
    else:
        await not_understood(turn)


async def _choose_category(turn: Turn, code: str) -> None:
    if report_service.categories(turn.ctx.services).get(code) is None:
        await turn.ctx.answer(turn.ctx._(EXPIRED), alert=True)
        return
    await _forward(turn, "category", category=code)


async def _describe(turn: Turn) -> None:
    ctx = turn.ctx
    _ = ctx._
    message = turn.message
    if turn.action is not None or message is None:
        await not_understood(turn)
        return
    if message.voice is not None:
        await _forward(turn, "description", voice=message.voice.file_id, description=message.caption or "")
        return
    text = (message.text or message.caption or "").strip()
    if not text:
        await ctx.reply(
            _(
                "Please describe the problem in words, or send a voice note. Stickers can't be passed "
                "on to the grid team."
            )
        )
        return
    if len(text) > DESCRIPTION_MAX:
        await ctx.reply(
            _(
                "That is {n} characters; please keep the description under {limit}. You can add more "
                "later from /myreports."
            ).format(n=len(text), limit=DESCRIPTION_MAX)
        )
        return
    photos = list(turn.draft.data.get("photos", []))
    if message.photo and len(photos) < PHOTOS_MAX:
        photos.append(message.photo[-1].file_id)
    await _forward(turn, "description", description=text, photos=photos)


async def _photos(turn: Turn) -> None:
    ctx = turn.ctx
    message = turn.message
    if turn.action == "done":
        await _forward(turn, "photos")
        return
    if turn.action is not None or message is None or not message.photo:
        await ctx.reply(ctx._("Please send a photo, or press Done / Skip."))
        return
    photos = [*turn.draft.data.get("photos", []), message.photo[-1].file_id][:PHOTOS_MAX]
    if len(photos) >= PHOTOS_MAX:
        await _forward(turn, "photos", photos=photos)
    else:
        await turn.goto("photos", photos=photos)


async def _located(turn: Turn, lat: float, lon: float) -> None:
    ctx = turn.ctx
    building_id = await report_service.building_near(ctx.services, lat, lon)
    if building_id is None or not await _may_file_in(ctx, building_id, turn.draft):
        await ctx.reply(
            ctx._(
                "That place is outside our street, or too far from any building I know. Please "
                "pick the building."
            )
        )
        await turn.goto("building", page=0)
        return
    await _forward(turn, "where", building_id=building_id, unit=None, lat=lat, lon=lon)


async def _may_file_in(ctx: Ctx, building_id: int, draft: Draft) -> bool:
    person = ctx.person if draft.data.get("on_behalf") else None
    return building_id in {b[0] for b in await report_service.buildings(ctx.services, person)}


async def _choose_building(turn: Turn, building_id: int) -> None:
    if not await _may_file_in(turn.ctx, building_id, turn.draft):
        await turn.ctx.answer(
            turn.ctx._("That building is not in this street. Please pick it again."), alert=True
        )
        return
    home = turn.ctx.person.building_id if turn.ctx.person else None
    unit = (
        turn.ctx.person.unit
        if turn.ctx.person and home == building_id and not turn.draft.data.get("on_behalf")
        else None
    )
    await _forward(turn, "where", building_id=building_id, unit=unit, lat=None, lon=None)


async def _type_building(turn: Turn, text: str) -> None:
    ctx = turn.ctx
    person = ctx.person if turn.draft.data.get("on_behalf") else None
    wanted = text.strip().casefold()
    items = await report_service.buildings(ctx.services, person)
    matches = [b for b in items if wanted in {b[1].casefold(), b[2].casefold()}]
    if not matches:
        matches = [b for b in items if wanted and wanted in b[2].casefold()]
    if len(matches) == 1:
        await _choose_building(turn, matches[0][0])
        return
    await ctx.reply(
        ctx._("I couldn't find one building called “{text}”. Please pick it below.").format(
            text=esc(shorten(text, 64))
        )
    )
    await turn.goto("building", page=0)


def _clean_contact(text: str) -> str | None:
    contact = re.sub(r"\s+", " ", text).strip()
    return contact if 0 < len(contact) <= CONTACT_MAX else None


async def _contact(turn: Turn) -> None:
    if turn.action == "skip":
        await _forward(turn, "contact", contact=None)
        return
    contact = _clean_contact(turn.text or "")
    if contact is None:
        await turn.ctx.reply(
            turn.ctx._("One line, up to {limit} characters, please.").format(limit=CONTACT_MAX)
        )
        return
    await _forward(turn, "contact", contact=contact)


async def _follow(turn: Turn, report_id: int) -> None:
    ctx = turn.ctx
    assert ctx.person is not None
    if turn.draft.data.get("on_behalf"):
        await not_understood(turn)
        return
    try:
        report = await report_service.follow_instead(
            ctx.services, ctx.person, report_id, telegram_id=ctx.user.id, draft_version=turn.draft.version
        )
    except Refused as refusal:
        await ctx.answer(refusal.text(ctx._), alert=True)
        return
    await ctx.show(
        ctx._("You now follow {number}. You will hear about every change. Nothing new was filed.").format(
            number=esc(report.number)
        )
    )


def _input(draft: Draft) -> ReportInput:
    data = draft.data
    contact = data.get("contact") or ""
    phone = re.search(r"\+?\d[\d\- ]{5,}\d", contact)
    return ReportInput(
        category=data["category"],
        description=data.get("description") or "",
        voice=data.get("voice"),
        photos=data.get("photos", []),
        building_id=int(data["building_id"]),
        unit=data.get("unit"),
        lat=data.get("lat"),
        lon=data.get("lon"),
        urgent=bool(data.get("urgent")),
        anonymous=bool(data.get("anonymous")),
        channel=Channel(data.get("channel", Channel.BOT.value)),
        contact_name=(contact.replace(phone.group(0), "").strip(" ,;") if phone else contact) or None,
        contact_phone=re.sub(r"[\s\-]", "", phone.group(0)) if phone else None,
    )


async def _confirm(turn: Turn) -> None:
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    assert ctx.person is not None
    behalf = bool(draft.data.get("on_behalf"))
    text = await summary(ctx, draft)
    try:
        filed = await report_service.submit_report(
            ctx.services,
            None if behalf else ctx.person,
            _input(draft),
            telegram_id=ctx.user.id,
            draft_version=draft.version,
            filed_by=ctx.person if behalf else None,
        )
    except Refused as refusal:
        await ctx.answer(refusal.text(_), alert=True)
        return
    report = filed.report
    await ctx.show(text)
    ack = [_("✅ Report <b>{number}</b> received.").format(number=esc(report.number))]
    if report.accept_by is not None and report.fix_by is not None:
        ack.append(
            _("Expected: accepted by {accept_by}, fixed by {fix_by}.").format(
                accept_by=moment(ctx, report.accept_by), fix_by=moment(ctx, report.fix_by)
            )
        )
    else:
        ack.append(_("It will be passed to the grid team as soon as one is set up."))
    if not behalf:
        ack.append(_("You will hear about every change. See it any time in /myreports."))
    await ctx.reply("\n".join(ack), menu.main_menu(ctx))


def register(application: Application) -> None:
    register_flow(application, FLOW, Flow(on_turn, _view, hint=DIDNT_UNDERSTAND))
    menu.add_command(
        application,
        menu.Command(
            "report",
            N_("Report a problem to your grid team"),
            cmd_report,
            menu_label=N_("📝 Report a problem"),
            order=10,
        ),
    )

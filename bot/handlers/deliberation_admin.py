"""Organizers and street admins run topics: /topics (proposals to take up or decline, the topics of their
communities), a guided flow to set a topic up and announce it, stakeholder invites, answers to questions,
opening and closing by hand (the timers do it otherwise), secrecy before the first ballot, the outcome
statement and follow-ups. /escalate turns a report into a topic (team leads, organizers, admins).

Buttons carry ids only (`dva:<action>:<id>`); every press re-checks on the server that this person runs
this topic and that it is still in the state the button was made for.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telegram.ext import Application, CallbackQueryHandler

from bot.clock import from_db, to_db
from bot.domain.deliberation import (
    ANSWER_MAX,
    ATTACHMENTS_MAX,
    BACKGROUND_MAX,
    FOLLOWUP_MAX,
    OPTIONS_MAX,
    OUTCOME_MAX,
    QUORUM_PRESETS,
    REASON_MAX,
    TITLE_MAX,
    BallotType,
    Rules,
    Topic,
    TopicState,
    Track,
    Visibility,
    VoteUnit,
    manages,
    parse_options,
    parse_quorum,
    parse_review_day,
)
from bot.domain.people import Role
from bot.domain.volunteering import clean_text, parse_start
from bot.handlers import flows, menu
from bot.handlers.common import EXPIRED, Ctx
from bot.handlers.deliberation import VISIBILITY_LABELS, moment, rules_lines, topic_buttons, topic_text
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, not_understood, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.i18n import N_
from bot.services import deliberation as service
from bot.services.deliberation import ADMIN_CALLBACK, TRACK_LABELS, Setup, admin_data
from bot.services.reports import Refused
from bot.storage import structure
from bot.storage.drafts import Draft
from bot.ui.callbacks import int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline, paginated

SETUP_FLOW = "topic_setup"
INPUT_FLOW = "topic_input"
PER_PAGE = 6
STREET = 0  # the community choice meaning "the whole street"
TYPE_OR_PICK = N_("Please use the buttons, or type what the message asks for; /cancel stops.")
BALLOT_LABELS = {
    BallotType.YES_NO: N_("Yes / no / abstain"),
    BallotType.SINGLE: N_("One option"),
    BallotType.MULTI: N_("Up to k options"),
}
CLOSE_AFTER_DAYS = (1, 3, 7, 14)
NOT_ANNOUNCED = N_("No topic was announced.")
Row = list[tuple[str, str]]


# ---- /topics and the organizer's topic card ---------------------------------------------------------------


async def cmd_topics(ctx: Ctx) -> None:
    await _home(ctx, 0, fresh=True)


async def _home(ctx: Ctx, page: int, *, fresh: bool = False) -> None:
    _ = ctx._
    assert ctx.person is not None
    proposals = await service.proposals_for(ctx.services, ctx.person)
    topics = await service.managed_topics(ctx.services, ctx.person)
    rows, _page, _pages = paginated(
        topics, page, per_page=PER_PAGE, per_row=1,
        button=lambda t: (f"{_MARKS.get(t.state, '')} #{t.id} {t.title}"[:60], admin_data("t", t.id)),
        nav=lambda p: admin_data("h", p), counter=_("{page} of {pages}"))
    head: list[Row] = [[(_("➕ New topic"), admin_data("new", 0))]]
    if proposals:
        head.append([(_("💡 Proposals waiting ({count})").format(count=len(proposals)), admin_data("p", 0))])
    text = _("<b>🗂 Deliberation topics</b>\n📝 being set up · 🆕 announced · 🗳 open · ✔️ closed · ✖️ called off\n"
             "To turn a report into a topic, send /escalate.")
    markup = inline([*head, *rows])
    await ctx.display(text, markup, fresh=fresh)


_MARKS = {TopicState.DRAFT: "📝", TopicState.ANNOUNCED: "🆕", TopicState.OPEN: "🗳", TopicState.CLOSED: "✔️",
          TopicState.CANCELLED: "✖️"}


async def _proposals(ctx: Ctx, page: int) -> None:
    _ = ctx._
    assert ctx.person is not None
    proposals = await service.proposals_for(ctx.services, ctx.person)
    rows, _page, _pages = paginated(
        proposals, page, per_page=PER_PAGE, per_row=1, button=lambda t: (f"💡 #{t.id} {t.title}"[:60],
                                                                         admin_data("t", t.id)),
        nav=lambda p: admin_data("p", p), counter=_("{page} of {pages}"))
    text = _("<b>💡 Proposals from residents</b>\nTake one up as a small issue or a community consultation, or "
             "decline it with a reason the resident will read.") if proposals else _("No proposals are waiting.")
    await ctx.show(text, inline([*rows, [(_("‹ Topics"), admin_data("h", 0))]]))


async def _card(ctx: Ctx, topic_id: int, note: str = "") -> None:
    _ = ctx._
    assert ctx.person is not None
    topic = await service.managed_topic(ctx.services, ctx.person, topic_id)
    tally = await service.results(ctx.services, topic, has_voted=False)
    text = await topic_text(ctx, topic, vote=None, tally=tally, note=note)
    rows: list[Row] = []
    state = topic.state
    if state is TopicState.PROPOSED:
        rows += [[(_("✅ Take up: small issue"), admin_data("acc", topic.id, 1))],
                 [(_("✅ Take up: community consultation"), admin_data("acc", topic.id, 2))],
                 [(_("❌ Decline"), admin_data("dec", topic.id))]]
    if state is TopicState.DRAFT:
        rows.append([(_("⚙️ Set up and announce"), admin_data("su", topic.id))])
    if state is TopicState.ANNOUNCED:
        rows.append([(_("▶️ Open voting now"), admin_data("op", topic.id))])
    if state is TopicState.OPEN:
        rows.append([(_("⏹ Close voting now"), admin_data("cl", topic.id))])
    if topic.track is Track.SMALL and state in (TopicState.DRAFT, TopicState.ANNOUNCED):
        rows.append([(_("🔗 Invite a stakeholder"), admin_data("inv", topic.id))])
    if state in (TopicState.ANNOUNCED, TopicState.OPEN):
        secret = topic.rules.anonymous
        rows.append([(_("👁 Make ballots named") if secret else _("🕶 Make ballots secret"),
                      admin_data("an", topic.id, 0 if secret else 1))])
        waiting = await service.open_questions(ctx.services, topic.id)
        rows.append([(_("❓ Questions to answer ({count})").format(count=len(waiting)), admin_data("qs", topic.id))])
    if state is TopicState.CLOSED and topic.outcome_at is None:
        rows.append([(_("📜 Publish the outcome"), admin_data("out", topic.id))])
    if topic.outcome_at is not None:
        rows.append([(_("📣 Post a follow-up"), admin_data("fu", topic.id))])
    if state in (TopicState.DRAFT, TopicState.ANNOUNCED):
        rows.append([(_("✖️ Call off"), admin_data("x", topic.id))])
    rows.append([(_("‹ Topics"), admin_data("h", 0))])
    await ctx.show(text, inline(rows))


async def _confirm(ctx: Ctx, topic_id: int, action: str) -> None:
    """Closing early and calling off cannot be undone: ask once more."""
    _ = ctx._
    assert ctx.person is not None
    topic = await service.managed_topic(ctx.services, ctx.person, topic_id)
    question = (_("Close voting on #{id} “{title}” now? Nobody can vote after this.") if action == "cly"
                else _("Call off #{id} “{title}”? Those already told will hear it."))
    await ctx.show(question.format(id=topic.id, title=esc(topic.title)),
                   inline([[(_("Yes"), admin_data(action, topic.id)), (_("No"), admin_data("t", topic.id))]]))


async def _act(ctx: Ctx, topic_id: int, action: str, arg: int | None) -> None:
    """The one-tap actions; each use case re-checks rights and state."""
    _ = ctx._
    assert ctx.person is not None
    person, services = ctx.person, ctx.services
    if action == "acc" and arg in (1, 2):
        await service.accept_proposal(services, person, topic_id, Track.SMALL if arg == 1 else Track.BIG)
        await _card(ctx, topic_id, _("✅ Taken up. Set it up and announce it when ready."))
    elif action == "op":
        await service.open_now(services, person, topic_id)
        await _card(ctx, topic_id, _("🗳 Voting is open; everyone eligible has been told."))
    elif action == "cly":
        await service.close_now(services, person, topic_id)
        await _card(ctx, topic_id, _("⏹ Voting is closed."))
    elif action == "xy":
        await service.cancel_topic(services, person, topic_id)
        await _card(ctx, topic_id, _("✖️ Called off."))
    elif action == "an" and arg in (0, 1):
        await service.set_anonymous(services, person, topic_id, bool(arg))
        await _card(ctx, topic_id, _("🕶 Ballots are now secret.") if arg else _("👁 Ballots are now named."))
    elif action == "inv":
        token = await service.invite_stakeholder(services, person, topic_id)
        link = f"https://t.me/{ctx.context.bot.username}?start={token}"
        await ctx.reply(_("Invitation for a stakeholder of topic #{id} (property management, owners' committee…). "
                          "Send this link to that person; it works once and expires in {days} days:\n{link}").format(
            id=topic_id, days=services.settings.invite_ttl_days, link=esc(link)))
    else:
        raise Refused(EXPIRED)


async def _questions(ctx: Ctx, topic_id: int) -> None:
    _ = ctx._
    assert ctx.person is not None
    topic = await service.managed_topic(ctx.services, ctx.person, topic_id)
    waiting = await service.open_questions(ctx.services, topic.id)
    lines = [_("<b>❓ Questions to answer</b> · #{id} {title}").format(id=topic.id, title=esc(topic.title))]
    rows: list[Row] = []
    for n, q in enumerate(waiting[:8], start=1):
        lines.append(f"{n}. {esc(q.question[:400])}")
        rows.append([(_("✍️ Answer {n}").format(n=n), admin_data("qa", q.id))])
    if not waiting:
        lines.append(_("All questions are answered."))
    rows.append([(_("‹ Back"), admin_data("t", topic.id))])
    await ctx.show("\n\n".join(lines), inline(rows))


async def _route(ctx: Ctx, parts: list[str]) -> None:
    person = ctx.person
    if person is None or not person.onboarded or not service.manages_anything(person):
        raise Refused(service.NOT_MANAGER)
    action = parts[0] if parts else ""
    target = int_part(parts, 1)
    if target is None:
        raise Refused(EXPIRED)
    if action == "h":
        await _home(ctx, target)
    elif action == "p":
        await _proposals(ctx, target)
    elif action == "new":
        await _start_setup(ctx, None)
    elif action == "t":
        await _card(ctx, target)
    elif action == "qs":
        await _questions(ctx, target)
    elif action in {"cl", "x"}:
        await _confirm(ctx, target, action + "y")
    elif action == "su":
        await _start_setup(ctx, await service.managed_topic(ctx.services, person, target))
    elif action in {"dec", "fu", "out"}:
        topic = await service.managed_topic(ctx.services, person, target)
        step = {"dec": "decline", "fu": "followup", "out": "decision"}[action]
        await show(ctx, new_draft(ctx, INPUT_FLOW, step, topic_id=topic.id, title=topic.title))
    elif action == "qa":
        question = await service.question_of(ctx.services, person, target)
        await show(ctx, new_draft(ctx, INPUT_FLOW, "answer", question_id=question.id, topic_id=question.topic_id,
                                  question=question.question[:500]))
    else:
        await _act(ctx, target, action, int_part(parts, 2))


# ---- setting a topic up: a guided flow --------------------------------------------------------------------


async def _areas(ctx: Ctx, track: str | None) -> list[tuple[int, str]]:
    """The communities this person runs (and the whole street for a street-wide consultation)."""
    assert ctx.person is not None
    person = ctx.person
    found = [(c.id, c.name) for c in await structure.communities(ctx.services.db) if manages(person, c.id)]
    if track == Track.BIG.value and manages(person, None):
        found.insert(0, (STREET, ctx._("the whole street")))
    return found


async def _start_setup(ctx: Ctx, draft_topic: Topic | None) -> None:
    """A new topic, or a draft (a proposal taken up, an escalated report) with what it already has."""
    data: dict[str, Any] = {"ballot": BallotType.YES_NO.value, "unit": VoteUnit.PERSON.value, "anonymous": False,
                            "final": False, "visibility": Visibility.AFTER_CLOSE.value, "quorum": 0, "files": [],
                            "buildings": [], "page": 0}
    if draft_topic is not None:
        if draft_topic.state is not TopicState.DRAFT or draft_topic.track is None:
            raise Refused(service.STALE)
        data.update(draft_id=draft_topic.id, track=draft_topic.track.value, preset_track=True,
                    title=draft_topic.title, background=draft_topic.background,
                    buildings=draft_topic.building_ids)
        if draft_topic.community_id is not None:
            data.update(community_id=draft_topic.community_id, preset_community=True)
    draft = new_draft(ctx, SETUP_FLOW, "track", **data)
    await show(ctx, draft.model_copy(update={"step": _steps(draft.data)[0]}))


def _steps(d: dict[str, Any]) -> list[str]:
    steps = [] if d.get("preset_track") else ["track"]
    if not d.get("preset_community") and not d.get("auto_community"):
        steps.append("community")
    if d.get("track") == Track.SMALL.value:
        steps.append("buildings")
    steps += ["title", "background", "ballot"]
    if d.get("ballot") != BallotType.YES_NO.value:
        steps.append("options")
    if d.get("ballot") == BallotType.MULTI.value:
        steps.append("k")
    return [*steps, "rules", "opens", "closes", "files", "confirm"]


def _rules(d: dict[str, Any]) -> Rules:
    return Rules(ballot_type=BallotType(d["ballot"]), max_choices=int(d.get("k") or 1), vote_unit=VoteUnit(d["unit"]),
                 anonymous=bool(d["anonymous"]), final=bool(d["final"]), visibility=Visibility(d["visibility"]),
                 quorum_percent=int(d["quorum"])).normalized()


def _setup_of(d: dict[str, Any]) -> Setup:
    community = d.get("community_id")
    return Setup(
        track=Track(d["track"]), community_id=None if community in (None, STREET) else int(community),
        title=d["title"], background=d["background"], rules=_rules(d),
        opens_at=from_db(d["opens_at"]) if d.get("opens_at") else None, closes_at=from_db(d["closes_at"]),
        options=list(d.get("options") or []), building_ids=[int(b) for b in d.get("buildings") or []],
        attachments=[(kind, file_id, name) for kind, file_id, name in d.get("files") or []],
    )


PROMPTS = {
    "title": N_("What is the topic? Type its title (up to {limit} characters)."),
    "background": N_("Type the background people need to decide: the matter, the facts, the costs (up to {limit} "
                     "characters)."),
    "options": N_("Type the options, one per line (2 to {limit})."),
    "opens": N_("When does voting open? Until then people read the background and ask questions. Type a date and "
                "time, for example 2026-05-10 09:00 or 5-10 9:00, or open it at once."),
    "closes": N_("When does voting close? Pick a length or type a date and time."),
    "files": N_("Attach photos or documents people should see (up to {limit}): send them now. {count} attached."),
}


async def _setup_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    d, step = draft.data, draft.step
    nav = flows.back_row(ctx)
    head = _("<b>New topic</b>") if not d.get("draft_id") else _("<b>Topic #{id}</b>").format(id=d["draft_id"])
    if step == "track":
        return head + "\n" + _("Which track?"), [[(_(TRACK_LABELS[Track.SMALL]), "tr:small")],
                                                [(_(TRACK_LABELS[Track.BIG]), "tr:big")], nav], None
    if step == "community":
        areas = await _areas(ctx, d.get("track"))
        rows, _page, _pages = paginated(areas, int(d.get("page", 0)), per_page=8, per_row=2,
                                        button=lambda a: (a[1][:40], f"c:{a[0]}"), nav=lambda p: f"pg:{p}",
                                        counter=_("{page} of {pages}"))
        return head + "\n" + _("Which community is it for?"), [*rows, nav], None
    if step == "buildings":
        items = await structure.buildings_in_community(ctx.services.db, int(d["community_id"]))
        chosen = set(d.get("buildings") or [])
        rows, _page, _pages = paginated(items, int(d.get("page", 0)), per_page=8, per_row=2,
                                        button=lambda b: ((("☑️ " if b.id in chosen else "⬜ ") + b.name)[:40],
                                                          f"b:{b.id}"),
                                        nav=lambda p: f"pg:{p}", counter=_("{page} of {pages}"))
        more = [[(_("Next ›"), "next")]] if chosen else []
        return (head + "\n" + _("Which buildings does it concern? Their verified residents decide ({count} picked).")
                .format(count=len(chosen)), [*rows, *more, nav], None)
    if step in ("title", "background", "options"):
        limit = {"title": TITLE_MAX, "background": BACKGROUND_MAX, "options": OPTIONS_MAX}[step]
        text = head + "\n" + _(PROMPTS[step]).format(limit=limit)
        current = d.get(step)
        keep: list[list[Button]] = []
        if current:
            shown = "\n".join(current) if isinstance(current, list) else current
            text += "\n\n" + _("Now: {current}").format(current=esc(shown[:1500]))
            keep = [[(_("Keep it"), "keep")]]
        return text, [*keep, nav], None
    if step == "ballot":
        return head + "\n" + _("How do people vote?"), [
            *[[(_(BALLOT_LABELS[b]), f"bt:{b.value}")] for b in BallotType], nav], None
    if step == "k":
        count = len(d.get("options") or [])
        return head + "\n" + _("How many options may each person pick at most?"), [
            [(str(k), f"k:{k}") for k in range(2, count + 1)], nav], None
    if step == "rules":
        return _rules_view(ctx, d, head, nav)
    if step == "opens":
        return head + "\n" + _(PROMPTS["opens"]), [[(_("▶️ Open at once"), "now")], nav], None
    if step == "closes":
        quick = [(_("1 day") if days == 1 else _("{days} days").format(days=days), f"d:{days}")
                 for days in CLOSE_AFTER_DAYS]
        return head + "\n" + _(PROMPTS["closes"]), [quick, nav], None
    if step == "files":
        count = len(d.get("files") or [])
        return head + "\n" + _(PROMPTS["files"]).format(limit=ATTACHMENTS_MAX, count=count), [
            [(_("Next ›"), "next")], nav], None
    return await _review(ctx, d), [[(_("📣 Announce"), "announce")], nav], None


def _rules_view(ctx: Ctx, d: dict[str, Any], head: str, nav: list[Button]) -> View:
    _ = ctx._
    rules = _rules(d)
    rows: list[list[Button]] = [
        [(_("Count: one vote per household") if rules.vote_unit is VoteUnit.HOUSEHOLD
          else _("Count: one vote per person"), "unit")],
        [(_("🕶 Secret ballot: on") if rules.anonymous else _("Secret ballot: off"), "anon")],
    ]
    if not rules.anonymous:
        rows.append([(_(VISIBILITY_LABELS[rules.visibility]), "vis")])
        rows.append([(_("Ballots: final once cast") if rules.final else _("Ballots: changeable until close"), "final")])
    rows.append([(_("Quorum: {percent}%").format(percent=rules.quorum_percent), "quo")])
    rows.append([(_("Next ›"), "next")])
    text = (head + "\n" + _("How is it counted? Tap a line to change it; type a number to set another quorum.")
            + "\n\n" + "\n".join(rules_lines(ctx, _preview(d, ctx.now))))
    return text, [*rows, nav], None


def _preview(d: dict[str, Any], now: datetime) -> Topic:
    """The topic as it would be announced, for the views that describe it."""
    setup = _setup_of({**d, "title": d.get("title") or "—", "background": d.get("background") or "",
                       "closes_at": d.get("closes_at") or to_db(now)})
    return Topic(id=int(d.get("draft_id") or 0), track=setup.track, state=TopicState.DRAFT,
                 community_id=setup.community_id, title=setup.title, background=setup.background, rules=setup.rules,
                 options=setup.options, building_ids=setup.building_ids, opens_at=setup.opens_at,
                 closes_at=setup.closes_at, created_at=now)


async def _review(ctx: Ctx, d: dict[str, Any]) -> str:
    _ = ctx._
    opens = _("at once") if not d.get("opens_at") else moment(ctx, from_db(d["opens_at"]))
    lines = [_("<b>Check and announce</b>"),
             _("🗓 Voting opens {opens} and closes {closes}.").format(opens=opens,
                                                                     closes=moment(ctx, from_db(d["closes_at"])))]
    if d.get("files"):
        lines.append(_("📎 {count} attachments.").format(count=len(d["files"])))
    return await topic_text(ctx, _preview(d, ctx.now), vote=None, tally=None, note="\n".join(lines))


def _cycle(values: tuple[Any, ...], current: Any) -> Any:
    return values[(values.index(current) + 1) % len(values)] if current in values else values[0]


async def _setup_turn(turn: Turn) -> None:
    ctx, d, step = turn.ctx, turn.draft.data, turn.draft.step
    if ctx.person is None or not service.manages_anything(ctx.person):
        await flows.stop(turn, NOT_ANNOUNCED)
        return
    if await flows.cancel_or_back(turn, flows.step_before(_steps(d), step), NOT_ANNOUNCED, page=0):
        return
    handler = _SETUP_STEPS.get(step)
    if handler is None or not await handler(turn):
        await not_understood(turn)


async def _advance(turn: Turn, **data: Any) -> None:
    """Save `data` and go to the step after the current one (the sequence may change with the data)."""
    merged = {**turn.draft.data, **data}
    steps = _steps(merged)
    following = steps[min(steps.index(turn.draft.step) + 1, len(steps) - 1)] if turn.draft.step in steps else steps[0]
    await turn.goto(following, **data, page=0)


async def _problem(turn: Turn, text: str) -> bool:
    """A step handler's "handled, but asked again" answer."""
    await flows.ask_again(turn, text)
    return True


async def _step_track(turn: Turn) -> bool:
    if turn.action != "tr" or not turn.args or turn.args[0] not in {t.value for t in Track}:
        return False
    track = turn.args[0]
    areas = await _areas(turn.ctx, track)
    auto = {"auto_community": True, "community_id": areas[0][0]} if len(areas) == 1 else {"auto_community": False}
    await _advance(turn, track=track, buildings=[], **auto)
    return True


async def _step_community(turn: Turn) -> bool:
    if turn.action == "pg":
        await turn.goto("community", page=turn.int_arg() or 0)
        return True
    picked = turn.int_arg() if turn.action == "c" else None
    if picked is None or picked not in dict(await _areas(turn.ctx, turn.draft.data.get("track"))):
        return False
    await _advance(turn, community_id=picked, buildings=[])
    return True


async def _step_buildings(turn: Turn) -> bool:
    d = turn.draft.data
    if turn.action == "pg":
        await turn.goto("buildings", page=turn.int_arg() or 0)
        return True
    if turn.action == "next" and d.get("buildings"):
        await _advance(turn)
        return True
    building = turn.int_arg() if turn.action == "b" else None
    inside = {b.id for b in await structure.buildings_in_community(turn.ctx.services.db, int(d["community_id"]))}
    if building is None or building not in inside:
        return False
    chosen = list(d.get("buildings") or [])
    chosen = [b for b in chosen if b != building] if building in chosen else [*chosen, building]
    await turn.goto("buildings", buildings=chosen)
    return True


async def _step_text(turn: Turn) -> bool:
    """Title, background and options: typed, or kept as they are."""
    _ = turn.ctx._
    step, d = turn.draft.step, turn.draft.data
    if turn.action == "keep" and d.get(step):
        await _advance(turn)
        return True
    if turn.action is not None or not turn.text:
        return False
    if step == "options":
        options = parse_options(turn.text)
        if options is None or not 2 <= len(options) <= OPTIONS_MAX:
            return await _problem(turn, _("Type 2 to {limit} options, one per line, each up to {chars} characters.")
                                  .format(limit=OPTIONS_MAX, chars=60))
        k = min(int(d.get("k") or 2), len(options))
        await _advance(turn, options=options, k=k)
        return True
    limit = TITLE_MAX if step == "title" else BACKGROUND_MAX
    value = clean_text(turn.text, limit, multiline=step == "background")
    if value is None:
        return await _problem(turn, _("Please type up to {limit} characters.").format(limit=limit))
    await _advance(turn, **{step: value})
    return True


async def _step_ballot(turn: Turn) -> bool:
    if turn.action != "bt" or not turn.args or turn.args[0] not in {b.value for b in BallotType}:
        return False
    await _advance(turn, ballot=turn.args[0])
    return True


async def _step_k(turn: Turn) -> bool:
    k = turn.int_arg() if turn.action == "k" else None
    if k is None or not 2 <= k <= len(turn.draft.data.get("options") or []):
        return False
    await _advance(turn, k=k)
    return True


async def _step_rules(turn: Turn) -> bool:
    d = turn.draft.data
    if turn.action is None and turn.text:
        quorum = parse_quorum(turn.text)
        if quorum is None:
            return await _problem(turn, turn.ctx._("A quorum is a share from 0 to 100, for example 60."))
        await turn.goto("rules", quorum=quorum)
        return True
    changes: dict[str, Any] = {
        "unit": {"unit": VoteUnit.PERSON.value if d["unit"] == VoteUnit.HOUSEHOLD.value else VoteUnit.HOUSEHOLD.value},
        "anon": {"anonymous": not d["anonymous"]},
        "vis": {"visibility": _cycle(tuple(v.value for v in Visibility), d["visibility"])},
        "final": {"final": not d["final"]},
        "quo": {"quorum": _cycle(QUORUM_PRESETS, int(d["quorum"]))},
    }
    if turn.action == "next":
        await _advance(turn)
    elif turn.action in changes:
        await turn.goto("rules", **changes[turn.action])
    else:
        return False
    return True


async def _step_opens(turn: Turn) -> bool:
    ctx = turn.ctx
    if turn.action == "now":
        await _advance(turn, opens_at=None)
        return True
    if turn.action is not None or not turn.text:
        return False
    opens = parse_start(turn.text, ctx.now, ctx.services.settings.tz)
    if opens is None or opens <= ctx.now:
        return await _problem(turn, ctx._("Please type a date and time in the future, for example 5-10 9:00."))
    await _advance(turn, opens_at=to_db(opens))
    return True


async def _step_closes(turn: Turn) -> bool:
    ctx, d = turn.ctx, turn.draft.data
    start = from_db(d["opens_at"]) if d.get("opens_at") else ctx.now
    days = turn.int_arg() if turn.action == "d" else None
    if days in CLOSE_AFTER_DAYS:
        assert days is not None
        closes: datetime | None = start + timedelta(days=days)
    elif turn.action is None and turn.text:
        closes = parse_start(turn.text, ctx.now, ctx.services.settings.tz)
    else:
        return False
    if closes is None or closes - start < timedelta(hours=1):
        return await _problem(turn, ctx._("Please type a date and time at least an hour after voting opens."))
    await _advance(turn, closes_at=to_db(closes))
    return True


async def _step_files(turn: Turn) -> bool:
    d, message = turn.draft.data, turn.message
    if turn.action == "next":
        await _advance(turn)
        return True
    if turn.action is not None or message is None:
        return False
    files = list(d.get("files") or [])
    if message.photo:
        files.append(["photo", message.photo[-1].file_id, (message.caption or "")[:100]])
    elif message.document:
        files.append(["document", message.document.file_id, (message.document.file_name or "")[:100]])
    else:
        return False
    if len(files) > ATTACHMENTS_MAX:
        return await _problem(turn, turn.ctx._("At most {limit} attachments.").format(limit=ATTACHMENTS_MAX))
    await turn.goto("files", files=files)
    return True


async def _step_confirm(turn: Turn) -> bool:
    ctx, draft = turn.ctx, turn.draft
    if turn.action != "announce":
        return False
    assert ctx.person is not None
    if not await end_flow(ctx, draft):
        return True  # a double tap: the first one announced it
    try:
        topic = await service.publish(ctx.services, ctx.person, _setup_of(draft.data), draft.data.get("draft_id"))
    except Refused as refused:
        return await _problem(turn, refused.text(ctx._))
    note = (ctx._("🗳 Announced, and voting is open.") if topic.state is TopicState.OPEN
            else ctx._("📣 Announced. Voting opens {opens}.").format(opens=moment(ctx, topic.opens_at or ctx.now)))
    await _card(ctx, topic.id, note)
    return True


_SETUP_STEPS = {
    "track": _step_track, "community": _step_community, "buildings": _step_buildings, "title": _step_text,
    "background": _step_text, "options": _step_text, "ballot": _step_ballot, "k": _step_k, "rules": _step_rules,
    "opens": _step_opens, "closes": _step_closes, "files": _step_files, "confirm": _step_confirm,
}


# ---- typed answers: decline, answer, follow-up, outcome, escalation --------------------------------------------

INPUT_PROMPTS = {
    "decline": (N_("Why is proposal #{id} “{title}” not taken up? The resident will read it (up to {limit} "
                   "characters)."), REASON_MAX),
    "answer": (N_("Question on topic #{id}:\n{question}\n\nType the answer; it goes to everyone deciding the topic (up "
                  "to {limit} characters)."), ANSWER_MAX),
    "followup": (N_("Type an update on carrying out the decision of #{id} “{title}”; everyone who voted gets it and "
                    "may rate how it is going (up to {limit} characters)."), FOLLOWUP_MAX),
    "decision": (N_("<b>Outcome of #{id} “{title}”</b>\nWhat was decided? (up to {limit} characters)"), OUTCOME_MAX),
    "actions": (N_("What will be done, and by when? (up to {limit} characters)"), OUTCOME_MAX),
    "responsible": (N_("Who is responsible for carrying it out? (up to {limit} characters)"), OUTCOME_MAX),
    "review": (N_("On what date should the outcome be reviewed? Type a date, for example 2026-06-01 or 6-1; you "
                  "will be reminded that day."), 0),
    "escalate": (N_("Which report goes to deliberation? Type its number, for example R-2026-000123. Its building's "
                    "residents will decide; the report waits for the outcome."), 0),
}
OUTCOME_STEPS = ("decision", "actions", "responsible", "review", "publish")


async def cmd_escalate(ctx: Ctx) -> None:
    args = ctx.context.args or []
    if args:
        await _escalate(ctx, args[0])
        return
    await show(ctx, new_draft(ctx, INPUT_FLOW, "escalate"))


async def _escalate(ctx: Ctx, number: str) -> None:
    assert ctx.person is not None
    try:
        topic = await service.escalate_report(ctx.services, ctx.person, number[:40])
    except Refused as refused:
        await ctx.reply(refused.text(ctx._))
        return
    text = ctx._("🗳 Report {number} is now topic #{id}; its reporter and followers were told.").format(
        number=esc(number.strip().upper()), id=topic.id)
    markup = None
    if manages(ctx.person, topic.community_id):
        markup = inline([[(ctx._("⚙️ Set up and announce"), admin_data("su", topic.id))]])
    else:
        text += "\n" + ctx._("The community's organizers will set it up.")
    await ctx.reply(text, markup)


async def _input_view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    d, step = draft.data, draft.step
    nav: list[Button] = [(_("Cancel"), "cancel")]
    if step in OUTCOME_STEPS[1:]:
        nav.insert(0, (_("‹ Back"), "back"))
    if step == "publish":
        review = moment(ctx, from_db(d["review_at"]))
        text = _("<b>Outcome of #{id} “{title}”</b>\nDecision: {decision}\nActions: {actions}\nResponsible: "
                 "{responsible}\nReview: {review}\n\nPublish it to everyone who was eligible?").format(
            id=d["topic_id"], title=esc(d["title"]), decision=esc(d["decision"]), actions=esc(d["actions"]),
            responsible=esc(d["responsible"]), review=review)
        return text, [[(_("📜 Publish"), "publish")], nav], None
    template, limit = INPUT_PROMPTS[step]
    return _(template).format(id=d.get("topic_id", ""), title=esc(d.get("title", "")),
                              question=esc(d.get("question", "")), limit=limit), [nav], None


async def _input_turn(turn: Turn) -> None:
    ctx, draft, action = turn.ctx, turn.draft, turn.action
    _ = ctx._
    step = draft.step
    if ctx.person is None or action == "cancel":
        await flows.stop(turn, N_("Nothing was changed."))
        return
    if action == "back" and step in OUTCOME_STEPS[1:]:
        await turn.goto(OUTCOME_STEPS[OUTCOME_STEPS.index(step) - 1])
        return
    if step == "publish" and action == "publish":
        await _finish(turn, step)
        return
    if action is not None or not turn.text:
        await not_understood(turn)
        return
    text = turn.text.strip()
    limit = INPUT_PROMPTS[step][1]
    if limit and not 0 < len(text) <= limit:
        await _problem(turn, _("Please type up to {limit} characters.").format(limit=limit))
    elif step == "review":
        settings = ctx.services.settings
        review = parse_review_day(text, ctx.now, settings.tz, settings.work_day_start)
        if review is None:
            await _problem(turn, _("Please type a date after today, for example 6-1."))
        else:
            await turn.goto("publish", review_at=to_db(review))
    elif step in OUTCOME_STEPS:
        await turn.goto(OUTCOME_STEPS[OUTCOME_STEPS.index(step) + 1], **{step: text})
    else:
        await _finish(turn, step, text)


async def _finish(turn: Turn, step: str, text: str = "") -> None:
    """The last input of each purpose: run the use case once (a double tap finds the draft gone)."""
    ctx, draft = turn.ctx, turn.draft
    _ = ctx._
    assert ctx.person is not None
    d, person, services = draft.data, ctx.person, ctx.services
    if not await end_flow(ctx, draft):
        return
    if step == "escalate":
        await _escalate(ctx, text)
        return
    try:
        if step == "decline":
            await service.decline_proposal(services, person, int(d["topic_id"]), text)
            note = _("The proposal was declined; the resident has your reason.")
        elif step == "answer":
            await service.answer(services, person, int(d["question_id"]), text)
            note = _("💬 Answered: everyone deciding the topic gets the question and your answer.")
        elif step == "followup":
            await service.post_followup(services, person, int(d["topic_id"]), text)
            note = _("📣 The follow-up went to everyone who voted.")
        else:
            await service.publish_outcome(services, person, int(d["topic_id"]), decision=d["decision"],
                                          actions=d["actions"], responsible=d["responsible"],
                                          review_at=from_db(d["review_at"]))
            note = _("📜 The outcome is published; you will be reminded on the review date.")
    except Refused as refused:
        await ctx.reply(refused.text(ctx._))
        return
    await ctx.reply(note, inline([[(_("🗂 Manage the topic"), admin_data("t", d["topic_id"]))]]))


def register(application: Application) -> None:
    register_flow(application, SETUP_FLOW, Flow(_setup_turn, _setup_view, hint=TYPE_OR_PICK))
    register_flow(application, INPUT_FLOW, Flow(_input_turn, _input_view, hint=TYPE_OR_PICK))
    menu.add_command(application, menu.Command(
        "topics", N_("Deliberation topics: proposals, set-up, questions, outcomes"), cmd_topics,
        roles=frozenset({Role.ORGANIZER, Role.ADMIN}), order=37))
    menu.add_command(application, menu.Command(
        "escalate", N_("Turn a report into a deliberation topic"), cmd_escalate,
        roles=frozenset({Role.SECRETARY, Role.ORGANIZER, Role.ADMIN}), order=38))
    application.add_handler(
        CallbackQueryHandler(topic_buttons(_route), pattern=rf"^{ADMIN_CALLBACK}:"), group=COMMANDS
    )


"""Everyone who decides a topic: /votes (the topics I am eligible for), the topic card (background, options,
attachments, questions and answers, turnout, results when they may show), voting and changing a vote, rating
how a decision is carried out; and /propose, a resident's proposal to the community's organizers.

Buttons carry ids only (`dv:<action>:<topic>[:<choices as a bit mask>]`): every press re-reads the topic and
the person's place on its eligible list, and the service decides. A ballot's choices live only in the
voter's own buttons until cast — never in our drafts — and PTB's debug lines that would show them are
withheld from the log (`_WithholdBallots`).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.domain.deliberation import (
    BACKGROUND_MAX,
    PUBLIC_STATES,
    QUESTION_MAX,
    TITLE_MAX,
    BallotType,
    Panel,
    Tally,
    Topic,
    TopicState,
    Track,
    Visibility,
    VoteUnit,
    choices_of,
)
from bot.handlers import flows, menu
from bot.handlers.common import EXPIRED, ButtonHandler, Ctx
from bot.handlers.flows import Button, Flow, Turn, View, end_flow, new_draft, register_flow, show
from bot.handlers.groups import COMMANDS
from bot.i18n import N_
from bot.services import deliberation as service
from bot.services.deliberation import CALLBACK, TRACK_LABELS, CastOutcome, MyVote, Turnout, button_data
from bot.services.reports import Refused
from bot.storage import structure
from bot.storage.drafts import Draft
from bot.ui.callbacks import decode, int_part
from bot.ui.html import esc
from bot.ui.keyboards import inline, paginated
from bot.ui.timefmt import format_moment, format_relative

FLOW = "deliberation"
PER_PAGE = 6
TEXT_LIMIT = 4000
YES_NO_LABELS = (N_("👍 Yes"), N_("👎 No"), N_("⚪ Abstain"))
STATE_MARKS = {TopicState.ANNOUNCED: "🆕", TopicState.OPEN: "🗳", TopicState.CLOSED: "✔️"}
PANEL_LABELS = {Panel.REPRESENTATIVE: N_("🎖 Representatives"), Panel.STAKEHOLDER: N_("🤝 Stakeholders")}
VISIBILITY_LABELS = {
    Visibility.ALWAYS: N_("Results show while voting runs."),
    Visibility.AFTER_VOTE: N_("Results show to each voter once they have voted."),
    Visibility.AFTER_CLOSE: N_("Results show after voting closes."),
}
Row = list[tuple[str, str]]


# ---- rendering shared with bot/handlers/deliberation_admin.py --------------------------------------------


def moment(ctx: Ctx, when: datetime) -> str:
    return format_moment(when, ctx.locale, ctx.services.settings.tz)


def option_label(ctx: Ctx, topic: Topic, option: int) -> str:
    if topic.rules.ballot_type is BallotType.YES_NO:
        return ctx._(YES_NO_LABELS[option - 1])
    return topic.options[option - 1]


def choices_text(ctx: Ctx, topic: Topic, choices: tuple[int, ...]) -> str:
    return ", ".join(option_label(ctx, topic, c) for c in choices)


async def scope_text(ctx: Ctx, topic: Topic) -> str:
    """Whom it concerns: the buildings of a small issue, the community (or street) of a consultation."""
    if topic.track is Track.SMALL and topic.building_ids:
        names = [place.building_name for place in
                 [await structure.place(ctx.services.db, b) for b in topic.building_ids] if place]
        return ", ".join(names)
    if topic.community_id is None:
        return ctx._("the whole street")
    community = await structure.community(ctx.services.db, topic.community_id)
    return community.name if community else ""


def phase_line(ctx: Ctx, topic: Topic) -> str:
    _ = ctx._
    if topic.state is TopicState.ANNOUNCED and topic.opens_at and topic.closes_at:
        return _("⏳ Before the vote: voting opens {opens} and closes {closes}.").format(
            opens=moment(ctx, topic.opens_at), closes=moment(ctx, topic.closes_at))
    if topic.state is TopicState.OPEN and topic.closes_at:
        return _("🗳 Voting is open until {closes} ({left}).").format(
            closes=moment(ctx, topic.closes_at), left=format_relative(topic.closes_at, ctx.now, ctx.locale))
    if topic.state is TopicState.CLOSED and topic.closed_at:
        return _("✔️ Voting closed {closed}.").format(closed=moment(ctx, topic.closed_at))
    if topic.state is TopicState.PROPOSED:
        return _("💡 A proposal waiting for an organizer.")
    if topic.state is TopicState.DRAFT:
        return _("📝 Being set up; not announced yet.")
    if topic.state is TopicState.DECLINED:
        return _("Not taken up: {reason}").format(reason=esc(topic.decline_reason or ""))
    return _("✖️ Called off.")


def rules_lines(ctx: Ctx, topic: Topic) -> list[str]:
    _ = ctx._
    rules = topic.rules
    if rules.ballot_type is BallotType.YES_NO:
        lines = [_("Ballot: yes / no / abstain.")]
    elif rules.ballot_type is BallotType.SINGLE:
        lines = [_("Ballot: pick one option.")]
    else:
        lines = [_("Ballot: pick up to {limit} options.").format(limit=rules.max_choices)]
    lines.append(_("One vote per household.") if rules.vote_unit is VoteUnit.HOUSEHOLD else _("One vote per person."))
    if rules.anonymous:
        lines.append(_("🕶 Secret ballot: nobody, staff included, can tell who voted for what. Ballots are final, "
                       "and results show after voting closes."))
    else:
        lines.append(_("Ballots are final once cast.") if rules.final
                     else _("You can change your vote until voting closes."))
        lines.append(_(VISIBILITY_LABELS[rules.visibility]))
    if rules.quorum_percent:
        lines.append(_("Quorum: {percent}% of those eligible must vote, or the result is not valid.").format(
            percent=rules.quorum_percent))
    return lines


def turnout_line(ctx: Ctx, topic: Topic, turnout: Turnout) -> str:
    _ = ctx._
    if topic.state is TopicState.ANNOUNCED:
        return _("👥 Eligible now: {eligible}.").format(eligible=turnout.eligible)
    template = (_("👥 Turnout: {voted} of {eligible} households ({percent}%).")
                if topic.rules.vote_unit is VoteUnit.HOUSEHOLD
                else _("👥 Turnout: {voted} of {eligible} ({percent}%)."))
    percent = 0 if not turnout.eligible else round(100 * turnout.voted / turnout.eligible)
    return template.format(voted=turnout.voted, eligible=turnout.eligible, percent=percent)


def results_lines(ctx: Ctx, topic: Topic, tally: Tally) -> list[str]:
    _ = ctx._
    final = topic.state is TopicState.CLOSED
    lines = [_("📊 <b>Results</b>") if final else _("📊 <b>Results so far</b>")]
    lines += [f"{esc(option_label(ctx, topic, c.option))}: {c.votes} ({c.percent}%)" for c in tally.counts]
    if tally.quorum_percent:
        lines.append(_("✅ Quorum of {quorum}% reached.").format(quorum=tally.quorum_percent) if tally.quorum_met
                     else _("⚠️ Quorum of {quorum}% not reached: the result is not valid.").format(
                         quorum=tally.quorum_percent))
    named = topic.rules.ballot_type is BallotType.YES_NO  # short labels; numbered options stay numbers here
    for panel in tally.panels:
        counts = " · ".join(f"{esc(option_label(ctx, topic, c.option))} {c.votes}" if named
                            else f"{c.option} → {c.votes}" for c in panel.counts)
        lines.append(_("{panel} ({ballots}): {counts}").format(panel=_(PANEL_LABELS[panel.panel]),
                                                              ballots=panel.ballots, counts=counts))
    return lines


def my_vote_line(ctx: Ctx, topic: Topic, vote: MyVote | None) -> str | None:
    _ = ctx._
    if vote is None or topic.state not in (TopicState.OPEN, TopicState.CLOSED):
        return None
    if not vote.cast:
        return _("You have not voted yet.") if topic.state is TopicState.OPEN else _("You did not vote.")
    if not vote.by_me:
        return _("✅ Your household has voted.")
    if vote.choices is None:
        return _("✅ You have voted. Your ballot is secret.")
    return _("✅ Your vote: {choice}").format(choice=esc(choices_text(ctx, topic, vote.choices)))


def outcome_lines(ctx: Ctx, topic: Topic) -> list[str]:
    _ = ctx._
    if topic.outcome_at is None or topic.review_at is None:
        return []
    return [_("📜 <b>Outcome</b>\nDecision: {decision}\nActions: {actions}\nResponsible: {responsible}\n"
              "Review: {review}").format(decision=esc(topic.outcome_decision or ""),
                                         actions=esc(topic.outcome_actions or ""),
                                         responsible=esc(topic.outcome_responsible or ""),
                                         review=moment(ctx, topic.review_at))]


def visible_length(text: str) -> int:
    """What Telegram counts against its limit: the text after our tags and entities are parsed."""
    return len(html.unescape(re.sub(r"</?b>", "", text)))


def fit(head: list[str], background: str, tail: list[str]) -> str:
    """Header, background, then the rest, within Telegram's limit: the background is shortened first, then
    the last parts (ratings, follow-ups, the outcome — each also came as its own message) are left out."""
    tail = list(tail)
    while visible_length("\n\n".join([*head, *tail])) > TEXT_LIMIT - 8 and tail:
        tail.pop()
    room = TEXT_LIMIT - visible_length("\n\n".join([*head, *tail])) - 8
    text = background if len(background) <= room else background[: max(room - 1, 0)] + "…"
    return "\n\n".join([*head, esc(text), *tail] if room > 1 and text else [*head, *tail])


async def topic_text(ctx: Ctx, topic: Topic, *, vote: MyVote | None, tally: Tally | None, note: str = "") -> str:
    """The topic as its card shows it; results only when the service returned them."""
    _ = ctx._
    scope = await scope_text(ctx, topic)
    track = _(TRACK_LABELS[topic.track]) if topic.track else _("proposal")
    head = [line for line in [note, f"🗳 <b>#{topic.id} {esc(topic.title)}</b>\n{esc(track)} · {esc(scope)}",
                              phase_line(ctx, topic)] if line]
    tail: list[str] = []
    if topic.track is not None and topic.state is not TopicState.PROPOSED:
        if topic.rules.ballot_type is not BallotType.YES_NO:
            tail.append("\n".join(f"{n}. {esc(label)}" for n, label in enumerate(topic.options, start=1)))
        tail.append("\n".join(rules_lines(ctx, topic)))
    if topic.state in PUBLIC_STATES:
        tail.append(turnout_line(ctx, topic, await service.turnout(ctx.services, topic)))
    mine = my_vote_line(ctx, topic, vote)
    if mine:
        tail.append(mine)
    if tally is not None:
        tail.append("\n".join(results_lines(ctx, topic, tally)))
    tail += outcome_lines(ctx, topic)
    updates = await service.followups(ctx.services, topic.id)
    if updates:
        tail.append("\n".join(f"📣 {moment(ctx, at)}: {esc(text[:300])}" for text, at in updates[-3:]))
    average, count = await service.rating_summary(ctx.services, topic.id)
    if average is not None:
        tail.append(_("⭐ How it is carried out: {average} from {count} ratings.").format(
            average=f"{average:.1f}", count=count))
    return fit(head, topic.background, tail)


# ---- /votes and the topic card ------------------------------------------------------------------------


async def cmd_votes(ctx: Ctx) -> None:
    await _list(ctx, 0, fresh=True)


async def _list(ctx: Ctx, page: int, *, fresh: bool = False) -> None:
    _ = ctx._
    assert ctx.person is not None
    topics = await service.my_topics(ctx.services, ctx.person)
    voted = await service.voted_topics(ctx.services, ctx.person)
    if not topics:
        text = _("<b>🗳 Votes</b>\nNo topics for you to decide right now. When one concerns your building or "
                 "community you will hear about it here. To suggest one, send /propose.")
        rows: list[Row] = []
    else:
        def label(t: Topic) -> str:
            mark = "✅" if t.state is TopicState.OPEN and t.id in voted else STATE_MARKS.get(t.state, "")
            return f"{mark} #{t.id} {t.title}"[:60]

        rows, _page, _pages = paginated(topics, page, per_page=PER_PAGE, per_row=1,
                                        button=lambda t: (label(t), button_data("o", t.id)),
                                        nav=lambda p: button_data("l", p), counter=_("{page} of {pages}"))
        text = _("<b>🗳 Votes</b>\nTopics you decide ({count}): 🆕 announced · 🗳 open · ✅ voted · ✔️ closed.").format(
            count=len(topics))
    markup = inline(rows) if rows else None
    await ctx.display(text, markup, fresh=fresh)


async def _card(ctx: Ctx, topic_id: int, note: str = "") -> None:
    _ = ctx._
    assert ctx.person is not None
    topic = await service.visible_topic(ctx.services, ctx.person, topic_id)
    vote = await service.my_vote(ctx.services, topic, ctx.person)
    tally = await service.results(ctx.services, topic, has_voted=bool(vote and vote.cast))
    text = await topic_text(ctx, topic, vote=vote, tally=tally, note=note)
    rows: list[Row] = []
    if topic.voting_open(ctx.now) and vote is not None:
        if not vote.cast:
            rows.append([(_("🗳 Vote"), button_data("b", topic.id, 0))])
        elif vote.by_me and topic.changeable:
            rows.append([(_("✏️ Change my vote"), button_data("b", topic.id, 0))])
    files = await service.attachments(ctx.services, topic.id)
    if files:
        rows.append([(_("📎 Attachments ({count})").format(count=len(files)), button_data("a", topic.id))])
    answered = await service.answered_questions(ctx.services, topic.id)
    row: Row = []
    if answered:
        row.append((_("💬 Q&A ({count})").format(count=len(answered)), button_data("qa", topic.id)))
    if topic.state in (TopicState.ANNOUNCED, TopicState.OPEN):
        row.append((_("❓ Ask a question"), button_data("q", topic.id)))
    rows.append(row)
    if topic.outcome_at is not None and await service.is_participant(ctx.services, topic.id, ctx.person):
        rows += [[(b.label, b.callback_data) for b in row] for row in service.rating_buttons(topic.id)]
    rows.append([(_("‹ My topics"), button_data("l", 0))])
    await ctx.show(text, inline(rows))


# ---- voting -----------------------------------------------------------------------------------------


async def _ballot(ctx: Ctx, topic_id: int, mask: int) -> None:
    """The choices: one tap casts (or asks to confirm a final ballot); 'multi' ticks options first. The
    selection so far lives in these buttons only."""
    _ = ctx._
    assert ctx.person is not None
    topic = await service.visible_topic(ctx.services, ctx.person, topic_id)
    if not topic.voting_open(ctx.now):
        raise Refused(service.CLOSED if topic.state is TopicState.CLOSED else service.NOT_YET)
    rows: list[Row]
    if topic.rules.ballot_type is BallotType.MULTI:
        mask &= (1 << topic.option_count) - 1
        rows = [[(("☑️ " if mask >> (n - 1) & 1 else "⬜ ") + option_label(ctx, topic, n)[:50],
                  button_data("b", topic.id, mask ^ 1 << (n - 1)))] for n in range(1, topic.option_count + 1)]
        picked = len(choices_of(mask))
        if picked:
            rows.append([(_("✅ Submit ({picked} of at most {limit})").format(picked=picked,
                                                                             limit=topic.rules.max_choices),
                          button_data("c", topic.id, mask))])
        prompt = _("Tick up to {limit} options, then press Submit.").format(limit=topic.rules.max_choices)
    else:
        rows = [[(option_label(ctx, topic, n)[:60], button_data("c", topic.id, 1 << (n - 1)))]
                for n in range(1, topic.option_count + 1)]
        prompt = _("Pick your answer.")
    rows.append([(_("‹ Back"), button_data("o", topic.id))])
    await ctx.show(f"🗳 <b>#{topic.id} {esc(topic.title)}</b>\n\n{prompt}", inline(rows))


async def _choose(ctx: Ctx, topic_id: int, mask: int) -> None:
    """A changeable ballot is cast at once; a final (or secret) one is confirmed first."""
    _ = ctx._
    assert ctx.person is not None
    topic = await service.visible_topic(ctx.services, ctx.person, topic_id)
    if topic.changeable:
        await _cast(ctx, topic_id, mask)
        return
    choices = choices_of(mask & ((1 << topic.option_count) - 1))
    if not choices:
        raise Refused(service.BAD_CHOICE)
    lines = [_("You chose: {choice}").format(choice=esc(choices_text(ctx, topic, choices))),
             _("Ballots on this topic are final: once cast, yours cannot be changed.")]
    if topic.rules.anonymous:
        lines.append(_("It is secret: stored without your name or the time, apart from the list of who voted."))
    await ctx.show(f"🗳 <b>#{topic.id} {esc(topic.title)}</b>\n\n" + "\n".join(lines),
                   inline([[(_("✅ Cast my vote"), button_data("f", topic.id, mask))],
                           [(_("‹ Change my choice"), button_data("b", topic.id, mask))]]))


async def _cast(ctx: Ctx, topic_id: int, mask: int) -> None:
    _ = ctx._
    assert ctx.person is not None
    outcome = await service.cast_ballot(ctx.services, ctx.person, topic_id, mask)
    notes = {CastOutcome.CAST: _("✅ Your vote was counted."), CastOutcome.CHANGED: _("✏️ Your vote was changed."),
             CastOutcome.UNCHANGED: _("Your vote stays as it was.")}
    await _card(ctx, topic_id, notes[outcome])


async def _attachments(ctx: Ctx, topic_id: int) -> None:
    assert ctx.person is not None
    topic = await service.visible_topic(ctx.services, ctx.person, topic_id)
    for kind, file_id, name in await service.attachments(ctx.services, topic.id):
        caption = esc(f"#{topic.id} {name or topic.title}"[:200])
        if kind == "photo":
            await ctx.context.bot.send_photo(ctx.user.id, file_id, caption=caption, rate_limit_args="reply")
        else:
            await ctx.context.bot.send_document(ctx.user.id, file_id, caption=caption, rate_limit_args="reply")


async def _questions(ctx: Ctx, topic_id: int) -> None:
    _ = ctx._
    assert ctx.person is not None
    topic = await service.visible_topic(ctx.services, ctx.person, topic_id)
    answered = await service.answered_questions(ctx.services, topic.id)
    lines = [_("💬 <b>Questions and answers</b> · #{id} {title}").format(id=topic.id, title=esc(topic.title))]
    for shown, q in enumerate(answered):
        entry = f"❓ {esc(q.question)}\n💬 {esc(q.answer or '')}"
        if len("\n\n".join(lines)) + len(entry) > TEXT_LIMIT - 100:
            lines.append(_("… and {count} more.").format(count=len(answered) - shown))
            break
        lines.append(entry)
    if not answered:
        lines.append(_("No answered questions yet."))
    await ctx.show("\n\n".join(lines), inline([[(_("‹ Back"), button_data("o", topic.id))]]))


async def _start_ask(ctx: Ctx, topic_id: int) -> None:
    assert ctx.person is not None
    topic = await service.visible_topic(ctx.services, ctx.person, topic_id)
    if topic.state not in (TopicState.ANNOUNCED, TopicState.OPEN):
        raise Refused(N_("Questions are taken before and during the vote only."))
    await show(ctx, new_draft(ctx, FLOW, "ask", topic_id=topic.id, title=topic.title))


async def _rate(ctx: Ctx, topic_id: int, stars: int) -> None:
    assert ctx.person is not None
    await service.rate(ctx.services, ctx.person, topic_id, stars)
    await ctx.answer(ctx._("Thank you: your rating ({stars} of 5) is saved.").format(stars=stars), alert=True)


def topic_buttons(route: Callable[[Ctx, list[str]], Awaitable[bool | None]]) -> ButtonHandler:
    """The button handler of the topic screens: what `route(ctx, parts)` refuses (`Refused`) is the alert,
    and the button is answered unless the route answered it itself (it returns True then)."""

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx = await Ctx.load(update, context)
        if ctx is None:
            return
        _prefix, parts = decode(update.callback_query.data if update.callback_query else None)
        try:
            answered = await route(ctx, parts)
        except Refused as refused:
            await ctx.answer(refused.text(ctx._), alert=True)
            return
        if not answered:
            await ctx.answer()

    return on_button


async def _route(ctx: Ctx, parts: list[str]) -> bool:
    """Run the pressed action; True when it answered the button itself."""
    if ctx.person is None or not ctx.person.onboarded:
        raise Refused(N_("Please finish signing up first: send /start."))
    action = parts[0] if parts else ""
    target = int_part(parts, 1)
    extra = int_part(parts, 2)
    if target is None:
        raise Refused(EXPIRED)
    if action == "l":
        await _list(ctx, target)
    elif action in {"o", "r"}:
        await _card(ctx, target)
    elif action == "b" and extra is not None:
        await _ballot(ctx, target, extra)
    elif action == "c" and extra is not None:
        await _choose(ctx, target, extra)
    elif action == "f" and extra is not None:
        await _cast(ctx, target, extra)
    elif action == "a":
        await _attachments(ctx, target)
    elif action == "qa":
        await _questions(ctx, target)
    elif action == "q":
        await _start_ask(ctx, target)
    elif action == "rt" and extra is not None:
        await _rate(ctx, target, extra)
        return True
    else:
        raise Refused(EXPIRED)
    return False


# ---- /propose and asking: a small flow ---------------------------------------------------------------


async def cmd_propose(ctx: Ctx) -> None:
    await show(ctx, new_draft(ctx, FLOW, "title"))


async def _view(ctx: Ctx, draft: Draft) -> View:
    _ = ctx._
    cancel: list[Button] = [(_("Cancel"), "cancel")]
    d = draft.data
    if draft.step == "title":
        return _("<b>💡 Propose a topic</b>\nWhat should your neighbours decide together? Type a short title (up to "
                 "{limit} characters).").format(limit=TITLE_MAX), [cancel], None
    if draft.step == "background":
        return _("Describe it: what is the matter, and what do you suggest? (up to {limit} characters)").format(
            limit=BACKGROUND_MAX), [[(_("‹ Back"), "back"), *cancel]], None
    if draft.step == "confirm":
        text = _("<b>Your proposal</b>\n{title}\n\n{background}\n\nIt goes to your community's organizers, who take "
                 "it up for a vote or tell you why not.").format(title=esc(d["title"]), background=esc(d["background"]))
        return text, [[(_("📨 Send"), "send")], [(_("‹ Back"), "back"), *cancel]], None
    return _("Type your question about topic #{id} “{title}” (up to {limit} characters). The organizers' answer "
             "goes to everyone deciding it; your name is not shown.").format(
        id=d["topic_id"], title=esc(d["title"]), limit=QUESTION_MAX), [cancel], None


async def _on_turn(turn: Turn) -> None:
    ctx, draft, action = turn.ctx, turn.draft, turn.action
    _ = ctx._
    step = draft.step
    if ctx.person is None or action == "cancel":
        await flows.stop(turn, N_("Nothing was sent."))
    elif action == "back":
        await turn.goto({"background": "title", "confirm": "background"}.get(step, step))
    elif step == "confirm" and action == "send":
        if await end_flow(ctx, draft):
            await _send_proposal(ctx, draft)
    elif action is not None or not turn.text:
        if action is not None:
            await ctx.answer(_(EXPIRED), alert=True)
            return
        await flows.ask_again(turn, _("Please type your answer as text, or /cancel to stop."))
    elif step == "title":
        title = re.sub(r"\s+", " ", turn.text).strip()
        if not 0 < len(title) <= TITLE_MAX:
            await flows.ask_again(turn, _(service.TITLE_PROBLEM).format(limit=TITLE_MAX))
        else:
            await turn.goto("background", title=title)
    elif step == "background":
        if len(turn.text.strip()) > BACKGROUND_MAX:
            await flows.ask_again(turn, _(service.BACKGROUND_PROBLEM).format(limit=BACKGROUND_MAX))
        else:
            await turn.goto("confirm", background=turn.text.strip())
    elif step == "ask" and len(turn.text.strip()) > QUESTION_MAX:
        await flows.ask_again(turn, _(service.BACKGROUND_PROBLEM).format(limit=QUESTION_MAX))
    elif step == "ask":
        await _send_question(ctx, draft, turn.text)


async def _send_proposal(ctx: Ctx, draft: Draft) -> None:
    assert ctx.person is not None
    try:
        topic = await service.propose(ctx.services, ctx.person, draft.data["title"], draft.data["background"])
    except Refused as refused:
        await ctx.show(refused.text(ctx._))
        return
    await ctx.show(ctx._("📨 Proposal #{id} was sent to your community's organizers. You will hear whether they take "
                         "it up.").format(id=topic.id))


async def _send_question(ctx: Ctx, draft: Draft, text: str) -> None:
    assert ctx.person is not None
    if not await end_flow(ctx, draft):
        return
    try:
        await service.ask(ctx.services, ctx.person, int(draft.data["topic_id"]), text)
    except Refused as refused:
        await ctx.reply(refused.text(ctx._))
        return
    await ctx.reply(ctx._("❓ Your question was sent to the organizers. Their answer will reach everyone deciding "
                          "this topic."), inline([[(ctx._("‹ Back to the topic"),
                                                    button_data("o", draft.data["topic_id"]))]]))


# ---- keeping ballots out of the log -----------------------------------------------------------------------

_BALLOT_DATA = re.compile(rf"(?<![A-Za-z0-9_]){CALLBACK}:")


class _WithholdBallots(logging.Filter):
    """PTB logs whole updates and Bot API calls at DEBUG. A voter's choices travel in our button data (and in
    the screen confirming them), so such lines are withheld: no log may show how anyone voted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        if _BALLOT_DATA.search(message):
            record.msg, record.args = "deliberation update (details withheld from the log)", ()
        return True


_WITHHOLD = _WithholdBallots()


def register(application: Application) -> None:
    for name in ("telegram.ext.Application", "telegram.Bot", "telegram.ext.ExtBot"):
        logger = logging.getLogger(name)
        if _WITHHOLD not in logger.filters:
            logger.addFilter(_WITHHOLD)
    register_flow(application, FLOW, Flow(_on_turn, _view))
    menu.add_command(application, menu.Command(
        "votes", N_("Topics you decide: read, ask, vote and see results"), cmd_votes, menu_label=N_("🗳 Votes"),
        order=35))
    menu.add_command(application, menu.Command(
        "propose", N_("Propose a topic for your neighbours to decide"), cmd_propose, order=36))
    application.add_handler(
        CallbackQueryHandler(topic_buttons(_route), pattern=rf"^{CALLBACK}:"), group=COMMANDS
    )

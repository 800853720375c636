"""Random people doing random things to the whole bot: no handler ever fails, and the store stays whole.

Hypothesis drives the real Application through the offline Telegram (the harness in strict mode: an
error in any handler fails the example). One street and one bot live through all examples, so later
examples start from whatever earlier ones left — drafts half-way, tasks accepted, places taken — and
walks over the buttons people actually see reach deep into every flow. After each example the store is
checked for partial rows. With one shared world, shrinking cannot isolate a cause, so a failure shows the
trail of actions that led to it instead.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain.people import Role, Scope, ScopeKind
from bot.domain.reports import BEING_FIXED, CLOSED_STATES, ReportState
from bot.domain.volunteering import Skill
from bot.handlers.flows import FLOWS_KEY
from bot.handlers.onboarding import FLOW as ONBOARDING
from bot.sandbox.fake_telegram import JSON, tiny_png
from bot.services import volunteering
from bot.services.reports import FOR_ASSIGNMENT
from bot.storage import people
from tests.reports_street import NORTH_A, SOUTH_S, add_person, seed_street
from tests.support.people import BotHarness, HandlerError, Person

EXAMPLES = 150
TRAIL = 40
HOSTILE_TEXTS = ["", " ", "_*[<>&", "&amp;", "<b>bold</b>", "</i>", "a" * 5000, "0", "-1", "99999999999",
                 "1-101", "Building A", "\u202e\u200b", "🏠", "/", "//", "@gongzhi_bot", "😀" * 2100]
ARGUMENTS = ["", " 1", " 0", " -5", " abc", " <b>", " 99999999999", " 1 2 3", " " + "x" * 300]
STRANGER_SAYS = ["/start", "/tasks", "/report"]
ARG_PARTS = ["a", "o", "n", "p", "r", "q", "c", "m", "l", "x", ""]
WITH_A_WORKER = frozenset({ReportState.ASSIGNED, ReportState.RESOLVED, *BEING_FIXED})
# Button data a grid worker follows more often: open, accept, progress note, mark fixed.
TASK_WORK = re.compile(r"tk:[oapr]:")
# List, open, sign up (anyway), confirm, cancel (yes): a volunteer's way into a place and out of it.
VOLUNTEERING = re.compile(r"vol:(ls|o|su|sf|cf|cl|cy)\b")
# The /report flow's actions, in the order a resident meets them.
REPORT_PATH = ("cat:", "done", "home", "urgent:0", "anon:", "diff", "confirm")
ALICE, BOB, WANG, CHEN, LIU, SUN, NEWCOMER = range(7)


@dataclass
class World:
    """The street, its people as Telegram accounts, and what Hypothesis chooses from."""

    h: BotHarness
    cast: list[Person]
    profiles: dict[Person, dict[str, Any]]  # how each of the cast is signed up (the newcomer is not)
    group: int
    commands: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    strangers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    trail: deque[str] = field(default_factory=lambda: deque(maxlen=TRAIL))

    @classmethod
    async def open(cls, tmp_path: Path) -> World:
        h = BotHarness(tmp_path)
        await h.start()
        now = h.clock.now()
        street = await seed_street(h.services.db, now)
        cast = [h.person(name, "en") for name in ("Alice", "Bob", "Wang", "Chen", "Liu", "Sun", "Newcomer")]
        profiles: list[dict[str, Any]] = [
            {"name": "Alice", "building_id": street.building_a, "phone": "13800000001"},
            {"name": "Bob <b>&", "building_id": street.building_s, "phone": "13800000002",
             "locale": "zh_Hans"},
            {"name": "Wang", "role": Role.GRID_WORKER, "scope_id": street.north},
            {"name": "Chen", "role": Role.SECRETARY, "scope_id": street.north},
            {"name": "Liu", "role": Role.ORGANIZER, "scope_id": street.community},
            {"name": "Sun", "role": Role.ADMIN},
        ]
        world = cls(h, cast, dict(zip(cast, profiles, strict=False)), h.group("Riverside residents"))
        await world.sign_up_again()
        await world.one_place_two_volunteers(street.community)
        world.commands = registered_commands(h.app)
        world.prefixes = button_prefixes(h.app)
        return world

    async def one_place_two_volunteers(self, community: int) -> None:
        """An activity with one place and two volunteers who want it: sign-ups, the waitlist, offers."""
        services, now = self.h.services, self.h.clock.now()
        organizer = await people.by_telegram_id(services.db, self.cast[LIU].id)
        assert organizer is not None
        published = await volunteering.publish(
            services,
            organizer,
            volunteering.NewOpportunity(
                title="Park clean-up", description="Bring gloves", place="North gate",
                scope=Scope(kind=ScopeKind.COMMUNITY, id=community),
                starts_at=now + timedelta(days=5), ends_at=now + timedelta(days=5, hours=2),
                capacity=1, skills=[Skill.CLEANING], hours=2, points=10,
            ),
        )
        assert isinstance(published, volunteering.Published)
        for resident in self.cast[ALICE], self.cast[BOB]:
            person = await people.by_telegram_id(services.db, resident.id)
            assert person is not None
            await volunteering.join(services, person, [Skill.CLEANING], [])
        await self.h.settle()

    async def sign_up_again(self) -> list[str]:
        """Whoever erased themselves (/deleteme) signs up again, so the street keeps its people."""
        back = []
        for person, profile in self.profiles.items():
            if await people.by_telegram_id(self.h.services.db, person.id) is None:
                await add_person(self.h.services.db, self.h.clock.now(), telegram_id=person.id, **profile)
                back.append(person.first_name)
        return back

    async def close(self) -> None:
        await self.h.stop()
        await self.h.core.aclose()


def registered_commands(app: Application) -> list[str]:
    return sorted(
        {name for group in app.handlers.values() for handler in group if isinstance(handler, CommandHandler)
         for name in handler.commands}
    )


def button_prefixes(app: Application) -> list[str]:
    """The callback-data prefixes features claim (`^tk:` → `tk`), to forge data they will take."""
    patterns = [
        handler.pattern.pattern
        for group in app.handlers.values()
        for handler in group
        if isinstance(handler, CallbackQueryHandler) and isinstance(handler.pattern, re.Pattern)
    ]
    return sorted({match[1] for pattern in patterns if (match := re.match(r"\^([A-Za-z_]+):", pattern))})


# ------------------------------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Act:
    """One thing someone does: `who` indexes the cast, `value` is what `kind` needs."""

    who: int
    kind: str
    value: Any = None

    def __repr__(self) -> str:
        return f"Act({self.who}, {self.kind!r}, {self.value!r:.80})"


def acts(cast_size: int) -> st.SearchStrategy[Act]:
    who = st.integers(0, cast_size - 1)
    text = st.one_of(st.text(max_size=60), st.sampled_from(HOSTILE_TEXTS))
    part = st.one_of(st.integers(-2, 40).map(str), st.sampled_from(ARG_PARTS))
    forged = st.lists(part, max_size=4).map(":".join)
    choices = st.lists(st.integers(0, 10_000), min_size=2, max_size=9)
    staff = st.sampled_from([WANG, CHEN, LIU])
    residents = st.sampled_from([ALICE, BOB])
    pick = st.integers(0, 10_000)
    place = st.one_of(st.sampled_from([NORTH_A, SOUTH_S, (0.0, 0.0)]),
                      st.tuples(st.floats(-90, 90), st.floats(-180, 180)))
    return st.one_of(
        st.builds(Act, who, st.just("press"), pick),
        st.builds(Act, who, st.just("press"), pick),
        st.builds(Act, who, st.just("walk"), st.tuples(pick, choices, text)),
        st.builds(Act, who, st.just("walk"), st.tuples(pick, choices, text)),
        st.builds(Act, staff, st.just("work"), st.tuples(choices, text)),
        st.builds(Act, staff, st.just("work"), st.tuples(choices, text)),
        st.builds(Act, st.sampled_from([ALICE, BOB, NEWCOMER]), st.just("volunteer"),
                  st.tuples(choices, text)),
        st.builds(Act, residents, st.just("file"), st.tuples(text, pick, st.booleans())),
        st.builds(Act, who, st.just("text"), text),
        st.builds(Act, who, st.just("command"), st.tuples(pick, st.sampled_from(ARGUMENTS))),
        st.builds(Act, who, st.just("callback"), st.one_of(st.text(min_size=1, max_size=20), forged)),
        st.builds(Act, who, st.just("prefixed"), st.tuples(pick, forged)),
        st.builds(Act, who, st.sampled_from(["sticker", "photo", "voice", "document"])),
        st.builds(Act, who, st.sampled_from(["block", "unblock"])),
        st.builds(Act, who, st.just("contact"), st.sampled_from(["own", "other", "no_account"])),
        st.builds(Act, who, st.just("location"), place),
        st.builds(Act, who, st.just("edit"), text),
        st.builds(Act, who, st.just("group"), st.one_of(text, st.sampled_from(["/start", "/report"]))),
        st.builds(Act, st.just(ALICE), st.just("stranger"), st.one_of(text, st.sampled_from(STRANGER_SAYS))),
        st.builds(Act, st.just(0), st.just("stranger_button"), forged),
        st.builds(Act, st.just(0), st.just("advance"), st.sampled_from([1, 3, 9, 30, 80])),
    )


async def run(world: World, act: Act) -> None:
    h, person = world.h, world.cast[act.who]
    if h.core.is_blocked(person.id) and act.kind not in {"unblock", "advance", "stranger", "stranger_button"}:
        await person.unblock_bot()
    value = act.value
    commands, prefixes = world.commands, world.prefixes
    actions: dict[str, Callable[[], Awaitable[None]]] = {
        "press": lambda: press(world, person, value),
        "walk": lambda: walk(world, person, "/" + commands[value[0] % len(commands)], *value[1:]),
        "work": lambda: walk(world, person, "/tasks", *value, prefer=TASK_WORK),
        "volunteer": lambda: walk(world, person, "/volunteer", *value, prefer=VOLUNTEERING),
        "file": lambda: file_report(person, *value),
        "text": lambda: person.send(value),
        "command": lambda: person.send("/" + commands[value[0] % len(commands)] + value[1]),
        "callback": lambda: callback(person, value),
        "prefixed": lambda: callback(person, f"{prefixes[value[0] % len(prefixes)]}:{value[1]}"),
        "sticker": person.send_sticker,
        "photo": lambda: person.send_photo(tiny_png(), caption="after <fix> & more"),
        "voice": person.send_voice,
        "document": lambda: person.send_document("report <1>.csv", b"a,b\n1,2\n"),
        "contact": lambda: contact(person, value),
        "location": lambda: person.share_location(*value),
        "edit": lambda: edit(world, person, value),
        "group": lambda: person.send(value or ".", chat=world.group),
        "stranger": lambda: stranger(world).send(value or "."),
        "stranger_button": lambda: stranger_presses(world, value),
        "block": person.block_bot,
        "unblock": person.unblock_bot,
        "advance": lambda: h.advance(hours=value, step=timedelta(hours=1)),
    }
    await actions[act.kind]()


def visible_buttons(world: World, person: Person) -> list[tuple[int | None, JSON]]:
    """What the person can press: inline buttons of the newest bot messages (with their message id),
    then the reply keyboard's (no message id)."""
    core = world.h.core
    found: list[tuple[int | None, JSON]] = []
    for record in [r for r in core.history(person.id) if r.from_bot][-4:]:
        for row in (record.message.get("reply_markup") or {}).get("inline_keyboard", []):
            found += [(record.message_id, button) for button in row if "callback_data" in button]
    for row in (core.reply_keyboard(person.id) or {}).get("keyboard", []):
        found += [(None, button) for button in row]
    return found


async def press(world: World, person: Person, choice: int) -> None:
    buttons = visible_buttons(world, person)
    if not buttons:
        await person.send("/start")
        return
    message_id, button = buttons[choice % len(buttons)]
    if message_id is not None:
        await person.press_data(button["callback_data"], message_id=message_id)
    elif button.get("request_contact"):
        await person.share_contact(person.phone)
    elif button.get("request_location"):
        await person.share_location(*NORTH_A)
    else:
        await person.send(button["text"])


async def walk(
    world: World, person: Person, command: str, choices: list[int], text: str,
    prefer: re.Pattern[str] | None = None,
) -> None:
    """Start with a command, then mostly press one of the newest message's buttons (those `prefer`
    matches more often); otherwise, and where no button is offered, type `text` or send a photo, as a
    step that asks for words or a picture wants."""
    await person.send(command)
    for choice in choices:
        newest = [r for r in world.h.core.history(person.id) if r.from_bot][-1:]
        rows = (newest[0].message.get("reply_markup") or {}).get("inline_keyboard", []) if newest else []
        buttons = [b["callback_data"] for row in rows for b in row if "callback_data" in b]
        preferred = [data for data in buttons if prefer.match(data)] if prefer else []
        if preferred and choice % 3:
            await person.press_data(preferred[choice % len(preferred)], message_id=newest[0].message_id)
        elif buttons and choice % 4:
            await person.press_data(buttons[choice % len(buttons)], message_id=newest[0].message_id)
        elif choice % 8 < 4:
            await person.send_photo(tiny_png())
        else:
            await person.send(text or "Fixed the lamp <b>")


async def file_report(person: Person, description: str, category: int, anonymous: bool) -> None:
    """A resident goes through /report by the flow's own button actions (so any language works),
    typing `description` where words are asked for; refusals and the hourly limit are part of it."""
    await person.send("/report")
    for _step in range(12):
        message = person.last_message
        data = message.callback_data.values()
        flow = [(item.split(":", 2)[2], item) for item in data if item.startswith("f:")]
        wanted = [data for action, data in flow if action.startswith(REPORT_PATH)]
        if not flow:
            return
        if not wanted:
            await person.send(description or "Broken light")
            continue
        categories = [data for action, data in flow if action.startswith("cat:")]
        anonymity = [data for action, data in flow if action == f"anon:{int(anonymous)}"]
        chosen = (categories and categories[category % len(categories)]) or (anonymity or wanted)[0]
        await person.press_data(chosen, message_id=message.message_id)
        if chosen.endswith(":confirm"):
            return


async def callback(person: Person, data: str) -> None:
    if not [r for r in person.core.history(person.id) if r.from_bot]:
        await person.send("/help")
    await person.press_data(data)


async def contact(person: Person, whose: str) -> None:
    if whose == "own":
        await person.share_contact(person.phone)
    elif whose == "other":
        await person.share_contact("+8613912345678", user_id=person.id + 1000, first_name="Someone")
    else:
        await person.share_contact("13912345678", no_account=True, first_name="<Grandma>")


async def edit(world: World, person: Person, text: str) -> None:
    """An edited message, as Telegram sends one when a person changes what they wrote."""
    mine = [r for r in world.h.core.history(person.id) if not r.from_bot and "text" in r.message]
    if not mine:
        await person.send(text or ".")
        return
    edited = {**mine[-1].message, "text": text or ".", "edit_date": int(world.h.clock.now().timestamp())}
    edited.pop("entities", None)
    await world.h.process(world.h.core.push_update({"edited_message": edited}, deliver=False))


def stranger(world: World) -> Person:
    """Someone the bot has never seen, in a language it does not know."""
    return world.h.person(f"Stranger {next(world.strangers)}", language_code="xx-yy")


async def stranger_presses(world: World, data: str) -> None:
    person = stranger(world)
    await person.send("/start")
    await person.press_data(data or "x")


# ------------------------------------------------------------------------------------------ invariants


def partial_row_checks(world: World) -> dict[str, str]:
    """What a whole store never holds, as SQL that lists the offending rows."""
    closed = ", ".join(f"'{state.value}'" for state in CLOSED_STATES)
    working = ", ".join(f"'{state.value}'" for state in WITH_A_WORKER)
    flows = ", ".join(f"'{name}'" for name in world.h.app.bot_data.get(FLOWS_KEY, {}))
    return {
        "foreign key broken": "SELECT \"table\" || ' ' || rowid FROM pragma_foreign_key_check",
        "report without its 'filed' event": (
            "SELECT number FROM reports r WHERE NOT EXISTS "
            "(SELECT 1 FROM report_events e WHERE e.report_id = r.id AND e.kind = 'filed')"
        ),
        "assignment without its event": (
            "SELECT number FROM reports r WHERE assignment_event IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM report_events e WHERE e.id = r.assignment_event AND e.report_id = r.id)"
        ),
        # A team lead who accepts takes the task over: the push went to whoever it was assigned to.
        "assignment whose task was never queued": (
            "SELECT number FROM reports r WHERE r.assignment_event IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM outbox o WHERE o.reason_kind = '{FOR_ASSIGNMENT}' "
            "AND o.reason_id = r.assignment_event)"
        ),
        "report being worked on by nobody": (
            f"SELECT number || ' ' || state FROM reports WHERE state IN ({working}) AND assignee_id IS NULL"
        ),
        "closed without closing time and outcome, or open with them": (
            f"SELECT number FROM reports WHERE (state IN ({closed})) "
            "<> (closed_at IS NOT NULL AND outcome IS NOT NULL)"
        ),
        "more reports in a year than numbers handed out": (
            "SELECT n.year FROM report_numbers n WHERE n.last < "
            "(SELECT count(*) FROM reports WHERE number LIKE '%' || n.year || '-%')"
        ),
        "draft of a flow nobody runs": (
            f"SELECT telegram_id || ' ' || flow FROM drafts WHERE flow NOT IN ({flows}) "
            "OR version < 1 OR json_valid(data) = 0"
        ),
        "draft of a signed-up person's flow, without the person": (
            "SELECT telegram_id || ' ' || flow FROM drafts d "
            f"WHERE flow != '{ONBOARDING}' "
            "AND NOT EXISTS (SELECT 1 FROM people p WHERE p.telegram_id = d.telegram_id)"
        ),
        "signed up without consent or name": (
            "SELECT id FROM people WHERE onboarded_at IS NOT NULL AND (consent_at IS NULL OR name = '')"
        ),
        "marked sent without the Telegram message": (
            "SELECT id FROM outbox WHERE state = 'sent' AND (message_id IS NULL OR delivered_at IS NULL)"
        ),
        "still sending after the sender settled": "SELECT id FROM outbox WHERE state = 'sending'",
        "more places held than the activity has": (
            "SELECT e.kind || ' ' || e.event_id FROM slot_events e WHERE e.capacity < "
            "(SELECT count(*) FROM seats s WHERE s.kind = e.kind AND s.event_id = e.event_id "
            "AND s.state IN ('confirmed', 'offered'))"
        ),
        "one person with two places in one activity": (
            "SELECT kind || ' ' || event_id FROM seats GROUP BY kind, event_id, person_id HAVING count(*) > 1"
        ),
    }


async def partial_rows(world: World) -> list[str]:
    """Every way the store is half-written right now, one line each (empty when whole)."""
    problems = []
    for what, sql in partial_row_checks(world).items():
        rows = await world.h.services.db.fetch_all(sql)
        if rows:
            problems.append(f"{what}: {[tuple(row) for row in rows][:5]}")
    return problems


def test_random_updates_never_break_the_bot_or_leave_partial_rows(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        world = runner.run(World.open(tmp_path))

        async def play(steps: list[Act]) -> None:
            returned = await world.sign_up_again()
            again = f" ({', '.join(returned)} signed up again)" if returned else ""
            world.trail.append("-- next example" + again)
            for act in steps:
                world.trail.append(repr(act))
                try:
                    await run(world, act)
                except HandlerError as error:
                    raise AssertionError(f"{error}\nafter:\n" + "\n".join(world.trail)) from error
            problems = await partial_rows(world)
            assert not problems, "\n".join(problems) + "\nafter:\n" + "\n".join(world.trail)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(st.lists(acts(len(world.cast)), min_size=2, max_size=10))
        def people_do(steps: list[Act]) -> None:
            runner.run(play(steps))

        try:
            people_do()
        finally:
            runner.run(world.close())

"""CSV exports for organizers: reports with their timelines, volunteer service hours, deliberation results.

The files open correctly in Excel: UTF-8 with a byte-order mark (without it Excel reads UTF-8 as the
local code page and garbles Chinese), CRLF line ends, and a cell that starts like a formula (= + - @)
gets a leading apostrophe, so a typed description can never run as one. A report export names nobody:
no reporter, no contact, no actor, no typed notes in the timeline. Rates-related columns use
bot.domain.rates, the definitions /stats shows. Deliberation results are totals per option from the
deliberation service's own tally of closed topics: never a ballot, never who voted how.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import TextIO

from bot.domain.deliberation import BallotType
from bot.domain.people import Scope
from bot.domain.rates import Period, accepted_within, working_hours_between
from bot.domain.reports import Channel, Outcome, ReportState
from bot.domain.volunteering import ServiceStatus
from bot.i18n import N_, Translator, translator
from bot.services import deliberation
from bot.services.container import Services
from bot.services.reports import CHANNEL_LABELS, STATE_LABELS, categories
from bot.services.volunteering import STATUS_LABELS
from bot.storage import deliberation as deliberation_store
from bot.storage import stats as store
from bot.storage import volunteering as volunteering_store
from bot.ui.spreadsheet import cell

BATCH = 500


class Export(StrEnum):
    REPORTS = "reports"
    HOURS = "hours"
    DELIBERATION = "deliberation"


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes
    rows: int


Writer = Callable[[Sequence[object]], None]


def _writer(out: TextIO) -> Writer:
    writer = csv.writer(out, lineterminator="\r\n")
    return lambda row: writer.writerow([cell(value) for value in row])


def _begin(out: TextIO, locale: str, columns: Sequence[str]) -> tuple[Translator, Writer]:
    """The translator for `locale` and a writer whose first row, the translated column names, is written:
    every export starts the same way."""
    _ = translator(locale)
    write = _writer(out)
    write([_(c) for c in columns])
    return _, write


def _when(moment: datetime | None, tz: tzinfo) -> str:
    """A moment in the street's time zone, to the minute, as every export shows it; empty when there is none."""
    return "" if moment is None else f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"


REPORT_COLUMNS = (
    N_("Number"),
    N_("Category"),
    N_("Status"),
    N_("Urgent"),
    N_("Community"),
    N_("Grid"),
    N_("Channel"),
    N_("Filed"),
    N_("Assigned"),
    N_("Accept by"),
    N_("Accepted"),
    N_("Accepted in time"),
    N_("Working hours to accept"),
    N_("Fix by"),
    N_("Resolved"),
    N_("Closed"),
    N_("Confirmed fixed"),
    N_("Working hours to resolve"),
    N_("Times reopened"),
    N_("Rating"),
    N_("Residents affected"),
    N_("Description"),
    N_("Timeline"),
)


async def write_reports(services: Services, scope: Scope, period: Period, locale: str, out: TextIO) -> int:
    """Reports filed in `period` within `scope`, one row each with its timeline; returns the row count."""
    _, write = _begin(out, locale, REPORT_COLUMNS)
    tz = services.settings.tz
    cats = categories(services)

    def when(moment: datetime | None) -> str:
        return _when(moment, tz)

    def hours(start: datetime | None, end: datetime | None) -> str:
        if start is None or end is None:
            return ""
        return f"{working_hours_between(services.calendar, start, end):.1f}"

    def yes_no(flag: bool | None) -> str:
        return "" if flag is None else _("yes") if flag else _("no")

    ids = await store.report_ids(services.db.background, scope, *period.bounds(tz))
    for first in range(0, len(ids), BATCH):
        batch = ids[first : first + BATCH]
        events = await store.event_lines(services.db.background, batch)
        for r in await store.report_lines(services.db.background, batch):
            in_time = None if r.assigned_at is None else accepted_within(r.accept_by, r.accepted_at)
            timeline = "\n".join(
                _event(_, e.at.astimezone(tz), e.kind, e.to_state) for e in events.get(r.id, [])
            )
            write(
                [
                    r.number,
                    cats[r.category].name(locale),
                    _(STATE_LABELS[ReportState(r.state)]),
                    yes_no(r.urgent),
                    r.community,
                    r.grid,
                    _(CHANNEL_LABELS[Channel(r.channel)]),
                    when(r.created_at),
                    when(r.assigned_at),
                    when(r.accept_by),
                    when(r.accepted_at),
                    yes_no(in_time),
                    hours(r.assigned_at, r.accepted_at),
                    when(r.fix_by),
                    when(r.resolved_at),
                    when(r.closed_at),
                    yes_no(None if r.closed_at is None else r.outcome == Outcome.CONFIRMED_FIXED),
                    hours(r.created_at, r.resolved_at),
                    r.reopen_count,
                    r.stars or "",
                    r.affected_count,
                    r.description,
                    timeline,
                ]
            )
    return len(ids)


def _event(_: Translator, at: datetime, kind: str, to_state: str | None) -> str:
    """`2025-03-03 09:05 accepted → ✍️ accepted`: the event and, for a state change, the new state."""
    line = f"{at:%Y-%m-%d %H:%M} {kind}"
    return f"{line} → {_(STATE_LABELS[ReportState(to_state)])}" if to_state else line


HOURS_COLUMNS = (
    N_("Activity"),
    N_("Date"),
    N_("Volunteer"),
    N_("Status"),
    N_("Hours"),
    N_("Points"),
    N_("Verified"),
)


async def write_hours(services: Services, scope: Scope, period: Period, locale: str, out: TextIO) -> int:
    """Attendance and service hours at activities that started in `period` within `scope`."""
    _, write = _begin(out, locale, HOURS_COLUMNS)
    tz = services.settings.tz
    ids = await store.opportunity_ids(services.db.background, scope, *period.bounds(tz))
    rows = 0
    for first in range(0, len(ids), BATCH):
        for entry in await volunteering_store.service_of(services.db.background, ids[first : first + BATCH]):
            if entry.status is ServiceStatus.EXPECTED:
                continue
            write(
                [
                    entry.title,
                    _when(entry.starts_at, tz),
                    entry.person_name,
                    _(STATUS_LABELS[entry.status]),
                    f"{entry.hours:g}",
                    entry.points,
                    _when(entry.verified_at, tz),
                ]
            )
            rows += 1
    return rows


DELIBERATION_COLUMNS = (
    N_("Topic"),
    N_("Deliberation track"),
    N_("Community"),
    N_("Opened"),
    N_("Closed"),
    N_("Eligible votes"),
    N_("Votes cast"),
    N_("Turnout"),
    N_("Quorum"),
    N_("Quorum met"),
    N_("Result"),
    N_("Decision"),
    N_("Actions"),
    N_("Responsible"),
)
# Plain words for a spreadsheet cell (the bot's buttons carry emoji).
YES_NO_ABSTAIN = (N_("yes"), N_("no"), N_("abstain"))


async def write_deliberation(
    services: Services, scope: Scope, period: Period, locale: str, out: TextIO
) -> int:
    """Topics whose vote closed in `period` within `scope`: turnout, quorum, totals per option, outcome."""
    _, write = _begin(out, locale, DELIBERATION_COLUMNS)
    tz = services.settings.tz
    communities = {c.id: c.name for c in await store.communities(services.db)}
    rows = 0
    for topic_id in await store.closed_topics(services.db.background, scope, *period.bounds(tz)):
        topic = await deliberation_store.get(services.db, topic_id)
        tally = None if topic is None else await deliberation.results(services, topic, has_voted=False)
        if topic is None or tally is None:
            continue
        labels = (
            [_(label) for label in YES_NO_ABSTAIN]
            if topic.rules.ballot_type is BallotType.YES_NO
            else topic.options
        )
        result = "; ".join(f"{labels[c.option - 1]}: {c.votes} ({c.percent}%)" for c in tally.counts)
        write(
            [
                topic.title,
                _(deliberation.TRACK_LABELS[topic.track]) if topic.track else "",
                communities.get(topic.community_id or 0, _("Whole street")),
                _when(topic.opened_at, tz),
                _when(topic.closed_at, tz),
                tally.eligible,
                tally.voted,
                f"{tally.turnout_percent}%",
                f"{tally.quorum_percent}%",
                _("yes") if tally.quorum_met else _("no"),
                result,
                topic.outcome_decision or "",
                topic.outcome_actions or "",
                topic.outcome_responsible or "",
            ]
        )
        rows += 1
    return rows


WRITERS = {Export.REPORTS: write_reports, Export.HOURS: write_hours, Export.DELIBERATION: write_deliberation}


def filename(what: Export, scope: Scope, period: Period) -> str:
    return f"{what.value}-{scope.kind.value}{scope.id or ''}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv"


async def export(services: Services, what: Export, scope: Scope, period: Period, locale: str) -> Document:
    """The export as one file in memory, for sending (the command line writes straight to a file)."""
    buffer = io.BytesIO()
    text = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="")
    rows = await WRITERS[what](services, scope, period, locale, text)
    text.flush()
    text.detach()
    return Document(filename(what, scope, period), buffer.getvalue(), rows)

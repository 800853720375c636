"""A meeting as an .ics calendar file, in the street's time zone (a VTIMEZONE and TZID-qualified times).

The UID stays the same for a meeting and SEQUENCE grows with each reschedule, so a calendar app
that already has the event replaces it instead of adding a second one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from bot.domain.meetings import Meeting

PRODID = "-//Gongzhi//Meetings//ZH"
MIME_TYPE = "text/calendar"


def uid(meeting_id: int) -> str:
    return f"meeting-{meeting_id}@gongzhi"


def filename(meeting_id: int) -> str:
    return f"meeting-{meeting_id}.ics"


def meeting_ics(meeting: Meeting, *, tz: ZoneInfo, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid(meeting.id))
    event.add("dtstamp", now)
    event.add("sequence", meeting.sequence)
    event.add("dtstart", meeting.starts_at.astimezone(tz))
    event.add("dtend", meeting.ends_at.astimezone(tz))
    event.add("summary", meeting.title)
    if meeting.place:
        event.add("location", meeting.place)
    if meeting.agenda:
        event.add("description", meeting.agenda)
    event.add("status", "CONFIRMED" if meeting.open else "CANCELLED")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()

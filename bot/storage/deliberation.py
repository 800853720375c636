"""Deliberation store: topics, the frozen eligible list, who voted, ballots, questions and follow-ups.

How a secret ballot stays secret
--------------------------------
"Who voted" and "what was voted" are two tables. `deliberation_voters` holds (topic, voter key, person,
time): it enforces one vote per person or household (its primary key), gives turnout and tells the
reminder whom to remind. `deliberation_ballots` holds (random key, topic, panel, choices) and nothing
else: no person, no time. On an anonymous topic nothing joins the two:

- no column: the voter row's `ballot_id` stays NULL (a trigger refuses anything else);
- no order: ballots live in a WITHOUT ROWID table keyed by 128 random bits, so there is no rowid
  counting insertions, and the table's only order (by key) is random — the n-th voter and the n-th
  ballot cannot be lined up, neither by `rowid` nor by the order rows come back in;
- no time: a ballot has no timestamp, and the key comes from `secrets`, not from the clock;
- no change: anonymous ballots are final (a trigger refuses an UPDATE), so a ballot is never looked
  up again after it was written, and no "change my vote" path needs to find it;
- nothing else: the choices travel in the voter's own button data (never in our drafts table, the
  outbox, the audit log or any log line — bot/handlers/deliberation.py redacts PTB's debug lines),
  and results show only after close, so a tally moving right after someone voted tells nothing.

What SQL cannot reach: a ballot and its voter row are written in one transaction (they must be, or a
crash could count a vote without its ballot), so the write-ahead log briefly holds both pages in one
commit frame until the next checkpoint. Backups are taken with VACUUM INTO, which writes a fresh file
from the tables' contents only.

Named topics keep the link (`ballot_id`) so a voter can change their ballot until close.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import from_db, to_db
from bot.domain.deliberation import (
    BallotType,
    Panel,
    Rules,
    Topic,
    TopicState,
    Track,
    Visibility,
    VoteUnit,
    decode_choices,
    encode_choices,
)
from bot.storage.db import Connection, Database, Reader, Row

_DATES = ("opens_at", "closes_at", "created_at", "opened_at", "closed_at", "review_at", "outcome_at")


def _marks(values: Iterable[object]) -> str:
    return ",".join("?" for _ in values)


async def _topics(source: Reader, where: str, params: Iterable[Any] = (), tail: str = "") -> list[Topic]:
    rows = await source.fetch_all(f"SELECT * FROM deliberation_topics t WHERE {where} {tail}", params)
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    options: dict[int, list[str]] = {i: [] for i in ids}
    for row in await source.fetch_all(
        f"SELECT topic_id, label FROM deliberation_options WHERE topic_id IN ({_marks(ids)}) "
        "ORDER BY topic_id, position", ids,
    ):
        options[row["topic_id"]].append(row["label"])
    buildings: dict[int, list[int]] = {i: [] for i in ids}
    for row in await source.fetch_all(
        f"SELECT topic_id, building_id FROM deliberation_buildings WHERE topic_id IN ({_marks(ids)}) "
        "ORDER BY topic_id, building_id", ids,
    ):
        buildings[row["topic_id"]].append(row["building_id"])
    return [_topic(row, options[row["id"]], buildings[row["id"]]) for row in rows]


def _topic(row: Row, options: list[str], building_ids: list[int]) -> Topic:
    dates = {key: from_db(row[key]) if row[key] else None for key in _DATES}
    return Topic(
        id=row["id"], track=Track(row["track"]) if row["track"] else None, state=TopicState(row["state"]),
        community_id=row["community_id"], title=row["title"], background=row["background"],
        rules=Rules(
            ballot_type=BallotType(row["ballot_type"]), max_choices=row["max_choices"],
            vote_unit=VoteUnit(row["vote_unit"]), anonymous=bool(row["anonymous"]), final=bool(row["final"]),
            visibility=Visibility(row["visibility"]), quorum_percent=row["quorum_percent"],
        ),
        options=options, building_ids=building_ids, proposed_by=row["proposed_by"], created_by=row["created_by"],
        decline_reason=row["decline_reason"], report_id=row["report_id"],
        outcome_decision=row["outcome_decision"], outcome_actions=row["outcome_actions"],
        outcome_responsible=row["outcome_responsible"], **dates,
    )


# ---- topics --------------------------------------------------------------------------------------------


async def get(source: Reader, topic_id: int) -> Topic | None:
    found = await _topics(source, "t.id = ?", (topic_id,))
    return found[0] if found else None


async def insert_topic(
    conn: Connection, *, state: TopicState, track: Track | None, community_id: int | None, title: str,
    background: str, now: datetime, proposed_by: int | None = None, created_by: int | None = None,
    report_id: int | None = None, building_ids: Iterable[int] = (),
) -> int:
    cursor = await conn.execute(
        "INSERT INTO deliberation_topics (track, state, community_id, title, background, proposed_by, created_by, "
        "report_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (track.value if track else None, state.value, community_id, title, background, proposed_by, created_by,
         report_id, to_db(now)),
    )
    assert cursor.lastrowid is not None
    await conn.executemany(
        "INSERT INTO deliberation_buildings (topic_id, building_id) VALUES (?, ?)",
        [(cursor.lastrowid, b) for b in dict.fromkeys(building_ids)],
    )
    return cursor.lastrowid


async def insert_proposal(
    conn: Connection, *, person_id: int, community_id: int, title: str, background: str,
    now: datetime, pending_max: int,
) -> int | None:
    """A resident's proposal, unless they already have `pending_max` waiting (one conditional INSERT)."""
    cursor = await conn.execute(
        "INSERT INTO deliberation_topics (state, community_id, title, background, proposed_by, created_at) "
        "SELECT 'proposed', ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM deliberation_topics "
        "WHERE proposed_by = ? AND state = 'proposed') < ?",
        (community_id, title, background, person_id, to_db(now), person_id, pending_max),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


async def move(
    conn: Connection, topic_id: int, from_states: Iterable[TopicState], to_state: TopicState,
    **fields: Any,
) -> bool:
    """Change state only from one of `from_states` (a double tap or a race moves it once); set `fields`."""
    states = [s.value for s in from_states]
    values = [to_db(v) if isinstance(v, datetime) else v for v in fields.values()]
    assignments = "".join(f", {name} = ?" for name in fields)
    cursor = await conn.execute(
        f"UPDATE deliberation_topics SET state = ?{assignments} WHERE id = ? AND state IN ({_marks(states)})",
        (to_state.value, *values, topic_id, *states),
    )
    return cursor.rowcount == 1


async def set_up(
    conn: Connection, topic_id: int, *, track: Track, community_id: int | None, title: str,
    background: str, rules: Rules, options: list[str], building_ids: list[int], opens_at: datetime,
    closes_at: datetime, created_by: int, now: datetime,
) -> bool:
    """Fill a draft with everything it needs and announce it; False when it is no longer a draft."""
    if not await move(
        conn, topic_id, (TopicState.DRAFT,), TopicState.ANNOUNCED, track=track.value, community_id=community_id,
        title=title, background=background, ballot_type=rules.ballot_type.value, max_choices=rules.max_choices,
        vote_unit=rules.vote_unit.value, anonymous=int(rules.anonymous), final=int(rules.final),
        visibility=rules.visibility.value, quorum_percent=rules.quorum_percent, opens_at=opens_at,
        closes_at=closes_at, created_by=created_by, announced_at=now,
    ):
        return False
    await conn.execute("DELETE FROM deliberation_options WHERE topic_id = ?", (topic_id,))
    await conn.executemany(
        "INSERT INTO deliberation_options (topic_id, position, label) VALUES (?, ?, ?)",
        [(topic_id, n, label) for n, label in enumerate(options, start=1)],
    )
    await conn.execute("DELETE FROM deliberation_buildings WHERE topic_id = ?", (topic_id,))
    await conn.executemany(
        "INSERT INTO deliberation_buildings (topic_id, building_id) VALUES (?, ?)",
        [(topic_id, b) for b in dict.fromkeys(building_ids)],
    )
    return True


async def set_anonymous(conn: Connection, topic_id: int, anonymous: bool) -> bool:
    """Switch secrecy while nobody has voted (the schema refuses it afterwards, this says no politely)."""
    rules = "anonymous = 1, final = 1, visibility = 'after_close'" if anonymous else "anonymous = 0"
    cursor = await conn.execute(
        f"UPDATE deliberation_topics SET {rules} WHERE id = ? AND state IN ('announced', 'open') "
        "AND NOT EXISTS (SELECT 1 FROM deliberation_voters WHERE topic_id = ?)",
        (topic_id, topic_id),
    )
    return cursor.rowcount == 1


async def add_attachments(conn: Connection, topic_id: int, files: Iterable[tuple[str, str, str]]) -> None:
    await conn.executemany(
        "INSERT INTO deliberation_attachments (topic_id, kind, file_id, name) VALUES (?, ?, ?, ?)",
        [(topic_id, kind, file_id, name) for kind, file_id, name in files],
    )


async def attachments(db: Database, topic_id: int) -> list[tuple[str, str, str]]:
    rows = await db.fetch_all(
        "SELECT kind, file_id, name FROM deliberation_attachments WHERE topic_id = ? ORDER BY id", (topic_id,)
    )
    return [(r["kind"], r["file_id"], r["name"]) for r in rows]


async def proposals(db: Database, community_ids: Iterable[int] | None) -> list[Topic]:
    """Proposals waiting for an organizer: of these communities, or all (None)."""
    if community_ids is None:
        return await _topics(db, "t.state = 'proposed'", tail="ORDER BY t.id")
    ids = list(community_ids)
    return await _topics(db, f"t.state = 'proposed' AND t.community_id IN ({_marks(ids)})", ids, "ORDER BY t.id")


async def managed(db: Database, community_ids: Iterable[int] | None, *, limit: int = 200) -> list[Topic]:
    """Topics past the proposal stage in these communities (None: all), newest first."""
    where = "t.state NOT IN ('proposed', 'declined')"
    if community_ids is None:
        return await _topics(db, where, tail=f"ORDER BY t.id DESC LIMIT {int(limit)}")
    ids = list(community_ids)
    return await _topics(db, f"{where} AND t.community_id IN ({_marks(ids)})", ids,
                         f"ORDER BY t.id DESC LIMIT {int(limit)}")


async def proposed_by(db: Database, person_id: int) -> list[Topic]:
    return await _topics(db, "t.proposed_by = ?", (person_id,), "ORDER BY t.id DESC LIMIT 20")


async def in_states(db: Database, states: Iterable[TopicState]) -> list[Topic]:
    values = [s.value for s in states]
    return await _topics(db, f"t.state IN ({_marks(values)})", values, "ORDER BY t.id")


async def set_outcome(
    conn: Connection, topic_id: int, *, decision: str, actions: str, responsible: str,
    review_at: datetime, by: int, now: datetime,
) -> bool:
    """The outcome statement, once, after close."""
    cursor = await conn.execute(
        "UPDATE deliberation_topics SET outcome_decision = ?, outcome_actions = ?, outcome_responsible = ?, "
        "review_at = ?, outcome_at = ?, outcome_by = ? WHERE id = ? AND state = 'closed' AND outcome_at IS NULL",
        (decision, actions, responsible, to_db(review_at), to_db(now), by, topic_id),
    )
    return cursor.rowcount == 1


# ---- who is eligible -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A person eligible right now: their home when they are a resident concerned, and their panel."""

    person_id: int
    building_id: int | None
    unit: str | None
    panel: Panel


# Verified residents of the topic's buildings (small) or community / street (big), plus the stakeholders
# invited for the topic (small) or the representatives (big). A representative or stakeholder who also
# lives there keeps their home (for per-household topics) and sits in their panel.
_LIVE = """
WITH t AS (SELECT id, track, community_id FROM deliberation_topics WHERE id = :topic),
residents AS (
    SELECT p.id AS person_id, p.building_id, p.unit FROM people p
    JOIN buildings b ON b.id = p.building_id JOIN grids g ON g.id = b.grid_id, t
    WHERE p.erased_at IS NULL AND p.verification = 'verified' AND (
        (t.track = 'small' AND p.building_id IN (SELECT building_id FROM deliberation_buildings WHERE topic_id = t.id))
        OR (t.track = 'big' AND (t.community_id IS NULL OR g.community_id = t.community_id)))),
invited AS (
    SELECT r.person_id, MIN(r.role) AS role FROM roles r JOIN people p ON p.id = r.person_id, t
    WHERE p.erased_at IS NULL AND (
        (t.track = 'small' AND r.role = 'stakeholder' AND r.scope_kind = 'topic' AND r.scope_id = t.id)
        OR (t.track = 'big' AND r.role = 'representative'
            AND (t.community_id IS NULL OR (r.scope_kind = 'community' AND r.scope_id = t.community_id))))
    GROUP BY r.person_id)
SELECT x.person_id, res.building_id, res.unit, COALESCE(inv.role, 'resident') AS panel
FROM (SELECT person_id FROM residents UNION SELECT person_id FROM invited) x
LEFT JOIN residents res ON res.person_id = x.person_id
LEFT JOIN invited inv ON inv.person_id = x.person_id
"""


async def live_candidates(source: Reader, topic_id: int, person_id: int | None = None) -> list[Candidate]:
    """Who is eligible now (before opening); with `person_id`, just that person or nobody."""
    sql = _LIVE + ("WHERE x.person_id = :person " if person_id is not None else "") + "ORDER BY x.person_id"
    params = {"topic": topic_id, "person": person_id}
    rows = await source.fetch_all(sql, params)
    return [Candidate(r["person_id"], r["building_id"], r["unit"], Panel(r["panel"])) for r in rows]


async def freeze(conn: Connection, topic_id: int, rows: Iterable[tuple[int, str, Panel]]) -> None:
    """Write the eligible list as it stands at opening; later moves and new residents change nothing."""
    await conn.executemany(
        "INSERT OR IGNORE INTO deliberation_eligible (topic_id, person_id, voter_key, panel) VALUES (?, ?, ?, ?)",
        [(topic_id, person, key, panel.value) for person, key, panel in rows],
    )


@dataclass(frozen=True)
class Eligible:
    id: int
    person_id: int
    voter_key: str
    panel: Panel


async def eligible_of(source: Reader, topic_id: int, person_id: int) -> Eligible | None:
    row = await source.fetch_one(
        "SELECT id, person_id, voter_key, panel FROM deliberation_eligible WHERE topic_id = ? "
        "AND person_id = ?", (topic_id, person_id),
    )
    return None if row is None else Eligible(row["id"], row["person_id"], row["voter_key"], Panel(row["panel"]))


async def eligible_people(source: Reader, topic_id: int) -> list[int]:
    rows = await source.fetch_all(
        "SELECT person_id FROM deliberation_eligible WHERE topic_id = ? ORDER BY person_id", (topic_id,)
    )
    return [r["person_id"] for r in rows]


async def eligible_count(source: Reader, topic_id: int) -> int:
    """Eligible votes: people, or households on per-household topics."""
    row = await source.fetch_one(
        "SELECT COUNT(DISTINCT voter_key) FROM deliberation_eligible WHERE topic_id = ?", (topic_id,)
    )
    return int(row[0]) if row else 0


async def not_voted(source: Reader, topic_id: int) -> list[Eligible]:
    """Eligible people whose vote (their own, or their household's) is not cast yet."""
    rows = await source.fetch_all(
        "SELECT e.id, e.person_id, e.voter_key, e.panel FROM deliberation_eligible e "
        "WHERE e.topic_id = ? AND NOT EXISTS (SELECT 1 FROM deliberation_voters v "
        "WHERE v.topic_id = e.topic_id AND v.voter_key = e.voter_key) ORDER BY e.person_id", (topic_id,),
    )
    return [Eligible(r["id"], r["person_id"], r["voter_key"], Panel(r["panel"])) for r in rows]


async def still_to_vote(db: Database, eligible_id: int) -> bool:
    """Is this eligible row's topic open and its vote not cast? (The reminder's drop check.)"""
    row = await db.fetch_one(
        "SELECT 1 FROM deliberation_eligible e JOIN deliberation_topics t ON t.id = e.topic_id "
        "WHERE e.id = ? AND t.state = 'open' AND NOT EXISTS (SELECT 1 FROM deliberation_voters v "
        "WHERE v.topic_id = e.topic_id AND v.voter_key = e.voter_key)", (eligible_id,),
    )
    return row is not None


async def topics_of_person(db: Database, person_id: int) -> list[Topic]:
    """Topics this person may see as a voter: frozen lists they are on, and announced topics they are
    eligible for now."""
    frozen = await _topics(
        db, "t.state IN ('open', 'closed') AND t.id IN (SELECT topic_id FROM deliberation_eligible "
        "WHERE person_id = ?)", (person_id,),
    )
    announced = [t for t in await in_states(db, (TopicState.ANNOUNCED,))
                 if await live_candidates(db, t.id, person_id)]
    return sorted([*frozen, *announced], key=lambda t: t.id, reverse=True)


# ---- voting --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voter:
    person_id: int | None
    voted_at: datetime
    changed_at: datetime | None
    ballot_id: str | None


async def voter(source: Reader, topic_id: int, voter_key: str) -> Voter | None:
    row = await source.fetch_one(
        "SELECT person_id, voted_at, changed_at, ballot_id FROM deliberation_voters "
        "WHERE topic_id = ? AND voter_key = ?", (topic_id, voter_key),
    )
    if row is None:
        return None
    changed = from_db(row["changed_at"]) if row["changed_at"] else None
    return Voter(row["person_id"], from_db(row["voted_at"]), changed, row["ballot_id"])


async def cast(
    conn: Connection, *, topic: Topic, voter_key: str, person_id: int, panel: Panel,
    choices: tuple[int, ...], now: datetime,
) -> bool:
    """Record a first vote: the ballot (random key, no person, no time) and who voted. On an anonymous
    topic the two rows share nothing; on a named one the voter row keeps the key to allow changes.

    Topic state, close time and eligibility are re-checked in the INSERT itself; False when it did not
    count (closed, ineligible, or the key voted already — the primary key refuses a second vote)."""
    ballot_id = secrets.token_hex(16)
    cursor = await conn.execute(
        "INSERT OR IGNORE INTO deliberation_voters (topic_id, voter_key, person_id, voted_at, ballot_id) "
        "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM deliberation_topics WHERE id = ? AND state = 'open' "
        "AND closes_at > ?) AND EXISTS (SELECT 1 FROM deliberation_eligible WHERE topic_id = ? AND person_id = ? "
        "AND voter_key = ?)",
        (topic.id, voter_key, person_id, to_db(now), None if topic.rules.anonymous else ballot_id,
         topic.id, to_db(now), topic.id, person_id, voter_key),
    )
    if cursor.rowcount != 1:
        return False
    await conn.execute(
        "INSERT INTO deliberation_ballots (id, topic_id, panel, choices) VALUES (?, ?, ?, ?)",
        (ballot_id, topic.id, panel.value, encode_choices(choices)),
    )
    return True


async def change(
    conn: Connection, *, topic_id: int, voter_key: str, person_id: int, choices: tuple[int, ...],
    now: datetime,
) -> bool:
    """Change a named ballot before close, only by the person who cast it."""
    cursor = await conn.execute(
        "UPDATE deliberation_ballots SET choices = ? WHERE id = (SELECT ballot_id FROM deliberation_voters "
        "WHERE topic_id = ? AND voter_key = ? AND person_id = ?) AND EXISTS (SELECT 1 FROM deliberation_topics "
        "WHERE id = ? AND state = 'open' AND closes_at > ? AND anonymous = 0 AND final = 0)",
        (encode_choices(choices), topic_id, voter_key, person_id, topic_id, to_db(now)),
    )
    if cursor.rowcount != 1:
        return False
    await conn.execute(
        "UPDATE deliberation_voters SET changed_at = ? WHERE topic_id = ? AND voter_key = ?",
        (to_db(now), topic_id, voter_key),
    )
    return True


async def named_choices(source: Reader, ballot_id: str) -> tuple[int, ...]:
    row = await source.fetch_one("SELECT choices FROM deliberation_ballots WHERE id = ?", (ballot_id,))
    return decode_choices(row["choices"]) if row else ()


async def voted_count(source: Reader, topic_id: int) -> int:
    row = await source.fetch_one("SELECT COUNT(*) FROM deliberation_voters WHERE topic_id = ?", (topic_id,))
    return int(row[0]) if row else 0


async def ballots(source: Reader, topic_id: int) -> list[tuple[Panel, tuple[int, ...]]]:
    """Every ballot of the topic: panel and choices only. Call only when results may be shown."""
    rows = await source.fetch_all(
        "SELECT panel, choices FROM deliberation_ballots WHERE topic_id = ? ORDER BY id", (topic_id,)
    )
    return [(Panel(r["panel"]), decode_choices(r["choices"])) for r in rows]


async def participants(source: Reader, topic_id: int) -> list[int]:
    """The people who cast a vote (for follow-ups and ratings)."""
    rows = await source.fetch_all(
        "SELECT person_id FROM deliberation_voters WHERE topic_id = ? AND person_id IS NOT NULL "
        "ORDER BY person_id", (topic_id,),
    )
    return [r["person_id"] for r in rows]


async def voted_topics(db: Database, person_id: int) -> set[int]:
    """Topics whose vote this person's key holds (their own, or their household's)."""
    rows = await db.fetch_all(
        "SELECT e.topic_id FROM deliberation_eligible e JOIN deliberation_voters v "
        "ON v.topic_id = e.topic_id AND v.voter_key = e.voter_key WHERE e.person_id = ?", (person_id,),
    )
    return {r["topic_id"] for r in rows}


# ---- questions, follow-ups, ratings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: int
    topic_id: int
    person_id: int | None
    question: str
    asked_at: datetime
    answer: str | None


def _question(row: Row) -> Question:
    return Question(row["id"], row["topic_id"], row["person_id"], row["question"], from_db(row["asked_at"]),
                    row["answer"])


async def add_question(
    conn: Connection, *, topic_id: int, person_id: int, text: str, now: datetime, open_max: int
) -> int | None:
    """A question, unless this person already has `open_max` unanswered on this topic."""
    cursor = await conn.execute(
        "INSERT INTO deliberation_questions (topic_id, person_id, question, asked_at) SELECT ?, ?, ?, ? "
        "WHERE (SELECT COUNT(*) FROM deliberation_questions WHERE topic_id = ? AND person_id = ? "
        "AND answered_at IS NULL) < ?",
        (topic_id, person_id, text, to_db(now), topic_id, person_id, open_max),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


async def question(source: Reader, question_id: int) -> Question | None:
    row = await source.fetch_one("SELECT * FROM deliberation_questions WHERE id = ?", (question_id,))
    return None if row is None else _question(row)


async def answer(conn: Connection, question_id: int, text: str, by: int, now: datetime) -> bool:
    cursor = await conn.execute(
        "UPDATE deliberation_questions SET answer = ?, answered_by = ?, answered_at = ? "
        "WHERE id = ? AND answered_at IS NULL",
        (text, by, to_db(now), question_id),
    )
    return cursor.rowcount == 1


async def questions(db: Database, topic_id: int, *, answered: bool) -> list[Question]:
    rows = await db.fetch_all(
        "SELECT * FROM deliberation_questions WHERE topic_id = ? AND answered_at IS "
        + ("NOT NULL ORDER BY answered_at" if answered else "NULL ORDER BY id"), (topic_id,),
    )
    return [_question(r) for r in rows]


async def add_followup(conn: Connection, topic_id: int, text: str, by: int, now: datetime) -> int:
    cursor = await conn.execute(
        "INSERT INTO deliberation_followups (topic_id, text, posted_by, posted_at) VALUES (?, ?, ?, ?)",
        (topic_id, text, by, to_db(now)),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def followups(db: Database, topic_id: int) -> list[tuple[str, datetime]]:
    rows = await db.fetch_all(
        "SELECT text, posted_at FROM deliberation_followups WHERE topic_id = ? ORDER BY id", (topic_id,)
    )
    return [(r["text"], from_db(r["posted_at"])) for r in rows]


async def rate(conn: Connection, topic_id: int, person_id: int, stars: int, now: datetime) -> None:
    """One rating per participant; rating again replaces it."""
    await conn.execute(
        "INSERT INTO deliberation_ratings (topic_id, person_id, stars, rated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (topic_id, person_id) DO UPDATE SET stars = excluded.stars, rated_at = excluded.rated_at",
        (topic_id, person_id, stars, to_db(now)),
    )


async def ratings(db: Database, topic_id: int) -> tuple[float | None, int]:
    row = await db.fetch_one(
        "SELECT AVG(stars) AS average, COUNT(*) AS n FROM deliberation_ratings WHERE topic_id = ?", (topic_id,)
    )
    return (None, 0) if row is None or not row["n"] else (float(row["average"]), int(row["n"]))


async def my_rating(db: Database, topic_id: int, person_id: int) -> int | None:
    value = await db.fetch_value(
        "SELECT stars FROM deliberation_ratings WHERE topic_id = ? AND person_id = ?", (topic_id, person_id)
    )
    return None if value is None else int(value)


# ---- personal data ---------------------------------------------------------------------------------------


async def export_person(db: Database, person_id: int) -> list[dict[str, Any]]:
    """What a person gave to deliberations. An anonymous ballot cannot be listed: nothing ties it to them."""
    out: list[dict[str, Any]] = []
    for row in await db.fetch_all(
        "SELECT id, title, background, state, decline_reason, created_at FROM deliberation_topics "
        "WHERE proposed_by = ? ORDER BY id", (person_id,),
    ):
        out.append({"proposal": dict(row)})
    for row in await db.fetch_all(
        "SELECT v.topic_id, t.title, t.anonymous, v.voted_at, v.changed_at, b.choices FROM deliberation_voters v "
        "JOIN deliberation_topics t ON t.id = v.topic_id LEFT JOIN deliberation_ballots b ON b.id = v.ballot_id "
        "WHERE v.person_id = ? ORDER BY v.topic_id", (person_id,),
    ):
        vote = dict(row)
        vote["choices"] = "secret" if row["anonymous"] else row["choices"]
        out.append({"vote": vote})
    for row in await db.fetch_all(
        "SELECT topic_id, question, asked_at, answer FROM deliberation_questions WHERE person_id = ? ORDER BY id",
        (person_id,),
    ):
        out.append({"question": dict(row)})
    for row in await db.fetch_all(
        "SELECT topic_id, stars, rated_at FROM deliberation_ratings WHERE person_id = ? ORDER BY id", (person_id,)
    ):
        out.append({"rating": dict(row)})
    return out


async def erase_person(conn: Connection, person_id: int) -> None:
    """Votes keep counting without the person; their own words go. Proposals an organizer took up stay as the
    topic's text, the ones still waiting or declined lose theirs."""
    await conn.execute(
        "UPDATE deliberation_topics SET title = '—', background = '' WHERE proposed_by = ? "
        "AND state IN ('proposed', 'declined')", (person_id,),
    )
    await conn.execute("UPDATE deliberation_topics SET proposed_by = NULL WHERE proposed_by = ?", (person_id,))
    await conn.execute(
        "UPDATE deliberation_questions SET question = '', person_id = NULL WHERE person_id = ?", (person_id,)
    )
    await conn.execute("UPDATE deliberation_voters SET person_id = NULL WHERE person_id = ?", (person_id,))
    await conn.execute("UPDATE deliberation_ratings SET person_id = NULL WHERE person_id = ?", (person_id,))

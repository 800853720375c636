-- Notices to chosen audiences (broadcasts), residents' topic choices, linked Telegram groups, meetings.

-- A resident who turned a topic off. Safety notices cannot be turned off (not a choice here).
CREATE TABLE notification_mutes (
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    topic TEXT NOT NULL CHECK (topic IN ('meetings', 'community', 'volunteering')),
    muted_at TEXT NOT NULL,
    PRIMARY KEY (person_id, topic)
);

-- A Telegram group the bot is in; linked by an organizer (/linkgroup) to a grid or a building.
-- member = 0 once the bot was removed: no notice goes there until it is added back.
CREATE TABLE bot_groups (
    chat_id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    member INTEGER NOT NULL DEFAULT 1,
    scope_kind TEXT CHECK (scope_kind IN ('grid', 'building')),
    scope_id INTEGER,
    linked_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    linked_at TEXT,
    updated_at TEXT NOT NULL,
    CHECK ((scope_kind IS NULL) = (scope_id IS NULL))
);
CREATE INDEX bot_groups_scope ON bot_groups(scope_kind, scope_id) WHERE member = 1;

-- A meeting. Its times, places and cancellation live in slot_events (kind 'meeting').
-- community_id: whose meeting it is (NULL: the whole street). topic_id: a linked deliberation topic
-- (a plain id; the deliberation tables come with their own migration).
CREATE TABLE meetings (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    agenda TEXT NOT NULL DEFAULT '',
    place TEXT NOT NULL DEFAULT '',
    community_id INTEGER REFERENCES communities(id),
    topic_id INTEGER,
    sequence INTEGER NOT NULL DEFAULT 0,
    minutes TEXT,
    minutes_at TEXT,
    minutes_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX meetings_community ON meetings(community_id);

-- A person's answer to a meeting notice. A "going" answer also holds a seat (place or waitlist).
-- attended: NULL until the organizer marks it, then 1 (present) or 0 (absent).
CREATE TABLE meeting_answers (
    meeting_id INTEGER NOT NULL REFERENCES meetings(id),
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    answer TEXT NOT NULL CHECK (answer IN ('going', 'maybe', 'no')),
    attended INTEGER CHECK (attended IN (0, 1)),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (meeting_id, person_id)
);
CREATE INDEX meeting_answers_person ON meeting_answers(person_id);

-- A notice to an audience. audience: JSON {"kind", "ids"} resolved when it starts sending.
-- first_row..last_row: its outbox rows (one enqueue gives consecutive ids), for progress counts.
-- progress_*: the one message to the author edited in place while it goes out.
CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    audience TEXT NOT NULL,
    topic TEXT NOT NULL CHECK (topic IN ('meetings', 'community', 'volunteering', 'safety')),
    body TEXT NOT NULL DEFAULT '',
    photo TEXT,
    document TEXT,
    meeting_id INTEGER REFERENCES meetings(id),
    state TEXT NOT NULL CHECK (state IN ('awaiting_approval', 'scheduled', 'sending', 'done', 'stopped',
                                         'cancelled', 'rejected')),
    send_at TEXT,
    approved_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    decided_at TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    people_count INTEGER NOT NULL DEFAULT 0,
    group_count INTEGER NOT NULL DEFAULT 0,
    muted_count INTEGER NOT NULL DEFAULT 0,
    first_row INTEGER,
    last_row INTEGER,
    progress_chat_id INTEGER,
    progress_message_id INTEGER,
    progress_text TEXT,
    progress_at TEXT,
    progress_final INTEGER NOT NULL DEFAULT 0,
    CHECK (photo IS NULL OR document IS NULL)
);
CREATE INDEX broadcasts_state ON broadcasts(state);
CREATE INDEX broadcasts_author ON broadcasts(created_by, id);
CREATE INDEX broadcasts_meeting ON broadcasts(meeting_id);

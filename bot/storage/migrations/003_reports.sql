-- Reports (a task once assigned), their events, media, followers, ratings and relayed questions.

-- Per-year sequence behind public numbers such as R-2026-000123.
CREATE TABLE report_numbers (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

-- accept_by is the sign-for deadline of the first assignment (the response rate compares accepted_at with
-- it); due_at is whatever deadline the current assignee works to (sign-for, then fix), for task lists.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('submitted', 'assigned', 'accepted', 'in_progress', 'resolved',
        'closed', 'closed_unverified', 'reopened', 'transferred', 'not_ours', 'duplicate', 'deliberation',
        'withdrawn')),
    urgent INTEGER NOT NULL DEFAULT 0,
    anonymous INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    voice TEXT,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    unit TEXT,
    lat REAL,
    lon REAL,
    grid_id INTEGER NOT NULL REFERENCES grids(id),
    community_id INTEGER NOT NULL REFERENCES communities(id),
    reporter_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    channel TEXT NOT NULL DEFAULT 'bot' CHECK (channel IN ('bot', 'phone', 'walk_in', 'hotline_12345')),
    filed_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    contact_name TEXT,
    contact_phone TEXT,
    assignee_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    -- The event that made the current assignment: pushes for an older assignment are dropped.
    assignment_event INTEGER,
    created_at TEXT NOT NULL,
    assigned_at TEXT,
    accept_by TEXT,
    accepted_at TEXT,
    fix_by TEXT,
    due_at TEXT,
    resolved_at TEXT,
    resolution_note TEXT,
    verify_hours INTEGER,
    verify_delivered_at TEXT,
    closed_at TEXT,
    outcome TEXT CHECK (outcome IS NULL OR outcome IN ('confirmed_fixed', 'unverified', 'not_ours', 'duplicate',
        'withdrawn')),
    outcome_reason TEXT,
    duplicate_of INTEGER REFERENCES reports(id),
    reopen_count INTEGER NOT NULL DEFAULT 0,
    affected_count INTEGER NOT NULL DEFAULT 1,
    accept_overdue_at TEXT,
    fix_overdue_at TEXT,
    updated_at TEXT NOT NULL
);
-- A worker's open tasks by deadline; a resident's reports newest first; duplicates nearby; staff lists.
CREATE INDEX reports_assignee_open ON reports(assignee_id, due_at) WHERE closed_at IS NULL;
CREATE INDEX reports_reporter ON reports(reporter_id, id);
CREATE INDEX reports_open_building ON reports(building_id, category, created_at) WHERE closed_at IS NULL;
CREATE INDEX reports_grid ON reports(grid_id, id);
CREATE INDEX reports_community ON reports(community_id, id);
-- The three rates over a period: assigned (response), closed (resolution).
CREATE INDEX reports_assigned_at ON reports(assigned_at);
CREATE INDEX reports_closed_at ON reports(closed_at);

-- Photos and voice notes as Telegram file ids: with the report, added later as information, after the fix.
CREATE TABLE report_media (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('report', 'info', 'after')),
    kind TEXT NOT NULL CHECK (kind IN ('photo', 'voice')),
    file_id TEXT NOT NULL,
    added_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    added_at TEXT NOT NULL
);
CREATE INDEX report_media_report ON report_media(report_id, id);

-- Who did what, when: every state change and every note, written with the change itself.
CREATE TABLE report_events (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    actor_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX report_events_report ON report_events(report_id, id);

CREATE TABLE report_followers (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    followed_at TEXT NOT NULL,
    PRIMARY KEY (report_id, person_id)
);
CREATE INDEX report_followers_person ON report_followers(person_id);

-- One rating per closed report, from its reporter: the satisfaction rate is stars >= 4 over all rows.
CREATE TABLE report_ratings (
    report_id INTEGER PRIMARY KEY REFERENCES reports(id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment TEXT,
    rated_at TEXT NOT NULL
);
CREATE INDEX report_ratings_rated_at ON report_ratings(rated_at);

-- "Ask the reporter": a question and its answer relayed through the bot, anonymous reports included.
CREATE TABLE report_questions (
    id INTEGER PRIMARY KEY,
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    asker_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    question TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    answer TEXT,
    answered_at TEXT
);
CREATE INDEX report_questions_report ON report_questions(report_id);

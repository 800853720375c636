-- Grid team operations: recurring patrols and the tasks they became, leave with stand-ins, the duty roster,
-- and grid workers' answers on residents' homes. (The daily digest is a timer row of 002, not a table.)

-- A recurring check. `next_at` mirrors the pending `patrol.due` timer for lists; the timer is the truth.
CREATE TABLE patrols (
    id INTEGER PRIMARY KEY,
    grid_id INTEGER NOT NULL REFERENCES grids(id),
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    title TEXT NOT NULL,
    schedule TEXT NOT NULL,
    working_time INTEGER NOT NULL DEFAULT 1,
    paused_at TEXT,
    next_at TEXT,
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    stopped_at TEXT
);
CREATE INDEX patrols_grid ON patrols(grid_id) WHERE stopped_at IS NULL;

-- Each occurrence that became a task (a report of category 'patrol'); one per patrol and due time.
CREATE TABLE patrol_runs (
    report_id INTEGER PRIMARY KEY REFERENCES reports(id) ON DELETE CASCADE,
    patrol_id INTEGER NOT NULL REFERENCES patrols(id) ON DELETE CASCADE,
    due_at TEXT NOT NULL,
    UNIQUE (patrol_id, due_at)
);

-- Leave by whole days; starts_at/ends_at are those days in UTC, so routing compares moments.
CREATE TABLE leaves (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    stand_in_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    cancelled_at TEXT
);
CREATE INDEX leaves_person ON leaves(person_id, ends_at) WHERE cancelled_at IS NULL;
CREATE INDEX leaves_stand_in ON leaves(stand_in_id, ends_at) WHERE cancelled_at IS NULL;

-- Who is on duty for a grid or a community on which roster days (see bot/domain/roster.py).
CREATE TABLE duty_shifts (
    id INTEGER PRIMARY KEY,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('grid', 'community')),
    scope_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX duty_shifts_scope ON duty_shifts(scope_kind, scope_id, last_day);
CREATE INDEX duty_shifts_person ON duty_shifts(person_id);

-- A grid worker's answer to the home a resident claims. 'confirmed' also sets people.verification;
-- 'rejected' (with the reason the resident read) keeps that claim off the waiting list.
CREATE TABLE home_reviews (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    unit TEXT NOT NULL DEFAULT '',
    decision TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    reason TEXT,
    reviewer_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    reviewed_at TEXT NOT NULL
);
CREATE INDEX home_reviews_person ON home_reviews(person_id, id);
CREATE INDEX people_unreachable ON people(unreachable_at) WHERE unreachable_at IS NOT NULL;

-- Events with places (volunteer activities now, meetings later) and volunteering itself.

-- Any event with places, keyed by (kind, event_id): the feature's own table holds the rest.
-- capacity NULL means no limit. Times are UTC ISO text (bot.clock.to_db).
CREATE TABLE slot_events (
    kind TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'cancelled')),
    CHECK (ends_at > starts_at),
    PRIMARY KEY (kind, event_id)
);
CREATE INDEX slot_events_start ON slot_events(kind, state, starts_at);

-- One seat per person per event; signing up again after cancelling reuses it at the back of the queue.
-- seq orders the waitlist (first in, first out). An offer holds a place until offer_expires_at,
-- set when the offer message is delivered.
CREATE TABLE seats (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    state TEXT NOT NULL
        CHECK (state IN ('confirmed', 'waitlisted', 'offered', 'cancelled', 'lapsed')),
    seq INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    offered_at TEXT,
    offer_minutes INTEGER,
    offer_delivered_at TEXT,
    offer_expires_at TEXT,
    FOREIGN KEY (kind, event_id) REFERENCES slot_events(kind, event_id),
    UNIQUE (kind, event_id, person_id)
);
CREATE INDEX seats_queue ON seats(kind, event_id, state, seq);
CREATE INDEX seats_person ON seats(person_id, state);

-- A resident who chose to volunteer: what they can do and when, and when they agreed.
CREATE TABLE volunteers (
    person_id INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    skills TEXT NOT NULL DEFAULT '',
    availability TEXT NOT NULL DEFAULT '',
    consent_at TEXT NOT NULL,
    joined_at TEXT NOT NULL
);

-- A community project (微创投): groups activities under the organisation that runs it.
CREATE TABLE volunteer_projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    organisation TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    community_id INTEGER NOT NULL REFERENCES communities(id),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('planned', 'active', 'completed')),
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX volunteer_projects_community ON volunteer_projects(community_id, status);

-- A volunteer activity. Places, times and cancellation live in slot_events (kind 'opportunity').
-- community_id is the community it belongs to (NULL for the whole street), for residents' lists.
CREATE TABLE opportunities (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('street', 'community', 'grid')),
    scope_id INTEGER NOT NULL DEFAULT 0,
    community_id INTEGER REFERENCES communities(id),
    place TEXT NOT NULL DEFAULT '',
    skills TEXT NOT NULL DEFAULT '',
    hours REAL NOT NULL CHECK (hours >= 0),
    points INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
    project_id INTEGER REFERENCES volunteer_projects(id),
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX opportunities_community ON opportunities(community_id);
CREATE INDEX opportunities_project ON opportunities(project_id);

-- Attendance and service hours for a seat: a one-time check-in code, then attended or no-show;
-- hours are pending until verified, and points are granted only at verification.
CREATE TABLE volunteer_service (
    seat_id INTEGER PRIMARY KEY REFERENCES seats(id) ON DELETE CASCADE,
    opportunity_id INTEGER NOT NULL REFERENCES opportunities(id),
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    checkin_code TEXT,
    status TEXT NOT NULL DEFAULT 'expected'
        CHECK (status IN ('expected', 'attended', 'no_show', 'verified')),
    method TEXT CHECK (method IN ('roster', 'code')),
    checked_in_at TEXT,
    checked_in_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    hours REAL NOT NULL DEFAULT 0,
    points INTEGER NOT NULL DEFAULT 0,
    verified_at TEXT,
    verified_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    UNIQUE (opportunity_id, checkin_code)
);
CREATE INDEX volunteer_service_person ON volunteer_service(person_id, status);

-- Each service record document issued: its number (set from the id) is printed on the document.
CREATE TABLE service_records (
    id INTEGER PRIMARY KEY,
    number TEXT UNIQUE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    issued_at TEXT NOT NULL,
    hours REAL NOT NULL,
    points INTEGER NOT NULL,
    activities INTEGER NOT NULL
);
CREATE INDEX service_records_person ON service_records(person_id);

-- Street structure, people, roles, invites and drafts.
CREATE TABLE communities (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE grids (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    community_id INTEGER NOT NULL REFERENCES communities(id),
    name TEXT NOT NULL
);
CREATE INDEX grids_community ON grids(community_id);

CREATE TABLE buildings (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    grid_id INTEGER NOT NULL REFERENCES grids(id),
    name TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    lat REAL,
    lon REAL
);
CREATE INDEX buildings_grid ON buildings(grid_id);

-- A person may exist before they open the bot (imported staff and residents): telegram_id NULL.
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    telegram_id INTEGER UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    username TEXT,
    phone TEXT,
    locale TEXT,
    consent_at TEXT,
    building_id INTEGER REFERENCES buildings(id),
    unit TEXT,
    verification TEXT NOT NULL DEFAULT 'unverified' CHECK (verification IN ('unverified', 'verified')),
    verified_by INTEGER REFERENCES people(id),
    verified_at TEXT,
    onboarded_at TEXT,
    unreachable_at TEXT,
    unreachable_reason TEXT,
    created_at TEXT NOT NULL,
    erased_at TEXT
);
CREATE INDEX people_building ON people(building_id);
CREATE INDEX people_phone ON people(phone);

-- Roles are data: (person, role, scope). scope_id 0 means the whole street.
CREATE TABLE roles (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('street', 'community', 'grid', 'topic')),
    scope_id INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    granted_at TEXT NOT NULL,
    UNIQUE (person_id, role, scope_kind, scope_id)
);
CREATE INDEX roles_scope ON roles(scope_kind, scope_id, role);

CREATE TABLE invites (
    token TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_id INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    used_at TEXT
);

-- Each person's multi-step flow: step + data + version, written by the handler in its transaction.
CREATE TABLE drafts (
    telegram_id INTEGER PRIMARY KEY,
    flow TEXT NOT NULL,
    step TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 1,
    message_id INTEGER,
    updated_at TEXT NOT NULL
);

-- Who did what, for audits (identity reveals, contact views, role changes).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);

-- The outbox (every push to someone else) and due-time rows (every deadline, reminder and closing).

-- One row per message to one chat. person_id for people (their chat and language are looked up when
-- the row is sent), chat_id alone for group chats. due_at is "not before", later the next retry.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    lane INTEGER NOT NULL DEFAULT 0,
    person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    chat_id INTEGER,
    template TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    buttons TEXT,
    photo TEXT,
    document TEXT,
    urgent INTEGER NOT NULL DEFAULT 0,
    reason_kind TEXT,
    reason_id INTEGER,
    delivered_kind TEXT,
    delivered_id INTEGER,
    created_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'sent', 'dropped', 'failed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    sending_at TEXT,
    delivered_at TEXT,
    telegram_chat_id INTEGER,
    message_id INTEGER,
    last_error TEXT,
    -- Set when a send may have reached Telegram without us recording it (crash or timeout mid-request).
    possible_duplicate INTEGER NOT NULL DEFAULT 0,
    CHECK ((person_id IS NULL) <> (chat_id IS NULL))
);
CREATE INDEX outbox_pending ON outbox(lane, due_at, id) WHERE state = 'pending';
CREATE INDEX outbox_next_due ON outbox(due_at) WHERE state = 'pending';
CREATE INDEX outbox_sending ON outbox(id) WHERE state = 'sending';
CREATE INDEX outbox_person ON outbox(person_id, state);
CREATE INDEX outbox_dead ON outbox(state, id) WHERE state IN ('failed', 'dead');

-- A due time for (kind, subject): at most one pending row each, so scheduling twice replaces.
-- due_at is when it is meant to fire; run_at is when the scanner tries next (later after an error).
CREATE TABLE timers (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    due_at TEXT NOT NULL,
    run_at TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'fired', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    fired_at TEXT
);
CREATE UNIQUE INDEX timers_one_pending ON timers(kind, subject) WHERE state = 'pending';
CREATE INDEX timers_due ON timers(run_at, id) WHERE state = 'pending';

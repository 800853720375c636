-- Deliberation: topics on two tracks, their eligible people frozen at opening, who voted, and ballots.
-- Secrecy lives in the schema: see bot/storage/deliberation.py for why ballots look the way they do.

-- A topic from proposal to follow-up. track is NULL while a resident's proposal waits for an organizer.
-- community_id NULL: a street-wide community consultation. Anonymous topics are final and show results
-- only after close (the CHECK), and anonymity cannot change once someone has voted (a trigger below).
CREATE TABLE deliberation_topics (
    id INTEGER PRIMARY KEY,
    track TEXT CHECK (track IN ('small', 'big')),
    state TEXT NOT NULL
        CHECK (state IN ('proposed', 'declined', 'draft', 'announced', 'open', 'closed', 'cancelled')),
    community_id INTEGER REFERENCES communities(id),
    title TEXT NOT NULL,
    background TEXT NOT NULL DEFAULT '',
    ballot_type TEXT NOT NULL DEFAULT 'yes_no' CHECK (ballot_type IN ('yes_no', 'single', 'multi')),
    max_choices INTEGER NOT NULL DEFAULT 1 CHECK (max_choices >= 1),
    vote_unit TEXT NOT NULL DEFAULT 'person' CHECK (vote_unit IN ('person', 'household')),
    anonymous INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    final INTEGER NOT NULL DEFAULT 0 CHECK (final IN (0, 1)),
    visibility TEXT NOT NULL DEFAULT 'after_close' CHECK (visibility IN ('always', 'after_vote', 'after_close')),
    quorum_percent INTEGER NOT NULL DEFAULT 0 CHECK (quorum_percent BETWEEN 0 AND 100),
    opens_at TEXT,
    closes_at TEXT,
    proposed_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    decided_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    decline_reason TEXT,
    report_id INTEGER REFERENCES reports(id),
    created_at TEXT NOT NULL,
    announced_at TEXT,
    opened_at TEXT,
    closed_at TEXT,
    outcome_decision TEXT,
    outcome_actions TEXT,
    outcome_responsible TEXT,
    review_at TEXT,
    outcome_at TEXT,
    outcome_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    CHECK (anonymous = 0 OR (final = 1 AND visibility = 'after_close')),
    CHECK (state IN ('proposed', 'declined') OR track IS NOT NULL)
);
CREATE INDEX deliberation_topics_state ON deliberation_topics(state, community_id);
CREATE INDEX deliberation_topics_proposer ON deliberation_topics(proposed_by, state);

-- Options of 'single' and 'multi' topics, numbered from 1 (yes / no / abstain are 1 / 2 / 3, not stored).
CREATE TABLE deliberation_options (
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    position INTEGER NOT NULL CHECK (position BETWEEN 1 AND 10),
    label TEXT NOT NULL,
    PRIMARY KEY (topic_id, position)
);

-- The buildings a small-track topic concerns.
CREATE TABLE deliberation_buildings (
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    building_id INTEGER NOT NULL REFERENCES buildings(id),
    PRIMARY KEY (topic_id, building_id)
);

CREATE TABLE deliberation_attachments (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    kind TEXT NOT NULL CHECK (kind IN ('photo', 'document')),
    file_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliberation_attachments_topic ON deliberation_attachments(topic_id);

-- The eligible list, frozen when voting opens: who may vote and under which key. voter_key is the person
-- ('p<person id>') or, on per-household topics, the household ('h<building id>:<unit>'). panel: whether
-- the vote also shows in the representatives' (or stakeholders') panel.
CREATE TABLE deliberation_eligible (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    voter_key TEXT NOT NULL,
    panel TEXT NOT NULL CHECK (panel IN ('resident', 'representative', 'stakeholder')),
    UNIQUE (topic_id, person_id)
);
CREATE INDEX deliberation_eligible_key ON deliberation_eligible(topic_id, voter_key);
CREATE INDEX deliberation_eligible_person ON deliberation_eligible(person_id);

-- Who voted: one row per eligible person or household and topic (the primary key is the one-vote rule).
-- ballot_id links a named topic's ballot so it can be changed; on anonymous topics it is always NULL.
CREATE TABLE deliberation_voters (
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    voter_key TEXT NOT NULL,
    person_id INTEGER REFERENCES people(id),
    voted_at TEXT NOT NULL,
    changed_at TEXT,
    ballot_id TEXT REFERENCES deliberation_ballots(id) DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (topic_id, voter_key)
);
CREATE INDEX deliberation_voters_person ON deliberation_voters(person_id);

-- Ballots: a random key, the topic, the panel and the choices ('1,3'). No person, no time, no rowid.
CREATE TABLE deliberation_ballots (
    id TEXT PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    panel TEXT NOT NULL CHECK (panel IN ('resident', 'representative', 'stakeholder')),
    choices TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliberation_ballots_topic ON deliberation_ballots(topic_id);

CREATE TRIGGER deliberation_anonymous_unlinked BEFORE INSERT ON deliberation_voters
WHEN NEW.ballot_id IS NOT NULL AND (SELECT anonymous FROM deliberation_topics WHERE id = NEW.topic_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'an anonymous ballot is never tied to its voter');
END;

CREATE TRIGGER deliberation_anonymous_stays_unlinked BEFORE UPDATE OF ballot_id ON deliberation_voters
WHEN NEW.ballot_id IS NOT NULL AND (SELECT anonymous FROM deliberation_topics WHERE id = NEW.topic_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'an anonymous ballot is never tied to its voter');
END;

CREATE TRIGGER deliberation_anonymous_final BEFORE UPDATE ON deliberation_ballots
WHEN (SELECT anonymous FROM deliberation_topics WHERE id = OLD.topic_id) = 1
BEGIN
    SELECT RAISE(ABORT, 'anonymous ballots are final');
END;

CREATE TRIGGER deliberation_anonymity_fixed BEFORE UPDATE OF anonymous ON deliberation_topics
WHEN NEW.anonymous <> OLD.anonymous AND EXISTS (SELECT 1 FROM deliberation_voters WHERE topic_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'anonymity is fixed once the first ballot is cast');
END;

-- Questions before and during the vote; the organizer's answer goes to every eligible person.
CREATE TABLE deliberation_questions (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    person_id INTEGER REFERENCES people(id),
    question TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    answer TEXT,
    answered_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    answered_at TEXT
);
CREATE INDEX deliberation_questions_topic ON deliberation_questions(topic_id, answered_at);

-- After: follow-up updates on carrying out the decision, and participants' ratings of it (1–5, one each).
CREATE TABLE deliberation_followups (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    text TEXT NOT NULL,
    posted_by INTEGER REFERENCES people(id) ON DELETE SET NULL,
    posted_at TEXT NOT NULL
);
CREATE INDEX deliberation_followups_topic ON deliberation_followups(topic_id);

CREATE TABLE deliberation_ratings (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES deliberation_topics(id),
    person_id INTEGER REFERENCES people(id),
    stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    rated_at TEXT NOT NULL,
    UNIQUE (topic_id, person_id)
);

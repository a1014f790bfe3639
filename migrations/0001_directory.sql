-- The tenancy-aware directory. Times are milliseconds since the Unix epoch; ids are UUIDv7
-- text, so ordering by id is ordering by creation and serves as a stable pagination cursor.

CREATE TABLE tenancies (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    group_model           TEXT NOT NULL CHECK (group_model IN ('contact_groups', 'client_teams')),
    mobile_policy         TEXT NOT NULL CHECK (mobile_policy IN ('mandatory', 'optional', 'hidden')),
    group_name_convention TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

-- Staff, clients and team accounts share one table: they share one e-mail space per tenancy,
-- and groups hold all three kinds.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    tenancy_id     TEXT NOT NULL REFERENCES tenancies (id),
    kind           TEXT NOT NULL CHECK (kind IN ('staff', 'client', 'team_account')),
    first_name     TEXT NOT NULL,
    last_name      TEXT NOT NULL,
    email          TEXT NOT NULL,
    email_key      TEXT NOT NULL,
    mobile         TEXT,
    title          TEXT,
    role           TEXT CHECK (role IN ('system_administrator', 'users_administrator', 'staff')),
    status         TEXT CHECK (status IN ('draft', 'invited', 'expired', 'active', 'declined', 'revoked')),
    contact_number TEXT,
    invite_message TEXT,
    deactivated_at BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CHECK ((kind = 'staff') = (role IS NOT NULL)),
    CHECK ((kind = 'client') = (status IS NOT NULL))
);
CREATE UNIQUE INDEX users_email_per_tenancy ON users (tenancy_id, email_key);
CREATE UNIQUE INDEX users_firm_mobile_per_tenancy ON users (tenancy_id, mobile)
    WHERE kind <> 'client' AND mobile IS NOT NULL;
CREATE INDEX users_by_tenancy_kind ON users (tenancy_id, kind, id);

CREATE TABLE team_delegates (
    tenancy_id      TEXT NOT NULL REFERENCES tenancies (id),
    team_account_id TEXT NOT NULL REFERENCES users (id),
    staff_id        TEXT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (team_account_id, staff_id)
);
CREATE INDEX team_delegates_by_staff ON team_delegates (staff_id);

-- Contact groups and client teams: a tenancy uses one kind at a time.
CREATE TABLE user_groups (
    id         TEXT PRIMARY KEY,
    tenancy_id TEXT NOT NULL REFERENCES tenancies (id),
    kind       TEXT NOT NULL CHECK (kind IN ('contact_group', 'client_team')),
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX client_team_name_per_tenancy ON user_groups (tenancy_id, name_key)
    WHERE kind = 'client_team';
CREATE INDEX user_groups_by_tenancy ON user_groups (tenancy_id, kind, id);

CREATE TABLE group_members (
    tenancy_id TEXT NOT NULL REFERENCES tenancies (id),
    group_id   TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id),
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id, group_id);

-- Every status change of a client, with who made it.
CREATE TABLE client_events (
    id          TEXT PRIMARY KEY,
    tenancy_id  TEXT NOT NULL REFERENCES tenancies (id),
    client_id   TEXT NOT NULL REFERENCES users (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX client_events_by_client ON client_events (client_id, id);

-- Bearer tokens, stored as SHA-256 of the secret. Operator tokens have no tenancy.
CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    tenancy_id TEXT REFERENCES tenancies (id),
    staff_id   TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CHECK ((tenancy_id IS NULL) = (staff_id IS NULL))
);
CREATE INDEX api_tokens_by_tenancy ON api_tokens (tenancy_id, id);

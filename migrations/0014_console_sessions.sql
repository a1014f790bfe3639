-- The admin console's sign-in links and sessions. Only the SHA-256 of each secret is kept (the
-- link's token, the session cookie's value). A row with no staff_id is an operator's: operators
-- have no user row and no tenancy.

-- One-time sign-in links: printed by `liaison console-link --operator`, or e-mailed to a staff
-- administrator (one link per tenancy they administer). A link works once, until expires_at.
CREATE TABLE console_sign_in_links (
    token_hash TEXT PRIMARY KEY,
    tenancy_id TEXT REFERENCES tenancies (id) ON DELETE CASCADE,
    staff_id   TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    CHECK ((tenancy_id IS NULL) = (staff_id IS NULL))
);
CREATE INDEX console_sign_in_links_expiry ON console_sign_in_links (expires_at);

-- Sessions: `id` names the session where a credential is named (an actor's label); the cookie's
-- value is found by its hash. A session ends when ended_at is set (sign-out, sign-out
-- everywhere), after the configured idle time since last_seen_at, or the absolute time since
-- created_at; a staff session also ends as soon as its user is deactivated.
CREATE TABLE console_sessions (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    tenancy_id   TEXT REFERENCES tenancies (id) ON DELETE CASCADE,
    staff_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at     BIGINT,
    CHECK ((tenancy_id IS NULL) = (staff_id IS NULL))
);
CREATE INDEX console_sessions_by_staff ON console_sessions (staff_id) WHERE staff_id IS NOT NULL;
CREATE INDEX console_sessions_by_start ON console_sessions (created_at);

-- Invitation cycles: from the first e-mail, a new e-mail with a new link every day for 30 days.
-- `next_due_at` is when the worker next acts on the cycle (the next e-mail, a retry of a failed
-- delivery, or the end of the cycle); it is NULL once the cycle is over, so the due index holds
-- only what is running and a pass costs what is due, not what exists. `ends_at` is set by the
-- first e-mail: the 30 days count from it.
CREATE TABLE invitation_cycles (
    id                TEXT PRIMARY KEY,
    tenancy_id        TEXT NOT NULL REFERENCES tenancies (id),
    client_id         TEXT NOT NULL REFERENCES users (id),
    started_at        BIGINT NOT NULL,
    ends_at           BIGINT,
    next_due_at       BIGINT,
    emails_sent       BIGINT NOT NULL,
    failed_attempts   BIGINT NOT NULL,
    lease_until       BIGINT,
    last_error        TEXT,
    ended_at          BIGINT,
    end_reason        TEXT
);
CREATE INDEX invitation_cycles_due ON invitation_cycles (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX invitation_cycles_by_client ON invitation_cycles (client_id, id);

-- Every activation link sent. Only the SHA-256 of its token is kept.
CREATE TABLE invitation_links (
    id          TEXT PRIMARY KEY,
    tenancy_id  TEXT NOT NULL REFERENCES tenancies (id),
    client_id   TEXT NOT NULL REFERENCES users (id),
    cycle_id    TEXT NOT NULL REFERENCES invitation_cycles (id),
    token_hash  TEXT NOT NULL UNIQUE,
    sent_at     BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    voided_at   BIGINT,
    void_reason TEXT,
    used_at     BIGINT
);
CREATE INDEX invitation_links_by_cycle ON invitation_links (cycle_id);

-- Each e-mail delivery tried: sent, or failed after its last retry, with the reason.
CREATE TABLE email_deliveries (
    id         TEXT PRIMARY KEY,
    tenancy_id TEXT NOT NULL REFERENCES tenancies (id),
    client_id  TEXT REFERENCES users (id),
    cycle_id   TEXT REFERENCES invitation_cycles (id),
    kind       TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('sent', 'failed')),
    attempts   BIGINT NOT NULL,
    last_error TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX email_deliveries_by_client ON email_deliveries (client_id, id);
CREATE INDEX email_deliveries_failed ON email_deliveries (tenancy_id, state, id);

-- When an org link turns unauthorized, the system administrators of the tenancies it serves are
-- e-mailed once: `unauthorized_noticed_at` remembers that they were (cleared when the link is
-- connected again), and each e-mail is a row written in the same transaction as the link's new
-- state, sent by the worker with retries, so none is lost when the mail server is down.
ALTER TABLE org_links ADD COLUMN unauthorized_noticed_at BIGINT;

CREATE TABLE link_notices (
    id          TEXT PRIMARY KEY,
    org_link_id TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    tenancy_id  TEXT NOT NULL REFERENCES tenancies (id),
    staff_id    TEXT NOT NULL REFERENCES users (id),
    reason      TEXT NOT NULL,
    next_due_at BIGINT,
    attempts    BIGINT NOT NULL,
    lease_until BIGINT,
    last_error  TEXT,
    sent_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX link_notices_due ON link_notices (next_due_at) WHERE next_due_at IS NOT NULL;

-- E-mails to staff about their clients (a client accepted), written in the same transaction
-- as the event and sent by the worker, so none is lost when the mail server is down.
CREATE TABLE staff_notifications (
    id          TEXT PRIMARY KEY,
    tenancy_id  TEXT NOT NULL REFERENCES tenancies (id),
    client_id   TEXT NOT NULL REFERENCES users (id),
    staff_id    TEXT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL CHECK (kind IN ('client_accepted')),
    next_due_at BIGINT,
    attempts    BIGINT NOT NULL,
    lease_until BIGINT,
    last_error  TEXT,
    sent_at     BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX staff_notifications_due ON staff_notifications (next_due_at) WHERE next_due_at IS NOT NULL;

-- Every attempt at an item of the queues ops act on, so a failure shows its whole history and
-- not only its last error: a write-back's call (the request's summary and Salesforce's answer),
-- an inbox item's application (its outcome or error), an e-mail's delivery (the mail server's
-- answer). Each is written in the transaction that settles the attempt.
CREATE TABLE queue_attempts (
    -- UUIDv7: the history's order.
    id          TEXT PRIMARY KEY,
    queue       TEXT NOT NULL CHECK (queue IN ('writeback', 'inbox', 'email')),
    -- The write-back, the inbox item, or the e-mail's source (its invitation cycle or staff
    -- notification).
    item_id     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    -- written, retry, failed, refused; done, skipped; sent.
    outcome     TEXT NOT NULL,
    -- What was sent, e.g. `PATCH /services/data/v62.0/composite/sobjects, 37 records, fields Status__c`.
    request     TEXT,
    -- Salesforce's HTTP status, when it answered.
    http_status BIGINT,
    -- Salesforce's `errorCode` / `statusCode`, or the transport failure's code.
    code        TEXT,
    message     TEXT
);
CREATE INDEX queue_attempts_by_item ON queue_attempts (item_id, id);
CREATE INDEX queue_attempts_by_age ON queue_attempts (queue, at);

-- Written write-backs leave the outbox; this keeps, for `writeback.history_days`, that a status
-- reached a record and when, so "did it get there" has an answer. The worker prunes it.
CREATE TABLE crm_writebacks_written (
    id           TEXT PRIMARY KEY,
    writeback_id TEXT NOT NULL,
    org_link_id  TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    tenancy_id   TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    sobject      TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    changed_at   BIGINT NOT NULL,
    written_at   BIGINT NOT NULL
);
CREATE INDEX crm_writebacks_written_by_record ON crm_writebacks_written (org_link_id, record_id, written_at);
CREATE INDEX crm_writebacks_written_by_age ON crm_writebacks_written (written_at);

-- Why ops dismissed a write-back or an inbox item.
ALTER TABLE crm_writebacks ADD COLUMN dismiss_reason TEXT;
ALTER TABLE crm_inbox ADD COLUMN dismiss_reason TEXT;

-- A failed e-mail delivery ops acted on: retried (sent again through the normal path, which
-- records a delivery of its own) or dismissed with a reason. The staff notification an e-mail
-- came from, so it can be sent again.
ALTER TABLE email_deliveries ADD COLUMN notification_id TEXT;
ALTER TABLE email_deliveries ADD COLUMN resolution TEXT CHECK (resolution IN ('retried', 'dismissed'));
ALTER TABLE email_deliveries ADD COLUMN resolution_reason TEXT;
ALTER TABLE email_deliveries ADD COLUMN resolved_at BIGINT;

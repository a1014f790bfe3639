-- Record changes from Salesforce (Outbound Messages and signed JSON webhooks), and what an org
-- link needs to take them: the intake secrets, the integration user (for echo suppression) and
-- the auto-invite settings.

-- Only a SHA-256 of the Outbound Message URL's token is kept; the webhook signing secret must
-- be recoverable to check signatures, so it is sealed like the other secrets.
ALTER TABLE org_links ADD COLUMN outbound_token_hash TEXT;
ALTER TABLE org_links ADD COLUMN webhook_secret_sealed TEXT;
-- The Salesforce user id (005…) our write-back acts as: its changes start no work.
ALTER TABLE org_links ADD COLUMN integration_user_id TEXT;
-- JSON: the checkbox field, tenancy, groups and whether to send; NULL when off.
ALTER TABLE org_links ADD COLUMN auto_invite TEXT;

-- The inbox: one row per notified record change, deduplicated on the delivery (the
-- notification Id of an Outbound Message, or the webhook id and the record's place in it).
CREATE TABLE crm_inbox (
    id               TEXT PRIMARY KEY,
    org_link_id      TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    delivery_id      TEXT NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('outbound_message', 'webhook')),
    sobject          TEXT NOT NULL,
    record_id        TEXT NOT NULL,
    -- The record's LastModifiedDate (or SystemModstamp), in milliseconds: the order of changes.
    modstamp         BIGINT NOT NULL,
    deleted          BIGINT NOT NULL CHECK (deleted IN (0, 1)),
    master_record_id TEXT,
    -- JSON object of the fields the message carried (absent is not the same as null).
    fields           TEXT NOT NULL,
    -- JSON array of the fields that changed, when the sender says (webhooks may).
    changed_fields   TEXT,
    changed_by       TEXT,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'done', 'skipped', 'failed', 'dismissed')),
    -- What applying it did, or why it was skipped.
    outcome          TEXT,
    attempts         BIGINT NOT NULL,
    run_at           BIGINT NOT NULL,
    lease_until      BIGINT,
    last_error       TEXT,
    received_at      BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX crm_inbox_by_delivery ON crm_inbox (org_link_id, delivery_id);
CREATE INDEX crm_inbox_due ON crm_inbox (run_at) WHERE state = 'pending';
CREATE INDEX crm_inbox_by_link ON crm_inbox (org_link_id, state, id);

-- The newest change applied to each record, so a late, older notification changes nothing.
CREATE TABLE crm_record_versions (
    org_link_id TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    record_id   TEXT NOT NULL,
    modstamp    BIGINT NOT NULL,
    PRIMARY KEY (org_link_id, record_id)
);

-- The Salesforce record each client is linked to (a Contact or a Person Account).
CREATE TABLE crm_records (
    client_id   TEXT PRIMARY KEY REFERENCES users (id),
    tenancy_id  TEXT NOT NULL REFERENCES tenancies (id),
    org_link_id TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    sobject     TEXT NOT NULL CHECK (sobject IN ('Contact', 'Account')),
    record_id   TEXT NOT NULL,
    linked_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX crm_records_by_record ON crm_records (org_link_id, record_id, tenancy_id);

-- The write-back outbox. One row per record holds the newest status to write: a newer change
-- replaces an older one that is not yet written (coalescing) and bumps `version`, so a worker
-- that sent an older version leaves the row for the next pass.
CREATE TABLE crm_writebacks (
    id              TEXT PRIMARY KEY,
    org_link_id     TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    tenancy_id      TEXT NOT NULL REFERENCES tenancies (id),
    client_id       TEXT NOT NULL REFERENCES users (id),
    sobject         TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    status          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    changed_at      BIGINT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'failed', 'dismissed')),
    run_at          BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error_code TEXT,
    last_error      TEXT,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX crm_writebacks_by_record ON crm_writebacks (org_link_id, record_id);
CREATE INDEX crm_writebacks_due ON crm_writebacks (org_link_id, state, run_at);

-- Calls this service made to each org, per hour, for its share of the daily API limit.
CREATE TABLE crm_api_calls (
    org_link_id TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    hour        BIGINT NOT NULL,
    calls       BIGINT NOT NULL,
    PRIMARY KEY (org_link_id, hour)
);

-- Salesforce org links. Secrets (consumer secret, private key, access and refresh tokens) are
-- stored sealed with AES-256-GCM (columns ending in _sealed); nothing here is readable without
-- the configured key.

CREATE TABLE org_links (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    org_id                 TEXT NOT NULL,
    login_host             TEXT NOT NULL,
    auth_kind              TEXT NOT NULL CHECK (auth_kind IN ('web_server', 'jwt_bearer')),
    consumer_key           TEXT NOT NULL,
    consumer_secret_sealed TEXT,
    private_key_sealed     TEXT,
    integration_username   TEXT,
    api_version            TEXT NOT NULL,
    field_mapping          TEXT NOT NULL,
    staff_match            TEXT NOT NULL CHECK (staff_match IN ('user_id', 'username', 'email')),
    api_budget_percent     BIGINT NOT NULL CHECK (api_budget_percent BETWEEN 1 AND 100),
    state                  TEXT NOT NULL
        CHECK (state IN ('not_connected', 'connected', 'unauthorized', 'paused', 'budget_capped')),
    state_reason           TEXT,
    instance_url           TEXT,
    access_token_sealed    TEXT,
    refresh_token_sealed   TEXT,
    -- Bumped on every token change, so a refresh can tell it raced another instance.
    token_version          BIGINT NOT NULL DEFAULT 0,
    api_used               BIGINT,
    api_max                BIGINT,
    api_checked_at         BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE UNIQUE INDEX org_links_by_org ON org_links (org_id);

CREATE TABLE org_link_tenancies (
    org_link_id TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    tenancy_id  TEXT NOT NULL REFERENCES tenancies (id),
    PRIMARY KEY (org_link_id, tenancy_id)
);
CREATE INDEX org_link_tenancies_by_tenancy ON org_link_tenancies (tenancy_id);

-- One row per web-server flow. `connect` issues a single-use ticket for the admin's browser;
-- opening it binds the flow to that browser (a cookie whose hash is kept) and starts it with a
-- single-use state and a PKCE verifier (sealed). Only hashes of the ticket, state and binding
-- are kept.
CREATE TABLE oauth_flows (
    id              TEXT PRIMARY KEY,
    org_link_id     TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    started_by      TEXT NOT NULL,
    ticket_hash     TEXT NOT NULL UNIQUE,
    ticket_used_at  BIGINT,
    state_hash      TEXT UNIQUE,
    binding_hash    TEXT,
    verifier_sealed TEXT,
    expires_at      BIGINT NOT NULL,
    finished_at     BIGINT
);

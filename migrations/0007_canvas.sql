-- A staff user's Salesforce identity, for org links that match staff by user id or username
-- (links that match by e-mail need nothing here).
ALTER TABLE users ADD COLUMN salesforce_user_id TEXT;
ALTER TABLE users ADD COLUMN salesforce_username TEXT;
CREATE INDEX users_by_salesforce_user ON users (salesforce_user_id) WHERE salesforce_user_id IS NOT NULL;

-- Sessions opened by a verified canvas signed request: one Salesforce user of one org link,
-- one record, a few minutes. Only the token's hash is kept.
CREATE TABLE canvas_sessions (
    token_hash          TEXT PRIMARY KEY,
    org_link_id         TEXT NOT NULL REFERENCES org_links (id) ON DELETE CASCADE,
    salesforce_user_id  TEXT NOT NULL,
    salesforce_username TEXT,
    salesforce_email    TEXT,
    user_name           TEXT NOT NULL,
    sobject             TEXT,
    record_id           TEXT,
    csrf                TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL
);
CREATE INDEX canvas_sessions_expiry ON canvas_sessions (expires_at);

-- The key with which callers that are not a browser (Apex, automation) act for an org link.
ALTER TABLE org_links ADD COLUMN api_key_hash TEXT;
CREATE UNIQUE INDEX org_links_api_key ON org_links (api_key_hash) WHERE api_key_hash IS NOT NULL;

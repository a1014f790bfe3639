-- When an org link may next be called, and why: a whole call that failed (5xx, 429, a timeout,
-- a concurrency limit) makes the link wait, honouring Retry-After, so its rows go out together
-- in full batches afterwards rather than each on its own schedule.
ALTER TABLE org_links ADD COLUMN next_call_at BIGINT;
ALTER TABLE org_links ADD COLUMN call_failures BIGINT NOT NULL DEFAULT 0;
-- When a call last showed the org's daily API limit spent (a 403 REQUEST_LIMIT_EXCEEDED, or a
-- probe without room); cleared only when an answer shows room again.
ALTER TABLE org_links ADD COLUMN org_limit_at BIGINT;

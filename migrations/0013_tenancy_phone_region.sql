-- The country whose numbering a national phone number (no +) from a CRM record is read in,
-- unless the org link's mapping names its own. Existing tenancies take GB, the numbering the
-- service's clients have used so far.
ALTER TABLE tenancies ADD COLUMN phone_region TEXT NOT NULL DEFAULT 'GB';

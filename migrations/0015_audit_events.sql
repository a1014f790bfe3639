-- The audit trail: every administrator's and operator's change (org links, staff, group
-- memberships, tokens, sign-ins), written in the transaction of the change itself, so a row
-- exists exactly when the change committed. A change never holds a secret's value, only
-- that it changed.
CREATE TABLE audit_events (
    -- UUIDv7: the list's order and cursor.
    id          TEXT PRIMARY KEY,
    -- The tenancy whose trail shows it; NULL for what concerns the installation (an
    -- operator token, a link several tenancies share).
    tenancy_id  TEXT REFERENCES tenancies (id),
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('operator', 'staff', 'system')),
    -- The operator's token or the staff user; NULL only for Liaison itself.
    actor_id    TEXT,
    -- As clients' histories name the actor: operator:<token id>, staff:<user id>.
    actor_label TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    -- JSON object: each changed field's before and after; a secret only as "changed".
    changes     TEXT NOT NULL
);

CREATE INDEX audit_events_tenancy ON audit_events (tenancy_id, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);

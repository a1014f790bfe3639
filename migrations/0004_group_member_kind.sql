-- Each membership carries its member's kind and, for staff, whether they are active, so the
-- rules that count a group's active staff or clients read one index instead of joining every
-- member's user row (which made those counts grow with the group).
ALTER TABLE group_members ADD COLUMN member_kind TEXT NOT NULL DEFAULT 'staff';
ALTER TABLE group_members ADD COLUMN member_active BIGINT NOT NULL DEFAULT 1;
UPDATE group_members SET
    member_kind = (SELECT u.kind FROM users u WHERE u.id = group_members.user_id),
    member_active = (SELECT CASE WHEN u.deactivated_at IS NULL THEN 1 ELSE 0 END FROM users u WHERE u.id = group_members.user_id);
CREATE INDEX group_members_by_kind ON group_members (group_id, member_kind, member_active);

-- A policy version never changes once stored: calls cache its compiled form by (tenant, version),
-- and replays and the history name versions. Rows leave only with their tenant (the cascade of
-- its deletion, when the tenant row is gone); nothing else updates or deletes one.
CREATE TRIGGER policy_sets_no_update BEFORE UPDATE ON policy_sets
BEGIN
    SELECT RAISE(ABORT, 'policy versions are append-only: UPDATE on policy_sets is refused (store a new version)');
END;

CREATE TRIGGER policy_sets_no_delete BEFORE DELETE ON policy_sets
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    SELECT RAISE(ABORT, 'policy versions are append-only: DELETE on policy_sets is refused (store a new version)');
END;

-- The evaluation errors of a call's policy decision (JSON array of "policy id: message"), which
-- deny like a matching forbid; a replay reports them.
ALTER TABLE mcp_audit ADD COLUMN policy_errors TEXT;

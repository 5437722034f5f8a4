-- A policy version never changes once stored: calls cache its compiled form by (tenant, version),
-- and replays and the history name versions. Rows leave only with their tenant (the cascade of
-- its deletion, when the tenant row is gone); nothing else updates or deletes one.
CREATE FUNCTION policy_sets_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'policy versions are append-only: % on policy_sets is refused (store a new version)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER policy_sets_append_only BEFORE UPDATE OR DELETE ON policy_sets
    FOR EACH ROW EXECUTE FUNCTION policy_sets_append_only();
CREATE TRIGGER policy_sets_no_truncate BEFORE TRUNCATE ON policy_sets
    FOR EACH STATEMENT EXECUTE FUNCTION policy_sets_append_only();

-- The evaluation errors of a call's policy decision (JSON array of "policy id: message"), which
-- deny like a matching forbid; a replay reports them.
ALTER TABLE mcp_audit ADD COLUMN policy_errors TEXT;

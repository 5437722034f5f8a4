-- The audit is append-only. Rows leave it one way only, `alga-server audit prune`, which records
-- each prune here first: while its row is open, the triggers let that transaction delete rows
-- older than its cutoff, and no others. The audit outlives its tenant (no reference, no cascade).
ALTER TABLE mcp_audit DROP CONSTRAINT mcp_audit_tenant_id_fkey;

CREATE TABLE audit_prunes (
    id         TEXT      NOT NULL PRIMARY KEY,
    cutoff     TIMESTAMP NOT NULL,
    open       BOOLEAN   NOT NULL,
    removed    BIGINT    NOT NULL DEFAULT 0,
    pruned_by  TEXT      NOT NULL,
    pruned_at  TIMESTAMP NOT NULL
);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM audit_prunes WHERE open AND OLD.created_at < cutoff) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit is append-only: % on % is refused (rows leave it only through alga-server audit prune)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END
$$;

-- A prune closes its own record once; nothing else changes or removes one.
CREATE FUNCTION audit_prunes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.open AND NOT NEW.open AND NEW.id = OLD.id AND NEW.cutoff = OLD.cutoff THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the record of audit prunes is append-only: % is refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER mcp_audit_append_only BEFORE UPDATE OR DELETE ON mcp_audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER mcp_audit_no_truncate BEFORE TRUNCATE ON mcp_audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_prunes_append_only BEFORE UPDATE OR DELETE ON audit_prunes
    FOR EACH ROW EXECUTE FUNCTION audit_prunes_append_only();
CREATE TRIGGER audit_prunes_no_truncate BEFORE TRUNCATE ON audit_prunes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_prunes_append_only();

-- The grant epoch of a tenant being deleted is not created again by the cascade's triggers.
CREATE OR REPLACE FUNCTION bump_grant_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenant TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN tenant := OLD.tenant_id; ELSE tenant := NEW.tenant_id; END IF;
    INSERT INTO grant_epochs (tenant_id, epoch)
        SELECT tenant, 1 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = tenant)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
    RETURN NULL;
END
$$;

-- The admin audit (a community table, append-only there) may lose rows to a prune too.
DROP TRIGGER admin_audit_no_delete ON admin_audit;
CREATE TRIGGER admin_audit_append_only BEFORE DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

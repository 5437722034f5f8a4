DROP TRIGGER admin_audit_append_only ON admin_audit;
CREATE TRIGGER admin_audit_no_delete BEFORE DELETE ON admin_audit
    FOR EACH ROW EXECUTE FUNCTION admin_audit_append_only();
CREATE OR REPLACE FUNCTION bump_grant_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenant TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN tenant := OLD.tenant_id; ELSE tenant := NEW.tenant_id; END IF;
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (tenant, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
    RETURN NULL;
END
$$;
DROP TRIGGER audit_prunes_no_truncate ON audit_prunes;
DROP TRIGGER audit_prunes_append_only ON audit_prunes;
DROP TRIGGER mcp_audit_no_truncate ON mcp_audit;
DROP TRIGGER mcp_audit_append_only ON mcp_audit;
DROP FUNCTION audit_append_only();
DROP FUNCTION audit_prunes_append_only();
DROP TABLE audit_prunes;
DELETE FROM mcp_audit WHERE tenant_id NOT IN (SELECT id FROM tenants);
ALTER TABLE mcp_audit ADD CONSTRAINT mcp_audit_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

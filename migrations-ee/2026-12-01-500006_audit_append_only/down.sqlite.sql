DROP TRIGGER admin_audit_no_delete_unless_pruned;
CREATE TRIGGER admin_audit_no_delete BEFORE DELETE ON admin_audit
BEGIN
    SELECT RAISE(ABORT, 'the admin audit is append-only: DELETE is refused');
END;
DROP TRIGGER audit_prunes_no_delete;
DROP TRIGGER audit_prunes_no_update;
DROP TRIGGER mcp_audit_no_delete;
DROP TRIGGER mcp_audit_no_update;
DROP TABLE audit_prunes;

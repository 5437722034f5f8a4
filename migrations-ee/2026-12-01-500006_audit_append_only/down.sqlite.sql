DROP TRIGGER audit_prunes_no_delete;
DROP TRIGGER audit_prunes_no_update;
DROP TRIGGER mcp_audit_no_delete;
DROP TRIGGER mcp_audit_no_update;
DROP TABLE audit_prunes;

ALTER TABLE mcp_audit DROP COLUMN policy_errors;
DROP TRIGGER policy_sets_no_delete;
DROP TRIGGER policy_sets_no_update;

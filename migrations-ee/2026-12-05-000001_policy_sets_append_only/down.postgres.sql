ALTER TABLE mcp_audit DROP COLUMN policy_errors;
DROP TRIGGER policy_sets_no_truncate ON policy_sets;
DROP TRIGGER policy_sets_append_only ON policy_sets;
DROP FUNCTION policy_sets_append_only();

ALTER TABLE mcp_audit DROP COLUMN approval_id;

ALTER TABLE mcp_approvals DROP COLUMN client_version;
ALTER TABLE mcp_approvals DROP COLUMN client_name;

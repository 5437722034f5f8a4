DROP TABLE mcp_secrets;
DROP TABLE mcp_approvals;

DROP TABLE mcp_audit;

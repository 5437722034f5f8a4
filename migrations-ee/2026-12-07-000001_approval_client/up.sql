-- Human approval gates (issue 16): the MCP client (its declared name and version) that made the
-- call an approval was asked for, shown to the approver beside the agent.
ALTER TABLE mcp_approvals ADD COLUMN client_name TEXT;
ALTER TABLE mcp_approvals ADD COLUMN client_version TEXT;

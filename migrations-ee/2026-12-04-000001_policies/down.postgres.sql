ALTER TABLE agents DROP COLUMN attributes;
DROP TABLE agent_teams;
ALTER TABLE mcp_audit DROP COLUMN policy_input;
ALTER TABLE mcp_audit DROP COLUMN policy_mode;
ALTER TABLE mcp_audit DROP COLUMN policy_version;
ALTER TABLE mcp_audit DROP COLUMN policy_ids;
ALTER TABLE mcp_audit DROP COLUMN policy_decision;
DROP TABLE policy_sets;

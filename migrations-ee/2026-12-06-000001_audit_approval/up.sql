-- Human approval gates (issue 16): the approval a tool call consumed to run, linking its audit row
-- to the person's decision (`mcp_approvals.audit_id` links back). Approver roles in
-- `mcp_approvals.approver_roles` are now a JSON array of `{"id", "name"}`, bound by id.
ALTER TABLE mcp_audit ADD COLUMN approval_id TEXT;

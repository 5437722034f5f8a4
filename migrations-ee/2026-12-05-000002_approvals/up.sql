-- Human approval gates (issue 16). One row per approval a governed call asked for: bound to the
-- principal, the operation, the digest of the canonical arguments and the policy-set version, and
-- consumed by exactly one execution of exactly that call. `decided_by` and `audit_id` have no
-- reference: approvals outlive users and the audit is pruned on its own schedule.
CREATE TABLE mcp_approvals (
    tenant_id       TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT      NOT NULL,
    status          TEXT      NOT NULL,
    principal_kind  TEXT      NOT NULL,
    principal_id    TEXT      NOT NULL,
    principal_name  TEXT      NOT NULL,
    operation_id    TEXT      NOT NULL,
    -- Hex SHA-256 of the canonical JSON of the operation id and the path, query and body arguments.
    args_digest     TEXT      NOT NULL,
    -- The arguments as JSON, secrets redacted, for the approver to read.
    arguments       TEXT      NOT NULL,
    record_kind     TEXT,
    record_id       TEXT,
    policy_version  BIGINT    NOT NULL,
    -- JSON array of the ids of the policies that asked for approval.
    policy_ids      TEXT      NOT NULL,
    -- JSON array of role names an approver must hold besides the permission (empty: none).
    approver_roles  TEXT      NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    decided_by      TEXT,
    decided_at      TIMESTAMP,
    decision_reason TEXT,
    consumed_at     TIMESTAMP,
    audit_id        TEXT,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT mcp_approvals_status CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'consumed')),
    CONSTRAINT mcp_approvals_principal_kind CHECK (principal_kind IN ('user', 'agent'))
);

-- At most one open (pending or approved) approval per identical call: concurrent identical
-- retries find the same one.
CREATE UNIQUE INDEX mcp_approvals_open_idx
    ON mcp_approvals (tenant_id, principal_kind, principal_id, operation_id, args_digest, policy_version)
    WHERE status IN ('pending', 'approved');
CREATE INDEX mcp_approvals_list_idx ON mcp_approvals (tenant_id, status, created_at);
CREATE INDEX mcp_approvals_due_idx ON mcp_approvals (expires_at) WHERE status IN ('pending', 'approved');

-- Instance-wide secrets made once and shared by every replica (the AEAD key of the sealed
-- `requestState`, when none is configured): inserted if absent, then read back.
CREATE TABLE mcp_secrets (
    name       TEXT      NOT NULL PRIMARY KEY,
    secret     TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL
);

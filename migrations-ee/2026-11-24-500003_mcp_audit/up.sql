-- One row per MCP tool call, from every kind of caller, denials and errors included. Append-only:
-- no API or code path updates or deletes a row; retention is an operator task (docs/operations.md).
CREATE TABLE mcp_audit (
    tenant_id        TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- UUIDv7: time-ordered, so newest-first paging follows the key.
    id               TEXT      NOT NULL,
    caller_kind      TEXT      NOT NULL,
    agent_id         TEXT,
    user_id          TEXT,
    api_key_id       TEXT,
    idp_issuer       TEXT,
    idp_subject      TEXT,
    client_name      TEXT,
    client_version   TEXT,
    protocol_version TEXT      NOT NULL,
    method           TEXT      NOT NULL,
    tool             TEXT,
    operation_id     TEXT,
    http_method      TEXT,
    http_path        TEXT,
    -- JSON, secrets replaced by "***".
    arguments        TEXT      NOT NULL,
    decision         TEXT      NOT NULL,
    reason           TEXT,
    status_code      INTEGER,
    result_summary   TEXT,
    duration_ms      BIGINT    NOT NULL,
    request_id       TEXT,
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT mcp_audit_caller_kind CHECK (caller_kind IN ('agent', 'user')),
    CONSTRAINT mcp_audit_decision CHECK (decision IN ('allow', 'deny', 'error'))
);

CREATE INDEX mcp_audit_created_idx ON mcp_audit (tenant_id, created_at);
-- Partial: a row has an agent or a user, so each call writes one of these two indexes.
CREATE INDEX mcp_audit_agent_idx ON mcp_audit (tenant_id, agent_id, created_at) WHERE agent_id IS NOT NULL;
CREATE INDEX mcp_audit_user_idx ON mcp_audit (tenant_id, user_id, created_at) WHERE user_id IS NOT NULL;

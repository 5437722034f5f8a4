DROP TRIGGER agents_delete_epoch;
CREATE TRIGGER agents_delete_epoch AFTER DELETE ON agents BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER agent_roles_delete_epoch;
CREATE TRIGGER agent_roles_delete_epoch AFTER DELETE ON agent_roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER roles_delete_epoch;
CREATE TRIGGER roles_delete_epoch AFTER DELETE ON roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER role_permissions_delete_epoch;
CREATE TRIGGER role_permissions_delete_epoch AFTER DELETE ON role_permissions BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER agent_idp_providers_delete_epoch;
CREATE TRIGGER agent_idp_providers_delete_epoch AFTER DELETE ON agent_idp_providers BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER api_keys_delete_epoch;
CREATE TRIGGER api_keys_delete_epoch AFTER DELETE ON api_keys BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER admin_audit_no_delete_unless_pruned;
CREATE TRIGGER admin_audit_no_delete BEFORE DELETE ON admin_audit
BEGIN
    SELECT RAISE(ABORT, 'the admin audit is append-only: DELETE is refused');
END;
DROP TRIGGER audit_prunes_no_delete;
DROP TRIGGER audit_prunes_no_update;
DROP TRIGGER mcp_audit_no_delete;
DROP TRIGGER mcp_audit_no_update;
DROP TABLE audit_prunes;
CREATE TABLE mcp_audit_cascading (
    tenant_id        TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
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
INSERT INTO mcp_audit_cascading SELECT * FROM mcp_audit WHERE tenant_id IN (SELECT id FROM tenants);
DROP TABLE mcp_audit;
ALTER TABLE mcp_audit_cascading RENAME TO mcp_audit;
CREATE INDEX mcp_audit_created_idx ON mcp_audit (tenant_id, created_at);
CREATE INDEX mcp_audit_agent_idx ON mcp_audit (tenant_id, agent_id, created_at) WHERE agent_id IS NOT NULL;
CREATE INDEX mcp_audit_user_idx ON mcp_audit (tenant_id, user_id, created_at) WHERE user_id IS NOT NULL;

-- The audit is append-only. Rows leave it one way only, `alga-server audit prune`, which records
-- each prune here first: while its row is open, the triggers let that transaction delete rows
-- older than its cutoff, and no others. The audit outlives its tenant (no reference, no cascade).
CREATE TABLE audit_prunes (
    id         TEXT      NOT NULL PRIMARY KEY,
    cutoff     TIMESTAMP NOT NULL,
    open       BOOLEAN   NOT NULL,
    removed    BIGINT    NOT NULL DEFAULT 0,
    pruned_by  TEXT      NOT NULL,
    pruned_at  TIMESTAMP NOT NULL
);

-- The audit outlives its tenant: no reference to tenants (SQLite drops one by rebuilding).
CREATE TABLE mcp_audit_kept (
    tenant_id        TEXT      NOT NULL,
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
INSERT INTO mcp_audit_kept SELECT * FROM mcp_audit;
DROP TABLE mcp_audit;
ALTER TABLE mcp_audit_kept RENAME TO mcp_audit;
CREATE INDEX mcp_audit_created_idx ON mcp_audit (tenant_id, created_at);
CREATE INDEX mcp_audit_agent_idx ON mcp_audit (tenant_id, agent_id, created_at) WHERE agent_id IS NOT NULL;
CREATE INDEX mcp_audit_user_idx ON mcp_audit (tenant_id, user_id, created_at) WHERE user_id IS NOT NULL;

CREATE TRIGGER mcp_audit_no_update BEFORE UPDATE ON mcp_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: UPDATE on mcp_audit is refused');
END;

CREATE TRIGGER mcp_audit_no_delete BEFORE DELETE ON mcp_audit
    WHEN NOT EXISTS (SELECT 1 FROM audit_prunes WHERE open AND OLD.created_at < cutoff)
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: DELETE on mcp_audit is refused (rows leave it only through alga-server audit prune)');
END;

CREATE TRIGGER audit_prunes_no_update BEFORE UPDATE ON audit_prunes
    WHEN NOT (OLD.open AND NOT NEW.open AND NEW.id = OLD.id AND NEW.cutoff = OLD.cutoff)
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: UPDATE on audit_prunes is refused');
END;

CREATE TRIGGER audit_prunes_no_delete BEFORE DELETE ON audit_prunes
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: DELETE on audit_prunes is refused');
END;

-- The admin audit (a community table, append-only there) may lose rows to a prune too.
DROP TRIGGER admin_audit_no_delete;
CREATE TRIGGER admin_audit_no_delete_unless_pruned BEFORE DELETE ON admin_audit
    WHEN NOT EXISTS (SELECT 1 FROM audit_prunes WHERE open AND OLD.created_at < cutoff)
BEGIN
    SELECT RAISE(ABORT, 'the admin audit is append-only: DELETE is refused (rows leave it only through alga-server audit prune)');
END;

-- A tenant being deleted does not get its grant epoch back from the cascade's triggers.
DROP TRIGGER agents_delete_epoch;
CREATE TRIGGER agents_delete_epoch AFTER DELETE ON agents
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER agent_roles_delete_epoch;
CREATE TRIGGER agent_roles_delete_epoch AFTER DELETE ON agent_roles
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER roles_delete_epoch;
CREATE TRIGGER roles_delete_epoch AFTER DELETE ON roles
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER role_permissions_delete_epoch;
CREATE TRIGGER role_permissions_delete_epoch AFTER DELETE ON role_permissions
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER agent_idp_providers_delete_epoch;
CREATE TRIGGER agent_idp_providers_delete_epoch AFTER DELETE ON agent_idp_providers
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;
DROP TRIGGER api_keys_delete_epoch;
CREATE TRIGGER api_keys_delete_epoch AFTER DELETE ON api_keys
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

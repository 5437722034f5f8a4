-- One append-only row per change an administrator (or any caller) makes to who may do what:
-- users, roles, API keys, and in the enterprise edition agents and identity providers. Written in
-- the same transaction as the change; outlives the tenant, and every change.
CREATE TABLE admin_audit (
    -- No reference to tenants: a tenant's record of changes outlives the tenant.
    tenant_id   TEXT      NOT NULL,
    id          TEXT      NOT NULL,
    actor_kind  TEXT      NOT NULL,
    user_id     TEXT,
    agent_id    TEXT,
    api_key_id  TEXT,
    -- How the actor proved itself: api_key, session (admin UI) or cli.
    via         TEXT      NOT NULL,
    action      TEXT      NOT NULL,
    target_kind TEXT      NOT NULL,
    target_id   TEXT      NOT NULL,
    -- JSON, secrets replaced by "***".
    before      TEXT,
    after       TEXT,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT admin_audit_actor_kind CHECK (actor_kind IN ('user', 'agent', 'system'))
);
CREATE INDEX admin_audit_created_idx ON admin_audit (tenant_id, created_at);

CREATE TRIGGER admin_audit_no_update BEFORE UPDATE ON admin_audit
BEGIN
    SELECT RAISE(ABORT, 'the admin audit is append-only: UPDATE is refused');
END;
CREATE TRIGGER admin_audit_no_delete BEFORE DELETE ON admin_audit
BEGIN
    SELECT RAISE(ABORT, 'the admin audit is append-only: DELETE is refused');
END;

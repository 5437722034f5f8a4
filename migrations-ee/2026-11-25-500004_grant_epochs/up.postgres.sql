-- A per-tenant counter that every change to what an agent may do moves forward, in the same
-- transaction as the change. Authentication caches an agent's grants together with the counter it
-- read first; the audit transaction of each call compares it with the current one, and a call
-- made with grants that have changed since is made again with fresh ones. So no cache ever serves
-- a stale grant, and changes made with plain SQL count too.
CREATE TABLE grant_epochs (
    tenant_id TEXT   NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    epoch     BIGINT NOT NULL
);


CREATE FUNCTION bump_grant_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tenant TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN tenant := OLD.tenant_id; ELSE tenant := NEW.tenant_id; END IF;
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (tenant, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_epoch AFTER INSERT OR UPDATE OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION bump_grant_epoch();

CREATE TRIGGER agent_roles_epoch AFTER INSERT OR UPDATE OR DELETE ON agent_roles
    FOR EACH ROW EXECUTE FUNCTION bump_grant_epoch();

CREATE TRIGGER roles_epoch AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION bump_grant_epoch();

CREATE TRIGGER role_permissions_epoch AFTER INSERT OR UPDATE OR DELETE ON role_permissions
    FOR EACH ROW EXECUTE FUNCTION bump_grant_epoch();

CREATE TRIGGER agent_idp_providers_epoch AFTER INSERT OR UPDATE OR DELETE ON agent_idp_providers
    FOR EACH ROW EXECUTE FUNCTION bump_grant_epoch();

-- Revoking, expiring or deleting a key (not recording its use).

CREATE TRIGGER api_keys_epoch AFTER UPDATE OF revoked_at, expires_at, agent_id OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION bump_grant_epoch();

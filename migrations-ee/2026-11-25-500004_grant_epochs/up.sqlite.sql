-- A per-tenant counter that every change to what an agent may do moves forward, in the same
-- transaction as the change. Authentication caches an agent's grants together with the counter it
-- read first; the audit transaction of each call compares it with the current one, and a call
-- made with grants that have changed since is made again with fresh ones. So no cache ever serves
-- a stale grant, and changes made with plain SQL count too.
CREATE TABLE grant_epochs (
    tenant_id TEXT   NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    epoch     BIGINT NOT NULL
);


CREATE TRIGGER agents_insert_epoch AFTER INSERT ON agents BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agents_update_epoch AFTER UPDATE ON agents BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agents_delete_epoch AFTER DELETE ON agents BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agent_roles_insert_epoch AFTER INSERT ON agent_roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agent_roles_update_epoch AFTER UPDATE ON agent_roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agent_roles_delete_epoch AFTER DELETE ON agent_roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER roles_insert_epoch AFTER INSERT ON roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER roles_update_epoch AFTER UPDATE ON roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER roles_delete_epoch AFTER DELETE ON roles BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER role_permissions_insert_epoch AFTER INSERT ON role_permissions BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER role_permissions_update_epoch AFTER UPDATE ON role_permissions BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER role_permissions_delete_epoch AFTER DELETE ON role_permissions BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agent_idp_providers_insert_epoch AFTER INSERT ON agent_idp_providers BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agent_idp_providers_update_epoch AFTER UPDATE ON agent_idp_providers BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agent_idp_providers_delete_epoch AFTER DELETE ON agent_idp_providers BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

-- Revoking, expiring or deleting a key (not recording its use).

CREATE TRIGGER api_keys_update_epoch AFTER UPDATE OF revoked_at, expires_at, agent_id ON api_keys BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER api_keys_delete_epoch AFTER DELETE ON api_keys BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

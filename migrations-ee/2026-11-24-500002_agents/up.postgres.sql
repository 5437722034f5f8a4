-- Agents: identities of their own, vouched for by a trusted IdP (or holding API keys), with roles.
CREATE TABLE agents (
    tenant_id   TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT      NOT NULL,
    name        TEXT      NOT NULL,
    description TEXT      NOT NULL DEFAULT '',
    -- The IdP whose tokens name this agent, and the subject they carry; both absent for an agent
    -- that only holds API keys.
    idp_id      TEXT,
    subject     TEXT,
    active      BOOLEAN   NOT NULL DEFAULT TRUE,
    created_by  TEXT,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    -- Retired agents never work again; the row stays for the audit.
    retired_at  TIMESTAMP,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, idp_id) REFERENCES agent_idp_providers (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id),
    CONSTRAINT agents_binding CHECK ((idp_id IS NULL) = (subject IS NULL))
);

-- One live agent per (tenant, IdP, subject).
CREATE UNIQUE INDEX agents_binding_key ON agents (tenant_id, idp_id, subject) WHERE retired_at IS NULL;

CREATE TABLE agent_roles (
    tenant_id TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, role_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);

-- Agents own API keys too, for places without an IdP.
ALTER TABLE api_keys ADD COLUMN agent_id TEXT;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_agent_fkey
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_one_owner CHECK ((user_id IS NULL) <> (agent_id IS NULL));
CREATE INDEX api_keys_agent_idx ON api_keys (tenant_id, agent_id);

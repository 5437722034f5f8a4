-- Policies beyond roles (issue 15). A tenant's Cedar policy set, one row per version: the current
-- set is the highest version; an empty source means no policies (roles alone). Versions are never
-- changed, so the history is the table. `created_by` has no reference: the history outlives users.
CREATE TABLE policy_sets (
    tenant_id  TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    version    BIGINT    NOT NULL,
    source     TEXT      NOT NULL,
    mode       TEXT      NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, version),
    CONSTRAINT policy_sets_mode CHECK (mode IN ('enforce', 'shadow'))
);

-- A new version changes what agents may do: cached identities and listings are decided again.
CREATE TRIGGER policy_sets_insert_epoch AFTER INSERT ON policy_sets BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

-- What the policies decided on a call (NULL when no set applied) and what they decided on.
ALTER TABLE mcp_audit ADD COLUMN policy_decision TEXT
    CONSTRAINT mcp_audit_policy_decision CHECK (policy_decision IN ('allow', 'deny'));
-- JSON array of the deciding policy ids.
ALTER TABLE mcp_audit ADD COLUMN policy_ids TEXT;
ALTER TABLE mcp_audit ADD COLUMN policy_version BIGINT;
ALTER TABLE mcp_audit ADD COLUMN policy_mode TEXT
    CONSTRAINT mcp_audit_policy_mode CHECK (policy_mode IN ('enforce', 'shadow'));
-- JSON of the evaluation input (`DecisionInput`), secrets redacted, for replays.
ALTER TABLE mcp_audit ADD COLUMN policy_input TEXT;

-- The teams an agent serves, and free attributes (JSON object of string to string) policies read.
CREATE TABLE agent_teams (
    tenant_id TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    team_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, team_id),
    FOREIGN KEY (tenant_id, agent_id) REFERENCES agents (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_teams_team_idx ON agent_teams (tenant_id, team_id);

CREATE TRIGGER agent_teams_insert_epoch AFTER INSERT ON agent_teams BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

CREATE TRIGGER agent_teams_update_epoch AFTER UPDATE ON agent_teams BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

-- A tenant being deleted does not get its grant epoch back from the cascade.
CREATE TRIGGER agent_teams_delete_epoch AFTER DELETE ON agent_teams
    WHEN EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id)
BEGIN
    INSERT INTO grant_epochs (tenant_id, epoch) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET epoch = grant_epochs.epoch + 1;
END;

-- `agents_update_epoch` fires on every update of an agent, so changing its attributes moves the
-- epoch.
ALTER TABLE agents ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

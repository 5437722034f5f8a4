-- Tags (a tenant's vocabulary, attached to records of several types through one join table),
-- teams of users, two-level ticket categories; tickets gain a category, a parent ticket, a team
-- and a source; records made by an agent name it (agents are enterprise records: no foreign key).

CREATE TABLE tags (
    tenant_id  TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT      NOT NULL,
    name       TEXT      NOT NULL,
    -- The name lowercased (by the server, Unicode-aware): names are unique case-insensitively.
    name_key   TEXT      NOT NULL,
    color      TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT tags_name_key UNIQUE (tenant_id, name_key)
);

-- Which records carry which tag; `entity_type` names the record's table.
CREATE TABLE taggings (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    tag_id      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, entity_type, entity_id, tag_id),
    CONSTRAINT taggings_entity_type CHECK (entity_type IN ('ticket', 'client', 'asset', 'kb_article')),
    -- No cascade: a tag still carried is not deleted (the server answers 409 first).
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id)
);

CREATE INDEX taggings_tag_idx ON taggings (tenant_id, tag_id);

CREATE TABLE teams (
    tenant_id   TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT      NOT NULL,
    name        TEXT      NOT NULL,
    description TEXT      NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT teams_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE team_members (
    tenant_id TEXT NOT NULL,
    team_id   TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, team_id, user_id),
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX team_members_user_idx ON team_members (tenant_id, user_id);

-- Two levels: a category with a parent has no children (kept by the server).
CREATE TABLE ticket_categories (
    tenant_id  TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT      NOT NULL,
    name       TEXT      NOT NULL,
    parent_id  TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT ticket_categories_name_key UNIQUE (tenant_id, name),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES ticket_categories (tenant_id, id)
);

CREATE INDEX ticket_categories_parent_idx ON ticket_categories (tenant_id, parent_id);

ALTER TABLE tickets ADD COLUMN category_id TEXT;
ALTER TABLE tickets ADD COLUMN parent_ticket_id TEXT;
ALTER TABLE tickets ADD COLUMN team_id TEXT;
ALTER TABLE tickets ADD COLUMN source TEXT NOT NULL DEFAULT 'api'
    CONSTRAINT tickets_source CHECK (source IN ('email', 'phone', 'portal', 'agent', 'api'));
ALTER TABLE tickets ADD COLUMN created_by_agent TEXT;
ALTER TABLE ticket_comments ADD COLUMN created_by_agent TEXT;
ALTER TABLE time_entries ADD COLUMN created_by_agent TEXT;
ALTER TABLE tickets ADD CONSTRAINT tickets_category_fkey
    FOREIGN KEY (tenant_id, category_id) REFERENCES ticket_categories (tenant_id, id);
ALTER TABLE tickets ADD CONSTRAINT tickets_parent_fkey
    FOREIGN KEY (tenant_id, parent_ticket_id) REFERENCES tickets (tenant_id, id);
ALTER TABLE tickets ADD CONSTRAINT tickets_team_fkey
    FOREIGN KEY (tenant_id, team_id) REFERENCES teams (tenant_id, id);

CREATE INDEX tickets_category_idx ON tickets (tenant_id, category_id);
CREATE INDEX tickets_parent_idx ON tickets (tenant_id, parent_ticket_id);
CREATE INDEX tickets_team_idx ON tickets (tenant_id, team_id);

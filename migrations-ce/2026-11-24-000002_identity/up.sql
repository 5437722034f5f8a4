-- Users, roles, permissions and API keys. Every tenant-scoped table has tenant_id first in its
-- primary key and unique keys.

CREATE TABLE users (
    tenant_id     TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT      NOT NULL,
    email         TEXT      NOT NULL,
    display_name  TEXT      NOT NULL,
    -- argon2id PHC string; NULL: this user cannot sign in with a password.
    password_hash TEXT,
    active        BOOLEAN   NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_email_key UNIQUE (tenant_id, email),
    CONSTRAINT users_email_lower CHECK (email = lower(email))
);

CREATE TABLE roles (
    tenant_id   TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT      NOT NULL,
    name        TEXT      NOT NULL,
    description TEXT      NOT NULL DEFAULT '',
    built_in    BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT roles_name_key UNIQUE (tenant_id, name)
);

-- The fixed catalogue of (resource, action) pairs: a reference table, shared by all tenants.
CREATE TABLE permissions (
    resource TEXT NOT NULL,
    action   TEXT NOT NULL,
    PRIMARY KEY (resource, action)
);

INSERT INTO permissions (resource, action) VALUES
    ('client', 'create'),
    ('client', 'read'),
    ('client', 'update'),
    ('client', 'delete'),
    ('contact', 'create'),
    ('contact', 'read'),
    ('contact', 'update'),
    ('contact', 'delete'),
    ('ticket', 'create'),
    ('ticket', 'read'),
    ('ticket', 'update'),
    ('ticket', 'delete'),
    ('ticket_comment', 'create'),
    ('ticket_comment', 'read'),
    ('ticket_comment', 'update'),
    ('ticket_comment', 'delete'),
    ('project', 'create'),
    ('project', 'read'),
    ('project', 'update'),
    ('project', 'delete'),
    ('project_task', 'create'),
    ('project_task', 'read'),
    ('project_task', 'update'),
    ('project_task', 'delete'),
    ('time_entry', 'create'),
    ('time_entry', 'read'),
    ('time_entry', 'update'),
    ('time_entry', 'delete'),
    ('board', 'create'),
    ('board', 'read'),
    ('board', 'update'),
    ('board', 'delete'),
    ('status', 'create'),
    ('status', 'read'),
    ('status', 'update'),
    ('status', 'delete'),
    ('priority', 'create'),
    ('priority', 'read'),
    ('priority', 'update'),
    ('priority', 'delete'),
    ('user', 'create'),
    ('user', 'read'),
    ('user', 'update'),
    ('user', 'delete'),
    ('role', 'create'),
    ('role', 'read'),
    ('role', 'update'),
    ('role', 'delete'),
    ('api_key', 'create'),
    ('api_key', 'read'),
    ('api_key', 'update'),
    ('api_key', 'delete');

CREATE TABLE role_permissions (
    tenant_id TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    resource  TEXT NOT NULL,
    action    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role_id, resource, action),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (resource, action) REFERENCES permissions (resource, action)
);

CREATE TABLE user_roles (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    role_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX user_roles_role_idx ON user_roles (tenant_id, role_id);

CREATE TABLE api_keys (
    tenant_id    TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT      NOT NULL,
    -- SHA-256 of the whole plaintext key, hex. The plaintext is shown once and never stored.
    key_hash     TEXT      NOT NULL,
    -- The first characters of the key, to recognise it in listings.
    prefix       TEXT      NOT NULL,
    -- The owner. Nullable: enterprise agents own keys too (migrations-ee adds agent_id).
    user_id      TEXT,
    description  TEXT      NOT NULL DEFAULT '',
    purpose      TEXT      NOT NULL DEFAULT 'api',
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    expires_at   TIMESTAMP,
    revoked_at   TIMESTAMP,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_hash_key UNIQUE (tenant_id, key_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Authentication looks a key up by its hash alone (the tenant is not known yet).
CREATE INDEX api_keys_hash_idx ON api_keys (key_hash);
CREATE INDEX api_keys_user_idx ON api_keys (tenant_id, user_id);

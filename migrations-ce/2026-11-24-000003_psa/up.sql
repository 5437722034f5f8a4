-- The PSA resources. Foreign keys between tenant-scoped tables include tenant_id (co-location).

CREATE TABLE clients (
    tenant_id   TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT      NOT NULL,
    name        TEXT      NOT NULL,
    email       TEXT,
    phone       TEXT,
    website     TEXT,
    notes       TEXT      NOT NULL DEFAULT '',
    is_inactive BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT clients_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE contacts (
    tenant_id   TEXT      NOT NULL,
    id          TEXT      NOT NULL,
    client_id   TEXT,
    full_name   TEXT      NOT NULL,
    email       TEXT,
    phone       TEXT,
    job_title   TEXT,
    is_inactive BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
);

CREATE INDEX contacts_client_idx ON contacts (tenant_id, client_id);

CREATE TABLE boards (
    tenant_id   TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT      NOT NULL,
    name        TEXT      NOT NULL,
    description TEXT      NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT boards_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE statuses (
    tenant_id  TEXT      NOT NULL,
    id         TEXT      NOT NULL,
    board_id   TEXT      NOT NULL,
    name       TEXT      NOT NULL,
    is_closed  BOOLEAN   NOT NULL DEFAULT FALSE,
    position   INTEGER   NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT statuses_name_key UNIQUE (tenant_id, board_id, name),
    FOREIGN KEY (tenant_id, board_id) REFERENCES boards (tenant_id, id)
);

CREATE TABLE priorities (
    tenant_id  TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT      NOT NULL,
    name       TEXT      NOT NULL,
    color      TEXT      NOT NULL DEFAULT '#808080',
    position   INTEGER   NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT priorities_name_key UNIQUE (tenant_id, name)
);

-- Per-tenant ticket numbers (T-000001, …), taken with UPDATE … RETURNING.
CREATE TABLE ticket_sequences (
    tenant_id  TEXT   NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    last_value BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE tickets (
    tenant_id   TEXT      NOT NULL,
    id          TEXT      NOT NULL,
    number      TEXT      NOT NULL,
    title       TEXT      NOT NULL,
    description TEXT      NOT NULL DEFAULT '',
    board_id    TEXT      NOT NULL,
    status_id   TEXT      NOT NULL,
    priority_id TEXT      NOT NULL,
    client_id   TEXT      NOT NULL,
    contact_id  TEXT,
    assigned_to TEXT,
    created_by  TEXT,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    closed_at   TIMESTAMP,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT tickets_number_key UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, board_id) REFERENCES boards (tenant_id, id),
    FOREIGN KEY (tenant_id, status_id) REFERENCES statuses (tenant_id, id),
    FOREIGN KEY (tenant_id, priority_id) REFERENCES priorities (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, assigned_to) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
);

CREATE INDEX tickets_created_idx ON tickets (tenant_id, created_at);
CREATE INDEX tickets_status_idx ON tickets (tenant_id, status_id);
CREATE INDEX tickets_client_idx ON tickets (tenant_id, client_id);
CREATE INDEX tickets_assigned_idx ON tickets (tenant_id, assigned_to);

CREATE TABLE ticket_comments (
    tenant_id   TEXT      NOT NULL,
    id          TEXT      NOT NULL,
    ticket_id   TEXT      NOT NULL,
    author_id   TEXT,
    body        TEXT      NOT NULL,
    is_internal BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX ticket_comments_ticket_idx ON ticket_comments (tenant_id, ticket_id, created_at);

CREATE TABLE projects (
    tenant_id   TEXT      NOT NULL,
    id          TEXT      NOT NULL,
    client_id   TEXT      NOT NULL,
    name        TEXT      NOT NULL,
    description TEXT      NOT NULL DEFAULT '',
    status      TEXT      NOT NULL DEFAULT 'planned',
    start_date  DATE,
    end_date    DATE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT projects_name_key UNIQUE (tenant_id, name),
    CONSTRAINT projects_status CHECK (status IN ('planned', 'active', 'on_hold', 'completed', 'cancelled')),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
);

CREATE TABLE project_tasks (
    tenant_id         TEXT      NOT NULL,
    id                TEXT      NOT NULL,
    project_id        TEXT      NOT NULL,
    title             TEXT      NOT NULL,
    description       TEXT      NOT NULL DEFAULT '',
    status            TEXT      NOT NULL DEFAULT 'todo',
    assigned_to       TEXT,
    estimated_minutes INTEGER,
    due_date          DATE,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT project_tasks_status CHECK (status IN ('todo', 'in_progress', 'blocked', 'done')),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assigned_to) REFERENCES users (tenant_id, id)
);

CREATE INDEX project_tasks_project_idx ON project_tasks (tenant_id, project_id);

CREATE TABLE time_entries (
    tenant_id        TEXT      NOT NULL,
    id               TEXT      NOT NULL,
    user_id          TEXT      NOT NULL,
    work_item_type   TEXT      NOT NULL,
    work_item_id     TEXT      NOT NULL,
    started_at       TIMESTAMP NOT NULL,
    ended_at         TIMESTAMP NOT NULL,
    duration_minutes INTEGER   NOT NULL,
    billable         BOOLEAN   NOT NULL DEFAULT TRUE,
    notes            TEXT      NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT time_entries_work_item_type CHECK (work_item_type IN ('ticket', 'project_task')),
    CONSTRAINT time_entries_span CHECK (ended_at > started_at AND duration_minutes > 0 AND duration_minutes <= 1440),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX time_entries_user_idx ON time_entries (tenant_id, user_id, started_at);
CREATE INDEX time_entries_work_item_idx ON time_entries (tenant_id, work_item_type, work_item_id);

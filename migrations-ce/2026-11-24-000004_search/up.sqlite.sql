-- Full-text search over tickets, comments, clients, contacts, projects and tasks.
-- search_documents holds one row per searchable object, kept current by triggers on the source
-- tables; each database indexes it with its own engine. Generated from one description of what
-- each object contributes (title, subtitle, body), so both databases index the same text.

CREATE TABLE search_documents (
    -- FTS5 external content needs an integer rowid.
    rowid      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT      NOT NULL,
    doc_type   TEXT      NOT NULL,
    doc_id     TEXT      NOT NULL,
    parent_id  TEXT,
    title      TEXT      NOT NULL,
    subtitle   TEXT      NOT NULL,
    body       TEXT      NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT search_documents_key UNIQUE (tenant_id, doc_type, doc_id)
);

CREATE VIRTUAL TABLE search_fts USING fts5(
    title, body,
    content = 'search_documents', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN
    INSERT INTO search_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
END;
CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO search_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;

CREATE TRIGGER tickets_search_ai AFTER INSERT ON tickets BEGIN
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'ticket', new.id, NULL, new.title, new.number, new.number || ' ' || new.description, new.updated_at);
END;
CREATE TRIGGER tickets_search_au AFTER UPDATE ON tickets BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'ticket' AND doc_id = old.id;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'ticket', new.id, NULL, new.title, new.number, new.number || ' ' || new.description, new.updated_at);
END;
CREATE TRIGGER tickets_search_ad AFTER DELETE ON tickets BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'ticket' AND doc_id = old.id;
END;
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'ticket', src.id, NULL, src.title, src.number, src.number || ' ' || src.description, src.updated_at FROM tickets src;

CREATE TRIGGER ticket_comments_search_ai AFTER INSERT ON ticket_comments BEGIN
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'ticket_comment', new.id, new.ticket_id, 'Comment on ' || COALESCE((SELECT t.number FROM tickets t WHERE t.tenant_id = new.tenant_id AND t.id = new.ticket_id), 'a ticket'), COALESCE((SELECT t.title FROM tickets t WHERE t.tenant_id = new.tenant_id AND t.id = new.ticket_id), ''), new.body, new.updated_at);
END;
CREATE TRIGGER ticket_comments_search_au AFTER UPDATE ON ticket_comments BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'ticket_comment' AND doc_id = old.id;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'ticket_comment', new.id, new.ticket_id, 'Comment on ' || COALESCE((SELECT t.number FROM tickets t WHERE t.tenant_id = new.tenant_id AND t.id = new.ticket_id), 'a ticket'), COALESCE((SELECT t.title FROM tickets t WHERE t.tenant_id = new.tenant_id AND t.id = new.ticket_id), ''), new.body, new.updated_at);
END;
CREATE TRIGGER ticket_comments_search_ad AFTER DELETE ON ticket_comments BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'ticket_comment' AND doc_id = old.id;
END;
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'ticket_comment', src.id, src.ticket_id, 'Comment on ' || COALESCE((SELECT t.number FROM tickets t WHERE t.tenant_id = src.tenant_id AND t.id = src.ticket_id), 'a ticket'), COALESCE((SELECT t.title FROM tickets t WHERE t.tenant_id = src.tenant_id AND t.id = src.ticket_id), ''), src.body, src.updated_at FROM ticket_comments src;

CREATE TRIGGER clients_search_ai AFTER INSERT ON clients BEGIN
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'client', new.id, NULL, new.name, COALESCE(new.email, ''), COALESCE(new.email, '') || ' ' || COALESCE(new.phone, '') || ' ' || COALESCE(new.website, '') || ' ' || new.notes, new.updated_at);
END;
CREATE TRIGGER clients_search_au AFTER UPDATE ON clients BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'client' AND doc_id = old.id;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'client', new.id, NULL, new.name, COALESCE(new.email, ''), COALESCE(new.email, '') || ' ' || COALESCE(new.phone, '') || ' ' || COALESCE(new.website, '') || ' ' || new.notes, new.updated_at);
END;
CREATE TRIGGER clients_search_ad AFTER DELETE ON clients BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'client' AND doc_id = old.id;
END;
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'client', src.id, NULL, src.name, COALESCE(src.email, ''), COALESCE(src.email, '') || ' ' || COALESCE(src.phone, '') || ' ' || COALESCE(src.website, '') || ' ' || src.notes, src.updated_at FROM clients src;

CREATE TRIGGER contacts_search_ai AFTER INSERT ON contacts BEGIN
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'contact', new.id, new.client_id, new.full_name, COALESCE(new.job_title, COALESCE(new.email, '')), COALESCE(new.email, '') || ' ' || COALESCE(new.phone, '') || ' ' || COALESCE(new.job_title, ''), new.updated_at);
END;
CREATE TRIGGER contacts_search_au AFTER UPDATE ON contacts BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'contact' AND doc_id = old.id;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'contact', new.id, new.client_id, new.full_name, COALESCE(new.job_title, COALESCE(new.email, '')), COALESCE(new.email, '') || ' ' || COALESCE(new.phone, '') || ' ' || COALESCE(new.job_title, ''), new.updated_at);
END;
CREATE TRIGGER contacts_search_ad AFTER DELETE ON contacts BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'contact' AND doc_id = old.id;
END;
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'contact', src.id, src.client_id, src.full_name, COALESCE(src.job_title, COALESCE(src.email, '')), COALESCE(src.email, '') || ' ' || COALESCE(src.phone, '') || ' ' || COALESCE(src.job_title, ''), src.updated_at FROM contacts src;

CREATE TRIGGER projects_search_ai AFTER INSERT ON projects BEGIN
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'project', new.id, new.client_id, new.name, new.status, new.description, new.updated_at);
END;
CREATE TRIGGER projects_search_au AFTER UPDATE ON projects BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'project' AND doc_id = old.id;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'project', new.id, new.client_id, new.name, new.status, new.description, new.updated_at);
END;
CREATE TRIGGER projects_search_ad AFTER DELETE ON projects BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'project' AND doc_id = old.id;
END;
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'project', src.id, src.client_id, src.name, src.status, src.description, src.updated_at FROM projects src;

CREATE TRIGGER project_tasks_search_ai AFTER INSERT ON project_tasks BEGIN
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'project_task', new.id, new.project_id, new.title, new.status, new.description, new.updated_at);
END;
CREATE TRIGGER project_tasks_search_au AFTER UPDATE ON project_tasks BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'project_task' AND doc_id = old.id;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (new.tenant_id, 'project_task', new.id, new.project_id, new.title, new.status, new.description, new.updated_at);
END;
CREATE TRIGGER project_tasks_search_ad AFTER DELETE ON project_tasks BEGIN
    DELETE FROM search_documents WHERE tenant_id = old.tenant_id AND doc_type = 'project_task' AND doc_id = old.id;
END;
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'project_task', src.id, src.project_id, src.title, src.status, src.description, src.updated_at FROM project_tasks src;

CREATE TRIGGER tickets_search_comments_au AFTER UPDATE OF number, title ON tickets BEGIN
    UPDATE search_documents
    SET title = 'Comment on ' || new.number, subtitle = new.title
    WHERE tenant_id = new.tenant_id AND doc_type = 'ticket_comment' AND parent_id = new.id;
END;

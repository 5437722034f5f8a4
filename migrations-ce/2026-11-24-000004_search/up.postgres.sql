-- Full-text search over tickets, comments, clients, contacts, projects and tasks.
-- search_documents holds one row per searchable object, kept current by triggers on the source
-- tables; each database indexes it with its own engine. Generated from one description of what
-- each object contributes (title, subtitle, body), so both databases index the same text.

CREATE TABLE search_documents (
    tenant_id  TEXT      NOT NULL,
    doc_type   TEXT      NOT NULL,
    doc_id     TEXT      NOT NULL,
    parent_id  TEXT,
    title      TEXT      NOT NULL,
    subtitle   TEXT      NOT NULL,
    body       TEXT      NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Split on punctuation and do not stem, like SQLite's unicode61 tokenizer, so that both
    -- databases find the same words (PostgreSQL's parser alone reads T-000123 as `t` and the
    -- number -000123, and keeps emails and host names whole).
    document   tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', regexp_replace(title, '[[:punct:]]+', ' ', 'g')), 'A')
        || setweight(to_tsvector('simple', regexp_replace(body, '[[:punct:]]+', ' ', 'g')), 'B')
    ) STORED,
    PRIMARY KEY (tenant_id, doc_type, doc_id)
);

CREATE INDEX search_documents_document_idx ON search_documents USING GIN (document);

CREATE FUNCTION tickets_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'ticket' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'ticket', NEW.id, NULL, NEW.title, NEW.number, NEW.number || ' ' || NEW.description, NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER tickets_search AFTER INSERT OR UPDATE OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'ticket', src.id, NULL, src.title, src.number, src.number || ' ' || src.description, src.updated_at FROM tickets src;

CREATE FUNCTION ticket_comments_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'ticket_comment' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'ticket_comment', NEW.id, NEW.ticket_id, 'Comment on ' || COALESCE((SELECT t.number FROM tickets t WHERE t.tenant_id = NEW.tenant_id AND t.id = NEW.ticket_id), 'a ticket'), COALESCE((SELECT t.title FROM tickets t WHERE t.tenant_id = NEW.tenant_id AND t.id = NEW.ticket_id), ''), NEW.body, NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER ticket_comments_search AFTER INSERT OR UPDATE OR DELETE ON ticket_comments
    FOR EACH ROW EXECUTE FUNCTION ticket_comments_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'ticket_comment', src.id, src.ticket_id, 'Comment on ' || COALESCE((SELECT t.number FROM tickets t WHERE t.tenant_id = src.tenant_id AND t.id = src.ticket_id), 'a ticket'), COALESCE((SELECT t.title FROM tickets t WHERE t.tenant_id = src.tenant_id AND t.id = src.ticket_id), ''), src.body, src.updated_at FROM ticket_comments src;

CREATE FUNCTION clients_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'client' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'client', NEW.id, NULL, NEW.name, COALESCE(NEW.email, ''), COALESCE(NEW.email, '') || ' ' || COALESCE(NEW.phone, '') || ' ' || COALESCE(NEW.website, '') || ' ' || NEW.notes, NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER clients_search AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION clients_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'client', src.id, NULL, src.name, COALESCE(src.email, ''), COALESCE(src.email, '') || ' ' || COALESCE(src.phone, '') || ' ' || COALESCE(src.website, '') || ' ' || src.notes, src.updated_at FROM clients src;

CREATE FUNCTION contacts_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'contact' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'contact', NEW.id, NEW.client_id, NEW.full_name, COALESCE(NEW.job_title, COALESCE(NEW.email, '')), COALESCE(NEW.email, '') || ' ' || COALESCE(NEW.phone, '') || ' ' || COALESCE(NEW.job_title, ''), NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER contacts_search AFTER INSERT OR UPDATE OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'contact', src.id, src.client_id, src.full_name, COALESCE(src.job_title, COALESCE(src.email, '')), COALESCE(src.email, '') || ' ' || COALESCE(src.phone, '') || ' ' || COALESCE(src.job_title, ''), src.updated_at FROM contacts src;

CREATE FUNCTION projects_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'project' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'project', NEW.id, NEW.client_id, NEW.name, NEW.status, NEW.description, NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER projects_search AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION projects_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'project', src.id, src.client_id, src.name, src.status, src.description, src.updated_at FROM projects src;

CREATE FUNCTION project_tasks_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'project_task' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'project_task', NEW.id, NEW.project_id, NEW.title, NEW.status, NEW.description, NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER project_tasks_search AFTER INSERT OR UPDATE OR DELETE ON project_tasks
    FOR EACH ROW EXECUTE FUNCTION project_tasks_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'project_task', src.id, src.project_id, src.title, src.status, src.description, src.updated_at FROM project_tasks src;

CREATE FUNCTION tickets_search_comments_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_documents
    SET title = 'Comment on ' || NEW.number, subtitle = NEW.title
    WHERE tenant_id = NEW.tenant_id AND doc_type = 'ticket_comment' AND parent_id = NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER tickets_search_comments AFTER UPDATE OF number, title ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_search_comments_sync();

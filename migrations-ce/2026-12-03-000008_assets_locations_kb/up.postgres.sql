-- Client locations (sites), assets (configuration items) with their ticket links, and the
-- knowledge base. Foreign keys between tenant-scoped tables include tenant_id (co-location).

CREATE TABLE client_locations (
    tenant_id     TEXT      NOT NULL,
    id            TEXT      NOT NULL,
    client_id     TEXT      NOT NULL,
    name          TEXT      NOT NULL,
    address_line1 TEXT,
    address_line2 TEXT,
    city          TEXT,
    region        TEXT,
    postal_code   TEXT,
    country       TEXT,
    phone         TEXT,
    notes         TEXT      NOT NULL DEFAULT '',
    is_primary    BOOLEAN   NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT client_locations_name_key UNIQUE (tenant_id, client_id, name),
    -- Lets assets require that their location is one of their own client's.
    CONSTRAINT client_locations_client_key UNIQUE (tenant_id, client_id, id),
    -- A client's locations go with it.
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);

-- At most one primary location per client.
CREATE UNIQUE INDEX client_locations_primary_key ON client_locations (tenant_id, client_id) WHERE is_primary;

CREATE TABLE assets (
    tenant_id         TEXT      NOT NULL,
    id                TEXT      NOT NULL,
    client_id         TEXT      NOT NULL,
    location_id       TEXT,
    asset_type        TEXT      NOT NULL,
    name              TEXT      NOT NULL,
    serial_number     TEXT,
    status            TEXT      NOT NULL DEFAULT 'active',
    purchase_date     DATE,
    warranty_end_date DATE,
    notes             TEXT      NOT NULL DEFAULT '',
    -- A JSON object of custom fields (bounded by the API).
    attributes        TEXT      NOT NULL DEFAULT '{}',
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT assets_type CHECK (asset_type IN ('workstation', 'laptop', 'server', 'network', 'printer', 'mobile', 'peripheral', 'other')),
    CONSTRAINT assets_status CHECK (status IN ('active', 'in_storage', 'in_repair', 'retired', 'disposed')),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
    -- The location, when there is one, is one of the asset's client's.
    FOREIGN KEY (tenant_id, client_id, location_id) REFERENCES client_locations (tenant_id, client_id, id)
);

CREATE INDEX assets_client_idx ON assets (tenant_id, client_id);
CREATE INDEX assets_location_idx ON assets (tenant_id, location_id);
CREATE INDEX assets_serial_idx ON assets (tenant_id, serial_number);
CREATE INDEX assets_warranty_idx ON assets (tenant_id, warranty_end_date);

-- Which assets a ticket is about; links go with their ticket or asset.
CREATE TABLE ticket_assets (
    tenant_id  TEXT      NOT NULL,
    ticket_id  TEXT      NOT NULL,
    asset_id   TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, asset_id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, asset_id) REFERENCES assets (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX ticket_assets_asset_idx ON ticket_assets (tenant_id, asset_id);

-- Knowledge-base articles. Authored by a user or (enterprise) an agent; agents live in the
-- enterprise schema, so author_agent_id has no foreign key here.
CREATE TABLE kb_articles (
    tenant_id       TEXT      NOT NULL,
    id              TEXT      NOT NULL,
    title           TEXT      NOT NULL,
    body            TEXT      NOT NULL DEFAULT '',
    status          TEXT      NOT NULL DEFAULT 'draft',
    category        TEXT,
    author_user_id  TEXT,
    author_agent_id TEXT,
    published_at    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT kb_articles_status CHECK (status IN ('draft', 'published', 'archived')),
    FOREIGN KEY (tenant_id, author_user_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX kb_articles_status_idx ON kb_articles (tenant_id, status, updated_at);

-- Search: assets (name; type, serial number, client and notes) and published articles, in
-- search_documents like the other types (see 2026-11-24-000004_search).
CREATE FUNCTION assets_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'asset' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'asset', NEW.id, NEW.client_id, NEW.name, COALESCE((SELECT c.name FROM clients c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.client_id), ''), NEW.asset_type || ' ' || COALESCE(NEW.serial_number, '') || ' ' || COALESCE((SELECT c.name FROM clients c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.client_id), '') || ' ' || NEW.notes, NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER assets_search AFTER INSERT OR UPDATE OR DELETE ON assets
    FOR EACH ROW EXECUTE FUNCTION assets_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'asset', src.id, src.client_id, src.name, c.name, src.asset_type || ' ' || COALESCE(src.serial_number, '') || ' ' || c.name || ' ' || src.notes, src.updated_at FROM assets src JOIN clients c ON c.tenant_id = src.tenant_id AND c.id = src.client_id;

-- A renamed client renames it in its assets' documents.
CREATE FUNCTION clients_search_assets_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_documents d
    SET subtitle = NEW.name, body = a.asset_type || ' ' || COALESCE(a.serial_number, '') || ' ' || NEW.name || ' ' || a.notes
    FROM assets a
    WHERE d.tenant_id = NEW.tenant_id AND d.doc_type = 'asset' AND d.parent_id = NEW.id
        AND a.tenant_id = d.tenant_id AND a.id = d.doc_id;
    RETURN NEW;
END $$;
CREATE TRIGGER clients_search_assets AFTER UPDATE OF name ON clients
    FOR EACH ROW EXECUTE FUNCTION clients_search_assets_sync();

-- Only published articles are searchable.
CREATE FUNCTION kb_articles_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents WHERE tenant_id = OLD.tenant_id AND doc_type = 'kb_article' AND doc_id = OLD.id;
        RETURN OLD;
    END IF;
    IF NEW.status <> 'published' THEN
        DELETE FROM search_documents WHERE tenant_id = NEW.tenant_id AND doc_type = 'kb_article' AND doc_id = NEW.id;
        RETURN NEW;
    END IF;
    INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) VALUES (NEW.tenant_id, 'kb_article', NEW.id, NULL, NEW.title, COALESCE(NEW.category, ''), NEW.body, NEW.updated_at)
    ON CONFLICT (tenant_id, doc_type, doc_id) DO UPDATE SET
        parent_id = EXCLUDED.parent_id, title = EXCLUDED.title, subtitle = EXCLUDED.subtitle,
        body = EXCLUDED.body, updated_at = EXCLUDED.updated_at;
    RETURN NEW;
END $$;
CREATE TRIGGER kb_articles_search AFTER INSERT OR UPDATE OR DELETE ON kb_articles
    FOR EACH ROW EXECUTE FUNCTION kb_articles_search_sync();
INSERT INTO search_documents (tenant_id, doc_type, doc_id, parent_id, title, subtitle, body, updated_at) SELECT src.tenant_id, 'kb_article', src.id, NULL, src.title, COALESCE(src.category, ''), src.body, src.updated_at FROM kb_articles src WHERE src.status = 'published';

-- Tenants: the unit of isolation. Every tenant-scoped table references this one.
CREATE TABLE tenants (
    id         TEXT      NOT NULL PRIMARY KEY,
    slug       TEXT      NOT NULL,
    name       TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT tenants_slug_key UNIQUE (slug),
    CONSTRAINT tenants_slug_format CHECK (slug <> '' AND slug = lower(slug))
);

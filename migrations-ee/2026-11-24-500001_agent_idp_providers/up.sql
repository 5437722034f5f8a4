-- Identity providers a tenant trusts to vouch for its agents (issue: enterprise governance).
CREATE TABLE agent_idp_providers (
    tenant_id       TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT      NOT NULL,
    kind            TEXT      NOT NULL,
    issuer          TEXT      NOT NULL,
    jwks_uri        TEXT,
    -- Never empty: tokens are always bound to this server.
    audience        TEXT      NOT NULL,
    subject_claim   TEXT      NOT NULL DEFAULT 'sub',
    entra_tenant_id TEXT,
    active          BOOLEAN   NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT agent_idp_providers_issuer_key UNIQUE (tenant_id, issuer),
    CONSTRAINT agent_idp_providers_kind CHECK (kind IN ('custom', 'microsoft', 'google')),
    CONSTRAINT agent_idp_providers_audience CHECK (audience <> ''),
    CONSTRAINT agent_idp_providers_subject_claim
        CHECK (subject_claim IN ('sub', 'azp', 'client_id', 'oid', 'appid')),
    CONSTRAINT agent_idp_providers_entra CHECK (kind <> 'microsoft' OR entra_tenant_id IS NOT NULL)
);

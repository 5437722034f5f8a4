-- Admin UI sessions: a signed-in user of one tenant, found by the SHA-256 of the cookie's random
-- token (the token itself is never stored). Each session has its own CSRF token, which every
-- form and every cookie-authenticated API write must carry.
CREATE TABLE admin_sessions (
    tenant_id  TEXT      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT      NOT NULL,
    user_id    TEXT      NOT NULL,
    token_hash TEXT      NOT NULL,
    csrf_token TEXT      NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT admin_sessions_token_key UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- A request presents only the cookie: the session is found by its hash alone.
CREATE INDEX admin_sessions_token_idx ON admin_sessions (token_hash);
-- The sweeper deletes expired sessions; a user's sessions end together.
CREATE INDEX admin_sessions_expiry_idx ON admin_sessions (expires_at);
CREATE INDEX admin_sessions_user_idx ON admin_sessions (tenant_id, user_id);

-- A new password, or a change of whether the user is active, ends all of the user's sessions,
-- whoever makes the change (the API, the CLI or plain SQL).
CREATE FUNCTION end_admin_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash OR NEW.active IS DISTINCT FROM OLD.active THEN
        DELETE FROM admin_sessions WHERE tenant_id = NEW.tenant_id AND user_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_end_admin_sessions AFTER UPDATE OF password_hash, active ON users
    FOR EACH ROW EXECUTE FUNCTION end_admin_sessions();

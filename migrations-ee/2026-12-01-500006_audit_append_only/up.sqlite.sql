-- The audit is append-only. Rows leave it one way only, `alga-server audit prune`, which records
-- each prune here first: while its row is open, the triggers let that transaction delete rows
-- older than its cutoff, and no others. A tenant with audit rows therefore cannot be deleted
-- (the cascade would delete them); its audit outlives every change to it.
CREATE TABLE audit_prunes (
    id         TEXT      NOT NULL PRIMARY KEY,
    cutoff     TIMESTAMP NOT NULL,
    open       BOOLEAN   NOT NULL,
    removed    BIGINT    NOT NULL DEFAULT 0,
    pruned_by  TEXT      NOT NULL,
    pruned_at  TIMESTAMP NOT NULL
);

CREATE TRIGGER mcp_audit_no_update BEFORE UPDATE ON mcp_audit
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: UPDATE on mcp_audit is refused');
END;

CREATE TRIGGER mcp_audit_no_delete BEFORE DELETE ON mcp_audit
    WHEN NOT EXISTS (SELECT 1 FROM audit_prunes WHERE open AND OLD.created_at < cutoff)
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: DELETE on mcp_audit is refused (rows leave it only through alga-server audit prune)');
END;

CREATE TRIGGER audit_prunes_no_update BEFORE UPDATE ON audit_prunes
    WHEN NOT (OLD.open AND NOT NEW.open AND NEW.id = OLD.id AND NEW.cutoff = OLD.cutoff)
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: UPDATE on audit_prunes is refused');
END;

CREATE TRIGGER audit_prunes_no_delete BEFORE DELETE ON audit_prunes
BEGIN
    SELECT RAISE(ABORT, 'the audit is append-only: DELETE on audit_prunes is refused');
END;

-- The admin audit (a community table, append-only there) may lose rows to a prune too.
DROP TRIGGER admin_audit_no_delete;
CREATE TRIGGER admin_audit_no_delete_unless_pruned BEFORE DELETE ON admin_audit
    WHEN NOT EXISTS (SELECT 1 FROM audit_prunes WHERE open AND OLD.created_at < cutoff)
BEGIN
    SELECT RAISE(ABORT, 'the admin audit is append-only: DELETE is refused (rows leave it only through alga-server audit prune)');
END;

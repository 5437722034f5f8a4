-- A password someone else chose (the first start's printed password, a tenant's first
-- administrator's, a reset from the command line or by another administrator) lets its user sign
-- in to the admin UI once more only to choose their own: until then every other page and action
-- of the UI is refused. Kept here, not in a process, so that it holds on every replica and across
-- restarts. API keys are separate credentials and are not affected.
ALTER TABLE users ADD COLUMN password_change_required BOOLEAN NOT NULL DEFAULT FALSE;

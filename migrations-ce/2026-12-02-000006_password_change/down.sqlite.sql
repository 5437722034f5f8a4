-- SQLite 3.35 and later drop a column in place (no trigger or index names it).
ALTER TABLE users DROP COLUMN password_change_required;

DROP TRIGGER users_end_admin_sessions;
DROP TABLE admin_sessions;

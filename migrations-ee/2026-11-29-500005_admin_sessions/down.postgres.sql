DROP TRIGGER users_end_admin_sessions ON users;
DROP FUNCTION end_admin_sessions();
DROP TABLE admin_sessions;

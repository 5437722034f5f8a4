DROP TRIGGER agents_epoch ON agents;
DROP TRIGGER agent_roles_epoch ON agent_roles;
DROP TRIGGER roles_epoch ON roles;
DROP TRIGGER role_permissions_epoch ON role_permissions;
DROP TRIGGER agent_idp_providers_epoch ON agent_idp_providers;
DROP TRIGGER api_keys_epoch ON api_keys;
DROP FUNCTION bump_grant_epoch();
DROP TABLE grant_epochs;

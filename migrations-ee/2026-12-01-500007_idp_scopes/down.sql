ALTER TABLE agent_idp_providers DROP COLUMN required_roles;
ALTER TABLE agent_idp_providers DROP COLUMN required_scopes;
ALTER TABLE agent_idp_providers DROP COLUMN scopes;

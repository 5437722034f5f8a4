-- OAuth scopes per identity provider (issue: first hour with Alga). Space-separated lists:
-- `scopes` are what a client should request for this resource (advertised in the protected-resource
-- metadata and in 401 challenges); `required_scopes` must all appear in a token's `scp` or `scope`
-- claim, `required_roles` in its `roles` claim (Entra app-only tokens), else 403 insufficient_scope.
ALTER TABLE agent_idp_providers ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_idp_providers ADD COLUMN required_scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE agent_idp_providers ADD COLUMN required_roles TEXT NOT NULL DEFAULT '';

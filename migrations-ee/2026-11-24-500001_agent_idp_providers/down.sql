DROP TABLE agent_idp_providers;

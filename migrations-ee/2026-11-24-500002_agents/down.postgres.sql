DROP INDEX api_keys_agent_idx;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_one_owner;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_agent_fkey;
ALTER TABLE api_keys DROP COLUMN agent_id;
DROP TABLE agent_roles;
DROP TABLE agents;

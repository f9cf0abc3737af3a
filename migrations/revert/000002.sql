--! Reverts: sha1:5f67a8385fe34dc18e4aa7de1cd2862a1d112a03

-- Reverts 000002 (crm): drops the crm schema. Loses every company, person and position.
drop schema crm cascade;

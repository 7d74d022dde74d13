-- Roll back 202511121302_create_tenants: drop the tenants table with its index.
-- Fails (and changes nothing) while a tenant-scoped table still references it.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE tenants;

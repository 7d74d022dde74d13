-- Roll back 202511131118_create_app_roles: deliberately keeps app_rw and app_ro.
-- Roles belong to the whole cluster: other databases, login roles made members of them,
-- and grants elsewhere may depend on them, so a schema rollback never drops them.
-- A DBA who really wants them gone runs DROP OWNED / DROP ROLE by hand, per database.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $keep$
BEGIN
    RAISE NOTICE 'roles app_rw and app_ro are kept (cluster-wide, never dropped by a rollback)';
END
$keep$;

-- Roll back 202611281401_revoke_large_object_functions_from_public: deliberately grants
-- nothing back. The same REVOKE may come from the superuser bootstrap (a least-privilege
-- owner cannot revoke on pg_catalog), and the catalog cannot tell who revoked it, so a
-- rollback never re-opens large objects to PUBLIC. To restore PostgreSQL's default, a
-- superuser runs the GRANT given in docs/database-privileges.md.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $keep$
BEGIN
    RAISE NOTICE 'EXECUTE on the large-object functions stays revoked from PUBLIC';
END
$keep$;

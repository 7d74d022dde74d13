-- Roll back 202611281400_revoke_temporary_from_public: give TEMPORARY on this database
-- back to PUBLIC, PostgreSQL's default. Temp tables are the database owner's to grant, so
-- the migration itself revoked it (no bootstrap step is involved); app_rw and app_ro had
-- no grant of their own before, and get none.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $temp$
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
END
$temp$;

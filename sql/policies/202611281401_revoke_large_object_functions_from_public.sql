-- Revoke EXECUTE from PUBLIC on the large-object functions of pg_catalog. Large objects
-- live outside every table and policy, persist, and by default anyone may create them:
-- a read-only role could store data with lo_from_bytea(). No part of this project uses
-- large objects, so reading ones is revoked too. The owners of pg_catalog functions are
-- superusers: a superuser migrating revokes here; a least-privilege owner cannot, so
-- it gets a WARNING naming the statement a superuser runs once per database
-- (docs/database-privileges.md, bootstrap), and the migration still succeeds.
-- lo_import and lo_export are superuser-only already. The rollback re-grants nothing.
-- depends: 202611281400_revoke_temporary_from_public

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $lo$
DECLARE
    functions regprocedure[] := ARRAY[
        'lo_creat(integer)', 'lo_create(oid)', 'lo_from_bytea(oid, bytea)',
        'lo_open(oid, integer)', 'lowrite(integer, bytea)', 'lo_put(oid, bigint, bytea)',
        'lo_truncate(integer, integer)', 'lo_truncate64(integer, bigint)', 'lo_unlink(oid)',
        'loread(integer, integer)', 'lo_get(oid)', 'lo_get(oid, bigint, integer)',
        'lo_lseek(integer, integer, integer)', 'lo_lseek64(integer, bigint, integer)',
        'lo_tell(integer)', 'lo_tell64(integer)', 'lo_close(integer)'
    ]::regprocedure[];
    listed text := array_to_string(functions::text[], ', ');
    still_public text;
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', listed);
    END IF;
    SELECT string_agg(f::text, ', ' ORDER BY f::text)
    INTO still_public
    FROM unnest(functions) AS f
    WHERE has_function_privilege('public', f, 'EXECUTE');
    IF still_public IS NOT NULL THEN
        RAISE WARNING 'PUBLIC may still execute the large-object functions %', still_public
        USING HINT = format(
            'only a superuser can revoke it: connected to database %I, run once: '
            'REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC;',
            current_database(), listed
        );
    END IF;
END
$lo$;

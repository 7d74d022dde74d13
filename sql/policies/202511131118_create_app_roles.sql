-- Create the application roles app_rw (read-write) and app_ro (read-only) when missing.
-- Roles are cluster-wide and may already exist (another database, a DBA's bootstrap), so
-- this creates them only when absent, refuses to go on when an existing one could bypass
-- isolation (LOGIN, SUPERUSER, BYPASSRLS), and is never undone by a rollback. They are
-- NOLOGIN group roles: services log in as their own roles and are made members.
-- Creating them needs CREATEROLE (or a superuser) once; afterwards nothing here does.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $roles$
DECLARE
    wanted text;
    existing pg_roles;
BEGIN
    FOREACH wanted IN ARRAY ARRAY['app_rw', 'app_ro'] LOOP
        SELECT * INTO existing FROM pg_roles WHERE rolname = wanted;
        IF NOT FOUND THEN
            EXECUTE format(
                'CREATE ROLE %I NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS',
                wanted
            );
        ELSIF existing.rolcanlogin OR existing.rolsuper OR existing.rolbypassrls THEN
            RAISE EXCEPTION 'role % exists but is LOGIN, SUPERUSER or BYPASSRLS', wanted
            USING HINT = 'it must be a NOLOGIN group role subject to row-level security',
            ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;

    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        COMMENT ON ROLE app_rw IS
        'Read-write application role (NOLOGIN group). SELECT, INSERT, UPDATE, DELETE on '
        'the five tenant-scoped tables, always within the tenant set in '
        'app.current_tenant_id. No access to tenants.';
        COMMENT ON ROLE app_ro IS
        'Read-only application role (NOLOGIN group). SELECT on the five tenant-scoped '
        'tables, always within the tenant set in app.current_tenant_id. '
        'No access to tenants.';
    END IF;
END
$roles$;

-- Grant the application roles exactly what the data dictionary documents, and nothing
-- to PUBLIC.
--   app_rw: SELECT, INSERT, UPDATE, DELETE on the five tenant-scoped tables
--   app_ro: SELECT on the five tenant-scoped tables
-- Deliberately NOT granted: anything on tenants (provisioning is the owner's task; the
-- foreign keys to it work without a grant); TRUNCATE (it ignores row-level security and
-- would empty every tenant's rows); REFERENCES and TRIGGER (would let a role attach
-- objects to these tables); CREATE on schema public (application roles own nothing).
-- depends: 202511131118_create_app_roles 202511131120_add_rls_policies

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

REVOKE ALL ON tenants, attribution_events, dead_events, attribution_allocations,
revenue_ledger, reconciliation_runs FROM PUBLIC; -- noqa: CP02

REVOKE CREATE ON SCHEMA public FROM PUBLIC; -- noqa: CP02

GRANT SELECT, INSERT, UPDATE, DELETE
ON attribution_events, dead_events, attribution_allocations, revenue_ledger,
reconciliation_runs
TO app_rw;

GRANT SELECT
ON attribution_events, dead_events, attribution_allocations, revenue_ledger,
reconciliation_runs
TO app_ro;

-- Roll back 202511131119_enable_row_level_security: un-force and disable RLS on the six
-- tables (the policies were dropped by the rollback of 202511131120_add_rls_policies).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE reconciliation_runs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE reconciliation_runs DISABLE ROW LEVEL SECURITY;

ALTER TABLE revenue_ledger NO FORCE ROW LEVEL SECURITY;
ALTER TABLE revenue_ledger DISABLE ROW LEVEL SECURITY;

ALTER TABLE attribution_allocations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE attribution_allocations DISABLE ROW LEVEL SECURITY;

ALTER TABLE dead_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE dead_events DISABLE ROW LEVEL SECURITY;

ALTER TABLE attribution_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE attribution_events DISABLE ROW LEVEL SECURITY;

ALTER TABLE tenants DISABLE ROW LEVEL SECURITY;

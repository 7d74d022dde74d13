-- Enable row-level security on all six tables and force it on the five tenant-scoped ones.
-- With RLS on and no policy yet, non-owners see nothing: the tables are never open, not
-- even between this migration and the next. FORCE makes the table owner obey the policies
-- too (only superusers and BYPASSRLS roles are exempt). tenants is enabled but not forced
-- and gets no policy: only its owner reads it (DESIGN decision 4).
-- depends: 202511121302_create_tenants 202511121303_create_attribution_events 202511121304_create_dead_events 202511121305_create_attribution_allocations 202511121306_create_reconciliation_runs 202511121307_create_revenue_ledger

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;

ALTER TABLE attribution_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE attribution_events FORCE ROW LEVEL SECURITY;

ALTER TABLE dead_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_events FORCE ROW LEVEL SECURITY;

ALTER TABLE attribution_allocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE attribution_allocations FORCE ROW LEVEL SECURITY;

ALTER TABLE revenue_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE revenue_ledger FORCE ROW LEVEL SECURITY;

ALTER TABLE reconciliation_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE reconciliation_runs FORCE ROW LEVEL SECURITY;

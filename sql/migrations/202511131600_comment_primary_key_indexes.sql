-- Comment the indexes that back the six primary keys. Their constraints carry comments
-- (202511121302..07) but PostgreSQL keeps a separate description for the index itself,
-- and the schema-wide rule (checks/test_comments.py) is that no object in schema public
-- lacks one: the generated data dictionary shows these descriptions.
-- depends: 202511121302_create_tenants 202511121303_create_attribution_events 202511121304_create_dead_events 202511121305_create_attribution_allocations 202511121306_create_reconciliation_runs 202511121307_create_revenue_ledger

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

COMMENT ON INDEX tenants_pkey IS
'Unique index backing tenants_pkey (primary key on id).';
COMMENT ON INDEX attribution_events_pkey IS
'Unique index backing attribution_events_pkey (primary key on id).';
COMMENT ON INDEX dead_events_pkey IS
'Unique index backing dead_events_pkey (primary key on id).';
COMMENT ON INDEX attribution_allocations_pkey IS
'Unique index backing attribution_allocations_pkey (primary key on id).';
COMMENT ON INDEX reconciliation_runs_pkey IS
'Unique index backing reconciliation_runs_pkey (primary key on id).';
COMMENT ON INDEX revenue_ledger_pkey IS
'Unique index backing revenue_ledger_pkey (primary key on id).';

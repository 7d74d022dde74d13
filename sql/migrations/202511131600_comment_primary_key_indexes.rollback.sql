-- Roll back 202511131600_comment_primary_key_indexes: remove the comments of the six
-- primary-key indexes (the indexes themselves belong to their tables' migrations).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

COMMENT ON INDEX revenue_ledger_pkey IS NULL;
COMMENT ON INDEX reconciliation_runs_pkey IS NULL;
COMMENT ON INDEX attribution_allocations_pkey IS NULL;
COMMENT ON INDEX dead_events_pkey IS NULL;
COMMENT ON INDEX attribution_events_pkey IS NULL;
COMMENT ON INDEX tenants_pkey IS NULL;

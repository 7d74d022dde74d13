-- Validate the finite-time checks that 202611281500 added NOT VALID. In a transaction of
-- its own, VALIDATE CONSTRAINT scans existing rows under a SHARE UPDATE EXCLUSIVE lock,
-- which lets reads and writes go on; new rows were checked from the moment each check was
-- added. A row holding infinity fails this migration naming the constraint: fix the row
-- (e.g. UPDATE ... SET updated_at = created_at), then migrate again.
-- depends: 202511131601_comment_read_model_refreshes_pkey_index 202611281500_require_finite_timestamps

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_events
VALIDATE CONSTRAINT ck_attribution_events_occurred_at_finite;

ALTER TABLE attribution_events
VALIDATE CONSTRAINT ck_attribution_events_created_at_finite;

ALTER TABLE attribution_events
VALIDATE CONSTRAINT ck_attribution_events_updated_at_finite;

ALTER TABLE dead_events
VALIDATE CONSTRAINT ck_dead_events_ingested_at_finite;

ALTER TABLE attribution_allocations
VALIDATE CONSTRAINT ck_attribution_allocations_created_at_finite;

ALTER TABLE attribution_allocations
VALIDATE CONSTRAINT ck_attribution_allocations_updated_at_finite;

ALTER TABLE reconciliation_runs
VALIDATE CONSTRAINT ck_reconciliation_runs_last_run_at_finite;

ALTER TABLE reconciliation_runs
VALIDATE CONSTRAINT ck_reconciliation_runs_created_at_finite;

ALTER TABLE reconciliation_runs
VALIDATE CONSTRAINT ck_reconciliation_runs_updated_at_finite;

ALTER TABLE revenue_ledger
VALIDATE CONSTRAINT ck_revenue_ledger_verified_at_finite;

ALTER TABLE revenue_ledger
VALIDATE CONSTRAINT ck_revenue_ledger_created_at_finite;

ALTER TABLE revenue_ledger
VALIDATE CONSTRAINT ck_revenue_ledger_updated_at_finite;

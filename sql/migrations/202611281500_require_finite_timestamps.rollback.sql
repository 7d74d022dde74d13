-- Roll back 202611281500_require_finite_timestamps: drop the finite-time checks.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_events
DROP CONSTRAINT ck_attribution_events_occurred_at_finite;

ALTER TABLE attribution_events
DROP CONSTRAINT ck_attribution_events_created_at_finite;

ALTER TABLE attribution_events
DROP CONSTRAINT ck_attribution_events_updated_at_finite;

ALTER TABLE dead_events
DROP CONSTRAINT ck_dead_events_ingested_at_finite;

ALTER TABLE attribution_allocations
DROP CONSTRAINT ck_attribution_allocations_created_at_finite;

ALTER TABLE attribution_allocations
DROP CONSTRAINT ck_attribution_allocations_updated_at_finite;

ALTER TABLE reconciliation_runs
DROP CONSTRAINT ck_reconciliation_runs_last_run_at_finite;

ALTER TABLE reconciliation_runs
DROP CONSTRAINT ck_reconciliation_runs_created_at_finite;

ALTER TABLE reconciliation_runs
DROP CONSTRAINT ck_reconciliation_runs_updated_at_finite;

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_verified_at_finite;

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_created_at_finite;

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_updated_at_finite;

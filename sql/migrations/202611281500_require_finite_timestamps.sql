-- Every timestamptz column an application role can write holds a finite time (issue 14).
-- PostgreSQL accepts 'infinity' and '-infinity' for timestamptz; an application writing
-- them (or a far date) broke arithmetic downstream: one revenue_ledger.updated_at of
-- 'infinity' made refresh_read_models() fail for every tenant with 22008. Each column gets
-- ck_<table>_<column>_finite: CHECK (isfinite(column)), 23514 for either infinity.
-- tenants (owner only) and read_model_refreshes (owner only) are not application-written.
-- Added NOT VALID (no scan, brief lock); 202611281501 validates them without blocking writes.
-- depends: 202511131601_comment_read_model_refreshes_pkey_index 202611281402_bound_idle_transactions

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_events
ADD CONSTRAINT ck_attribution_events_occurred_at_finite
CHECK (isfinite(occurred_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_events_occurred_at_finite ON attribution_events IS
'occurred_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_events
ADD CONSTRAINT ck_attribution_events_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_events_created_at_finite ON attribution_events IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_events
ADD CONSTRAINT ck_attribution_events_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_events_updated_at_finite ON attribution_events IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE dead_events
ADD CONSTRAINT ck_dead_events_ingested_at_finite
CHECK (isfinite(ingested_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_dead_events_ingested_at_finite ON dead_events IS
'ingested_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_allocations
ADD CONSTRAINT ck_attribution_allocations_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_allocations_created_at_finite ON attribution_allocations IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_allocations
ADD CONSTRAINT ck_attribution_allocations_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_allocations_updated_at_finite ON attribution_allocations IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE reconciliation_runs
ADD CONSTRAINT ck_reconciliation_runs_last_run_at_finite
CHECK (isfinite(last_run_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_reconciliation_runs_last_run_at_finite ON reconciliation_runs IS
'last_run_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE reconciliation_runs
ADD CONSTRAINT ck_reconciliation_runs_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_reconciliation_runs_created_at_finite ON reconciliation_runs IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE reconciliation_runs
ADD CONSTRAINT ck_reconciliation_runs_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_reconciliation_runs_updated_at_finite ON reconciliation_runs IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_verified_at_finite
CHECK (isfinite(verified_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_verified_at_finite ON revenue_ledger IS
'verified_at is a finite time, never infinity or -infinity (23514 otherwise); '
'NULL is allowed (not verified yet).';

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_created_at_finite ON revenue_ledger IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_updated_at_finite ON revenue_ledger IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

-- Roll back 202611281501_validate_finite_timestamps: PostgreSQL cannot mark a constraint
-- NOT VALID again, so each is dropped and re-added NOT VALID (no scan), with its comment,
-- exactly as 202611281500 left it.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_events
DROP CONSTRAINT ck_attribution_events_occurred_at_finite;

ALTER TABLE attribution_events
ADD CONSTRAINT ck_attribution_events_occurred_at_finite
CHECK (isfinite(occurred_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_events_occurred_at_finite ON attribution_events IS
'occurred_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_events
DROP CONSTRAINT ck_attribution_events_created_at_finite;

ALTER TABLE attribution_events
ADD CONSTRAINT ck_attribution_events_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_events_created_at_finite ON attribution_events IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_events
DROP CONSTRAINT ck_attribution_events_updated_at_finite;

ALTER TABLE attribution_events
ADD CONSTRAINT ck_attribution_events_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_events_updated_at_finite ON attribution_events IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE dead_events
DROP CONSTRAINT ck_dead_events_ingested_at_finite;

ALTER TABLE dead_events
ADD CONSTRAINT ck_dead_events_ingested_at_finite
CHECK (isfinite(ingested_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_dead_events_ingested_at_finite ON dead_events IS
'ingested_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_allocations
DROP CONSTRAINT ck_attribution_allocations_created_at_finite;

ALTER TABLE attribution_allocations
ADD CONSTRAINT ck_attribution_allocations_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_allocations_created_at_finite ON attribution_allocations IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE attribution_allocations
DROP CONSTRAINT ck_attribution_allocations_updated_at_finite;

ALTER TABLE attribution_allocations
ADD CONSTRAINT ck_attribution_allocations_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_allocations_updated_at_finite ON attribution_allocations IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE reconciliation_runs
DROP CONSTRAINT ck_reconciliation_runs_last_run_at_finite;

ALTER TABLE reconciliation_runs
ADD CONSTRAINT ck_reconciliation_runs_last_run_at_finite
CHECK (isfinite(last_run_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_reconciliation_runs_last_run_at_finite ON reconciliation_runs IS
'last_run_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE reconciliation_runs
DROP CONSTRAINT ck_reconciliation_runs_created_at_finite;

ALTER TABLE reconciliation_runs
ADD CONSTRAINT ck_reconciliation_runs_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_reconciliation_runs_created_at_finite ON reconciliation_runs IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE reconciliation_runs
DROP CONSTRAINT ck_reconciliation_runs_updated_at_finite;

ALTER TABLE reconciliation_runs
ADD CONSTRAINT ck_reconciliation_runs_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_reconciliation_runs_updated_at_finite ON reconciliation_runs IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_verified_at_finite;

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_verified_at_finite
CHECK (isfinite(verified_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_verified_at_finite ON revenue_ledger IS
'verified_at is a finite time, never infinity or -infinity (23514 otherwise); '
'NULL is allowed (not verified yet).';

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_created_at_finite;

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_created_at_finite
CHECK (isfinite(created_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_created_at_finite ON revenue_ledger IS
'created_at is a finite time, never infinity or -infinity (23514 otherwise).';

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_updated_at_finite;

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_updated_at_finite
CHECK (isfinite(updated_at))
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_updated_at_finite ON revenue_ledger IS
'updated_at is a finite time, never infinity or -infinity (23514 otherwise).';

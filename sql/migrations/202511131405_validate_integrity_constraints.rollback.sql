-- Roll back 202511131405_validate_integrity_constraints: PostgreSQL cannot mark a
-- constraint NOT VALID again, so each is dropped and re-added NOT VALID (no scan), with
-- its comment, exactly as 202511131400, 202511131401 and 202511131404 left it.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_verified_has_timestamp;

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_verified_has_timestamp
CHECK (NOT is_verified OR verified_at IS NOT NULL)
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_verified_has_timestamp ON revenue_ledger IS
'A verified row (is_verified = true) must have verified_at (23514 otherwise).';

ALTER TABLE revenue_ledger
DROP CONSTRAINT fk_revenue_ledger_tenant_reconciliation_run;

ALTER TABLE revenue_ledger
ADD CONSTRAINT fk_revenue_ledger_tenant_reconciliation_run
FOREIGN KEY (tenant_id, reconciliation_run_id)
REFERENCES reconciliation_runs (tenant_id, id)
ON DELETE SET NULL (reconciliation_run_id)
NOT VALID;

COMMENT ON CONSTRAINT fk_revenue_ledger_tenant_reconciliation_run ON revenue_ledger IS
'(tenant_id, reconciliation_run_id) references reconciliation_runs (tenant_id, id): a ledger '
'row can only name a run of its own tenant (23503 otherwise, for every role). Deleting the '
'run sets reconciliation_run_id to NULL and keeps the row and its tenant_id.';

ALTER TABLE attribution_allocations
DROP CONSTRAINT fk_attribution_allocations_tenant_event;

ALTER TABLE attribution_allocations
ADD CONSTRAINT fk_attribution_allocations_tenant_event
FOREIGN KEY (tenant_id, event_id)
REFERENCES attribution_events (tenant_id, id) ON DELETE CASCADE
NOT VALID;

COMMENT ON CONSTRAINT fk_attribution_allocations_tenant_event ON attribution_allocations IS
'(tenant_id, event_id) references attribution_events (tenant_id, id): an allocation can only '
'credit an event of its own tenant (23503 otherwise, for every role, since foreign-key checks '
'ignore row-level security). Deleting the event deletes its allocations, as documented.';

-- Keep every ledger row's reconciliation run inside its tenant (decision 9). The dictionary
-- documents revenue_ledger.reconciliation_run_id as a link to reconciliation_runs without a
-- foreign key, so today it can name a missing run or another tenant's run. A composite
-- foreign key on (tenant_id, reconciliation_run_id) to reconciliation_runs (tenant_id, id)
-- closes both; deleting a run clears only reconciliation_run_id (PostgreSQL 15 column list
-- on SET NULL: tenant_id is NOT NULL and must stay). A ledger row without a run
-- (reconciliation_run_id NULL) is not checked (MATCH SIMPLE). The index is partial: only rows
-- that name a run can ever be looked up through this key.
-- Locking: as in 202511131400, the foreign key is added NOT VALID and validated by
-- 202511131405; the two index builds block writes to their table while they run.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX uq_reconciliation_runs_tenant_id_id ON reconciliation_runs (tenant_id, id);

ALTER TABLE reconciliation_runs
ADD CONSTRAINT uq_reconciliation_runs_tenant_id_id
UNIQUE USING INDEX uq_reconciliation_runs_tenant_id_id;

-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_revenue_ledger_tenant_reconciliation_run_id
ON revenue_ledger (tenant_id, reconciliation_run_id)
WHERE reconciliation_run_id IS NOT NULL;

ALTER TABLE revenue_ledger
ADD CONSTRAINT fk_revenue_ledger_tenant_reconciliation_run
FOREIGN KEY (tenant_id, reconciliation_run_id)
REFERENCES reconciliation_runs (tenant_id, id)
ON DELETE SET NULL (reconciliation_run_id)
NOT VALID;

COMMENT ON CONSTRAINT uq_reconciliation_runs_tenant_id_id ON reconciliation_runs IS
'Unique (tenant_id, id): the target of fk_revenue_ledger_tenant_reconciliation_run. id alone '
'is already unique; this key exists so that references can include the tenant.';
COMMENT ON INDEX uq_reconciliation_runs_tenant_id_id IS
'Index behind uq_reconciliation_runs_tenant_id_id (tenant_id, id).';
COMMENT ON INDEX idx_revenue_ledger_tenant_reconciliation_run_id IS
'Partial index on (tenant_id, reconciliation_run_id) where a run is named, for '
'fk_revenue_ledger_tenant_reconciliation_run lookups and its SET NULL on run deletion.';
COMMENT ON CONSTRAINT fk_revenue_ledger_tenant_reconciliation_run ON revenue_ledger IS
'(tenant_id, reconciliation_run_id) references reconciliation_runs (tenant_id, id): a ledger '
'row can only name a run of its own tenant (23503 otherwise, for every role). Deleting the '
'run sets reconciliation_run_id to NULL and keeps the row and its tenant_id.';

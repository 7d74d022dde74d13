-- Roll back 202511131401_keep_ledger_runs_inside_their_tenant: drop the composite foreign
-- key, its index and the unique key it referenced; the documented objects are untouched.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE revenue_ledger
DROP CONSTRAINT fk_revenue_ledger_tenant_reconciliation_run;

DROP INDEX idx_revenue_ledger_tenant_reconciliation_run_id;

ALTER TABLE reconciliation_runs
DROP CONSTRAINT uq_reconciliation_runs_tenant_id_id;

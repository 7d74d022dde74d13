-- Validate the constraints that 202511131400, 202511131401 and 202511131404 added NOT VALID.
-- In a transaction of its own, VALIDATE CONSTRAINT scans existing rows under a SHARE UPDATE
-- EXCLUSIVE lock (ROW SHARE on the referenced table), which lets reads and writes go on;
-- new rows were checked from the moment each constraint was added. A row that breaks one
-- fails this migration with that constraint's name: fix the data, then migrate again.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_allocations
VALIDATE CONSTRAINT fk_attribution_allocations_tenant_event;

ALTER TABLE revenue_ledger
VALIDATE CONSTRAINT fk_revenue_ledger_tenant_reconciliation_run;

ALTER TABLE revenue_ledger
VALIDATE CONSTRAINT ck_revenue_ledger_verified_has_timestamp;

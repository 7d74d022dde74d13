-- Roll back 202612071602_maintain_rollups_with_statement_triggers: drop the triggers and
-- their functions, and empty the rollups and deltas (without triggers they would go stale;
-- the forward migration backfills them again).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TRIGGER trg_attribution_allocations_rollup_insert ON attribution_allocations;
DROP TRIGGER trg_attribution_allocations_rollup_update ON attribution_allocations;
DROP TRIGGER trg_attribution_allocations_rollup_delete ON attribution_allocations;
DROP TRIGGER trg_attribution_allocations_rollup_truncate ON attribution_allocations;
DROP TRIGGER trg_revenue_ledger_rollup_insert ON revenue_ledger;
DROP TRIGGER trg_revenue_ledger_rollup_update ON revenue_ledger;
DROP TRIGGER trg_revenue_ledger_rollup_delete ON revenue_ledger;
DROP TRIGGER trg_revenue_ledger_rollup_truncate ON revenue_ledger;
DROP FUNCTION rollup_allocations_delta();
DROP FUNCTION rollup_ledger_delta();

DELETE FROM rollup_channel_daily_delta;
DELETE FROM rollup_channel_daily;
DELETE FROM rollup_ledger_daily_delta;
DELETE FROM rollup_ledger_daily;

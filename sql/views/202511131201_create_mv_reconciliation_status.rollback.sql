-- Roll back 202511131201_create_mv_reconciliation_status: drop the view with its index.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP MATERIALIZED VIEW mv_reconciliation_status;

-- Roll back 202612071601_create_ledger_daily_rollup: drop the rollup and its delta table.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE rollup_ledger_daily_delta;
DROP TABLE rollup_ledger_daily;

-- Roll back 202511121306_create_reconciliation_runs: drop the table with its indexes.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE reconciliation_runs;

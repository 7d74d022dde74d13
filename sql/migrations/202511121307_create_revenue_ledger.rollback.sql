-- Roll back 202511121307_create_revenue_ledger: drop the table with its indexes.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE revenue_ledger;

-- Roll back 202511121305_create_attribution_allocations: drop the table with its indexes.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE attribution_allocations;

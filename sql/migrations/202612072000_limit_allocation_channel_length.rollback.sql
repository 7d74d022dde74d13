-- Roll back 202612072000_limit_allocation_channel_length: drop the length check.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_allocations
DROP CONSTRAINT ck_attribution_allocations_channel_length;

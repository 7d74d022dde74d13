-- Validate ck_attribution_allocations_channel_length (202612072000) in a transaction of its
-- own: VALIDATE CONSTRAINT scans under SHARE UPDATE EXCLUSIVE, so reads and writes go on.
-- A longer channel already stored fails this migration naming the constraint: shorten that
-- row's channel (or delete the row), then migrate again.
-- depends: 202612072000_limit_allocation_channel_length

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_allocations
VALIDATE CONSTRAINT ck_attribution_allocations_channel_length;

-- Roll back 202612072001_validate_allocation_channel_length: PostgreSQL cannot mark a
-- constraint NOT VALID again, so it is dropped and re-added NOT VALID (no scan), with its
-- comment, exactly as 202612072000 left it.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_allocations
DROP CONSTRAINT ck_attribution_allocations_channel_length;

ALTER TABLE attribution_allocations
ADD CONSTRAINT ck_attribution_allocations_channel_length
CHECK (char_length(channel) <= 255)
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_allocations_channel_length ON attribution_allocations IS
'channel is at most 255 characters (23514 otherwise), so every rollup key fits its index.';

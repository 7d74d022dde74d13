-- attribution_allocations.channel is an identifier (google_search, facebook_ads): at most 255
-- characters, 23514 otherwise. Unbounded, one app_rw row with a 2,680-byte channel fit the
-- channel index but not rollup_channel_daily's key, and fold_rollups() failed for every
-- tenant (54000). Added NOT VALID (no scan); 202612072001 validates it without blocking.
-- depends: 202612071606_create_rollup_reader_views

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_allocations
ADD CONSTRAINT ck_attribution_allocations_channel_length
CHECK (char_length(channel) <= 255)
NOT VALID;

COMMENT ON CONSTRAINT ck_attribution_allocations_channel_length ON attribution_allocations IS
'channel is at most 255 characters (23514 otherwise), so every rollup key fits its index.';

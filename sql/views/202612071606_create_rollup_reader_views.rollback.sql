-- Roll back 202612071606_create_rollup_reader_views: drop the two reader views.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-view
DROP VIEW v_rollup_ledger_daily;
-- squawk-ignore ban-drop-view
DROP VIEW v_rollup_channel_daily;

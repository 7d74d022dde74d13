-- Roll back 202612071600_create_channel_daily_rollup: drop the rollup and its delta table.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE rollup_channel_daily_delta;
DROP TABLE rollup_channel_daily;

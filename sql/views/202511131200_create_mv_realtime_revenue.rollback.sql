-- Roll back 202511131200_create_mv_realtime_revenue: drop the view, its index and grants.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP MATERIALIZED VIEW mv_realtime_revenue;

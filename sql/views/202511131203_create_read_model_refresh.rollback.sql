-- Roll back 202511131203_create_read_model_refresh: drop the refresh functions and their
-- bookkeeping table. The materialized views stay as they are.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP FUNCTION refresh_read_models(interval, boolean);
DROP FUNCTION refresh_read_model(text, interval, boolean);
DROP TABLE read_model_refreshes;

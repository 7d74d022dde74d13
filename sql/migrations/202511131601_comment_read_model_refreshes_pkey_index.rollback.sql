-- Roll back 202511131601_comment_read_model_refreshes_pkey_index: remove the index comment
-- (the index itself belongs to 202511131203_create_read_model_refresh).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

COMMENT ON INDEX read_model_refreshes_pkey IS NULL;

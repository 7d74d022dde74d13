-- Comment the index behind read_model_refreshes_pkey. 202511131203_create_read_model_refresh
-- comments the constraint, but PostgreSQL keeps a separate description for the index, and
-- no object in schema public may lack one (checks/test_comments.py).
-- depends: 202511131203_create_read_model_refresh

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

COMMENT ON INDEX read_model_refreshes_pkey IS
'Unique index backing read_model_refreshes_pkey (primary key on view_name).';

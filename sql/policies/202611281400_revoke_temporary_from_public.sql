-- Revoke TEMPORARY on this database from PUBLIC (and from app_rw, app_ro, should a DBA
-- have granted it). PostgreSQL grants TEMP to PUBLIC by default, so a read-only role could
-- write temp tables, and pg_temp is searched before public: behind a transaction-mode
-- pooler one client's CREATE TEMP TABLE attribution_events (...) would shadow the real
-- table for the next client of the same server connection. The database owner keeps TEMP
-- (owners hold every privilege on their database). Dynamic SQL: the name of the database
-- is not known in advance. Needs only database ownership.
-- depends: 202511131601_comment_read_model_refreshes_pkey_index 202511131121_add_grants

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $temp$
BEGIN
    EXECUTE format(
        'REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, app_rw, app_ro',
        current_database()
    );
END
$temp$;

-- Bound idle transactions in this database: idle_in_transaction_session_timeout = 15s.
-- Any application role can LOCK TABLE ... IN ACCESS EXCLUSIVE MODE (or just hold row
-- locks) and then sit idle in its transaction; without a bound, every writer queues
-- behind it forever. The server now ends a session idle in a transaction for 15 s,
-- which releases its locks. Per-login-role settings (lock_timeout, statement_timeout)
-- and the sessions that set it off for themselves (the migrator, pg_dump) are described
-- in docs/database-privileges.md. Dynamic SQL on current_database(); needs only database
-- ownership. Takes effect for new sessions.
-- depends: 202611281401_revoke_large_object_functions_from_public

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $idle$
BEGIN
    EXECUTE format(
        'ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L',
        current_database(), '15s'
    );
END
$idle$;

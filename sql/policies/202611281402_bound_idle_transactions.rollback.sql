-- Roll back 202611281402_bound_idle_transactions: remove the database-level
-- idle_in_transaction_session_timeout (new sessions fall back to the role's or the
-- server's setting; PostgreSQL's default is 0, no bound).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DO $idle$
BEGIN
    EXECUTE format(
        'ALTER DATABASE %I RESET idle_in_transaction_session_timeout',
        current_database()
    );
END
$idle$;

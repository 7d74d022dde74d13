-- Roll back 202511131404_require_verified_at_for_verified_ledger: drop the check.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE revenue_ledger
DROP CONSTRAINT ck_revenue_ledger_verified_has_timestamp;

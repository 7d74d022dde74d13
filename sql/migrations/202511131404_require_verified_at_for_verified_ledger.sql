-- A verified ledger row says when it was verified (decision 9). The dictionary has
-- is_verified and verified_at side by side but nothing ties them, so a row could claim
-- is_verified = true with no verified_at. ck_revenue_ledger_verified_has_timestamp requires
-- verified_at whenever is_verified is true; an unverified row may keep or lack verified_at.
-- Added NOT VALID (no scan, brief lock); 202511131405 validates it without blocking writes.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE revenue_ledger
ADD CONSTRAINT ck_revenue_ledger_verified_has_timestamp
CHECK (NOT is_verified OR verified_at IS NOT NULL)
NOT VALID;

COMMENT ON CONSTRAINT ck_revenue_ledger_verified_has_timestamp ON revenue_ledger IS
'A verified row (is_verified = true) must have verified_at (23514 otherwise).';

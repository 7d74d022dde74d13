-- Roll back 202511131121_add_grants: revoke everything granted to app_rw and app_ro.
-- PUBLIC is not re-granted anything: it had no privilege on these tables before, and
-- PostgreSQL 15 gives PUBLIC no CREATE on schema public, so revoking it restored the
-- default rather than changing it.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

REVOKE ALL
ON attribution_events, dead_events, attribution_allocations, revenue_ledger,
reconciliation_runs
FROM app_rw, app_ro;

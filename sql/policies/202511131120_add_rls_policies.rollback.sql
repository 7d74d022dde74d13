-- Roll back 202511131120_add_rls_policies: drop tenant_isolation_policy from the five
-- tables. RLS stays enabled (and forced), so non-owners then see no rows at all.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP POLICY tenant_isolation_policy ON reconciliation_runs;
DROP POLICY tenant_isolation_policy ON revenue_ledger;
DROP POLICY tenant_isolation_policy ON attribution_allocations;
DROP POLICY tenant_isolation_policy ON dead_events;
DROP POLICY tenant_isolation_policy ON attribution_events;

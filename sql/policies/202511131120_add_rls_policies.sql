-- Add tenant_isolation_policy to the five tenant-scoped tables, exactly as documented:
-- for all commands, to PUBLIC, rows are visible (USING) and writable (WITH CHECK) only
-- when tenant_id equals the transaction's app.current_tenant_id. Without that setting
-- current_setting() raises an error, and an empty setting fails the uuid cast: a session
-- without a tenant gets an error, never rows (isolation fails closed, DESIGN decision 5).
-- Applications set it per transaction: SELECT set_config('app.current_tenant_id', $1, true).
-- depends: 202511131119_enable_row_level_security

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE POLICY tenant_isolation_policy ON attribution_events
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);
COMMENT ON POLICY tenant_isolation_policy ON attribution_events IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';

CREATE POLICY tenant_isolation_policy ON dead_events
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);
COMMENT ON POLICY tenant_isolation_policy ON dead_events IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';

CREATE POLICY tenant_isolation_policy ON attribution_allocations
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);
COMMENT ON POLICY tenant_isolation_policy ON attribution_allocations IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';

CREATE POLICY tenant_isolation_policy ON revenue_ledger
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);
COMMENT ON POLICY tenant_isolation_policy ON revenue_ledger IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';

CREATE POLICY tenant_isolation_policy ON reconciliation_runs
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);
COMMENT ON POLICY tenant_isolation_policy ON reconciliation_runs IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';

-- Create the tenant-scoped read path of the API: one view per materialized view that
-- returns only the row of the tenant in app.current_tenant_id. Materialized views cannot
-- carry row-level security, and their documented SELECT grants let a direct read see every
-- tenant; these views are the path the API must use (decision record
-- docs/decisions/0001-materialized-views-and-rls.md). They fail closed exactly like
-- tenant_isolation_policy: no setting -> error 42704, '' or garbage -> error 22P02.
-- security_barrier keeps caller-supplied predicates from running before the tenant filter.
-- depends: 202511131200_create_mv_realtime_revenue 202511131201_create_mv_reconciliation_status

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE VIEW v_realtime_revenue_current_tenant WITH (security_barrier = TRUE) AS
SELECT
    tenant_id,
    total_revenue,
    verified,
    data_freshness_seconds
FROM mv_realtime_revenue
WHERE tenant_id = current_setting('app.current_tenant_id')::uuid;

CREATE VIEW v_reconciliation_status_current_tenant WITH (security_barrier = TRUE) AS
SELECT
    tenant_id,
    state,
    last_run_at
FROM mv_reconciliation_status
WHERE tenant_id = current_setting('app.current_tenant_id')::uuid;

REVOKE ALL ON v_realtime_revenue_current_tenant, v_reconciliation_status_current_tenant
FROM PUBLIC; -- noqa: CP02
GRANT SELECT ON v_realtime_revenue_current_tenant, v_reconciliation_status_current_tenant
TO app_rw, app_ro;

COMMENT ON VIEW v_realtime_revenue_current_tenant IS
'RealtimeRevenueResponse of the current tenant (app.current_tenant_id): the API read path '
'over mv_realtime_revenue. Fails closed without a tenant.';
COMMENT ON COLUMN v_realtime_revenue_current_tenant.tenant_id IS 'Tenant identifier.';
COMMENT ON COLUMN v_realtime_revenue_current_tenant.total_revenue IS
'Total revenue in dollars, exact to the cent.';
COMMENT ON COLUMN v_realtime_revenue_current_tenant.verified IS
'True only when every ledger row of the tenant is verified.';
COMMENT ON COLUMN v_realtime_revenue_current_tenant.data_freshness_seconds IS
'Whole seconds from the newest ledger update to the last refresh.';
COMMENT ON VIEW v_reconciliation_status_current_tenant IS
'ReconciliationStatusResponse of the current tenant (app.current_tenant_id): the API read '
'path over mv_reconciliation_status. Fails closed without a tenant.';
COMMENT ON COLUMN v_reconciliation_status_current_tenant.tenant_id IS 'Tenant identifier.';
COMMENT ON COLUMN v_reconciliation_status_current_tenant.state IS
'State of the latest reconciliation run: idle, running, failed or completed.';
COMMENT ON COLUMN v_reconciliation_status_current_tenant.last_run_at IS
'Timestamp of the latest reconciliation run.';

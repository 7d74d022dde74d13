-- Roll back 202611281502_clamp_realtime_revenue_freshness: recreate mv_realtime_revenue
-- and v_realtime_revenue_current_tenant exactly as 202511131200 and 202511131202 made them.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP VIEW v_realtime_revenue_current_tenant;
DROP MATERIALIZED VIEW mv_realtime_revenue;

CREATE MATERIALIZED VIEW mv_realtime_revenue AS
SELECT
    tenant_id,
    round(sum(revenue_cents)::numeric / 100, 2) AS total_revenue,
    bool_and(is_verified) AS verified,
    greatest(0, floor(extract(EPOCH FROM now() - max(updated_at))))::integer
        AS data_freshness_seconds
FROM revenue_ledger
GROUP BY tenant_id
WITH DATA;

-- The view was created just above, in this transaction: nobody else can see it yet.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX idx_mv_realtime_revenue_tenant_id ON mv_realtime_revenue (tenant_id);

REVOKE ALL ON mv_realtime_revenue FROM PUBLIC; -- noqa: CP02
GRANT SELECT ON mv_realtime_revenue TO app_rw, app_ro;

COMMENT ON MATERIALIZED VIEW mv_realtime_revenue IS
'Aggregate realtime revenue data for GET /api/attribution/revenue/realtime endpoint.
Data Class: Non-PII
Ownership: Attribution service
Contract Mapping: api-contracts/openapi/v1/attribution.yaml:39-64 (RealtimeRevenueResponse)
Refresh Policy: CONCURRENTLY with TTL-based refresh (30-60s), see refresh_read_models()';
COMMENT ON COLUMN mv_realtime_revenue.tenant_id IS 'Tenant identifier. Tenant isolation.';
COMMENT ON COLUMN mv_realtime_revenue.total_revenue IS
'Total revenue in dollars, exact to the cent (sum of revenue_ledger.revenue_cents / 100). '
'Contract mapping: total_revenue (number float).';
COMMENT ON COLUMN mv_realtime_revenue.verified IS
'True only when every ledger row of the tenant is verified. '
'Contract mapping: verified (boolean).';
COMMENT ON COLUMN mv_realtime_revenue.data_freshness_seconds IS
'Whole seconds from the newest ledger updated_at to the refresh, never negative. '
'Contract mapping: data_freshness_seconds (integer).';
COMMENT ON INDEX idx_mv_realtime_revenue_tenant_id IS
'Unique index on tenant_id for fast tenant-scoped queries (p95 < 50ms target); '
'required by REFRESH MATERIALIZED VIEW CONCURRENTLY.';

CREATE VIEW v_realtime_revenue_current_tenant WITH (security_barrier = TRUE) AS
SELECT
    tenant_id,
    total_revenue,
    verified,
    data_freshness_seconds
FROM mv_realtime_revenue
WHERE tenant_id = current_setting('app.current_tenant_id')::uuid;

REVOKE ALL ON v_realtime_revenue_current_tenant FROM PUBLIC; -- noqa: CP02
GRANT SELECT ON v_realtime_revenue_current_tenant TO app_rw, app_ro;

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

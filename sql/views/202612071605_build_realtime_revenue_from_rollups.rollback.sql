-- Roll back 202612071605_build_realtime_revenue_from_rollups: mv_realtime_revenue is again
-- the aggregate of the whole revenue_ledger (202611281502's definition), with its index,
-- grants, comments and the current-tenant view.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Both are recreated below, same names, columns and grants, in this transaction: readers
-- wait on the lock for the length of this migration (one scan of revenue_ledger), never fail.
-- squawk-ignore ban-drop-view
DROP VIEW v_realtime_revenue_current_tenant;
-- squawk-ignore ban-drop-view
DROP MATERIALIZED VIEW mv_realtime_revenue;

CREATE MATERIALIZED VIEW mv_realtime_revenue AS
SELECT
    tenant_id,
    round(sum(revenue_cents)::numeric / 100, 2) AS total_revenue,
    bool_and(is_verified) AS verified,
    -- Compared, never subtracted, at the edges: no value of max(updated_at), finite or not,
    -- can make this fail (22003 integer out of range, 22008 infinite timestamps).
    CASE
        WHEN max(updated_at) >= now() THEN 0
        WHEN max(updated_at) <= now() - make_interval(secs => 2147483647) THEN 2147483647
        ELSE floor(extract(EPOCH FROM now() - max(updated_at)))::integer
    END AS data_freshness_seconds
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
'Whole seconds from the newest ledger updated_at to the refresh, clamped to [0, 2147483647] '
'(a future or infinite updated_at gives 0, a very old or -infinite one 2147483647). '
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

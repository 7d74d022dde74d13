-- Build mv_realtime_revenue from rollup_ledger_daily and its unfolded deltas (issue 11), so
-- a refresh costs O(tenants x days) plus one index probe per tenant, not a scan of the whole
-- ledger. Exact: total_revenue and verified come from the rollup's sums and counts (verified
-- iff no unverified row); max(updated_at), which no rollup can keep under deletes, is read per
-- tenant from idx_revenue_ledger_tenant_updated_at. Columns, types, clamped freshness, the
-- unique index, grants and comments are as in 202611281502; the current-tenant view over
-- it is recreated as it was. Created WITH DATA (the owner must bypass RLS).
-- depends: 202612071604_fold_rollup_deltas 202611281503_single_flight_on_a_row_lock

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Both are recreated below, same names, columns and grants, in this transaction.
-- squawk-ignore ban-drop-view
DROP VIEW v_realtime_revenue_current_tenant;
-- squawk-ignore ban-drop-view
DROP MATERIALIZED VIEW mv_realtime_revenue;

CREATE MATERIALIZED VIEW mv_realtime_revenue AS
SELECT
    t.tenant_id,
    round(t.revenue_cents / 100, 2) AS total_revenue,
    t.unverified_rows = 0 AS verified,
    -- Compared, never subtracted, at the edges: no value of max(updated_at), finite or not,
    -- can make this fail (22003 integer out of range, 22008 infinite timestamps).
    CASE
        WHEN n.newest >= now() THEN 0
        WHEN n.newest <= now() - make_interval(secs => 2147483647) THEN 2147483647
        ELSE floor(extract(EPOCH FROM now() - n.newest))::integer
    END AS data_freshness_seconds
FROM (
    SELECT
        u.tenant_id,
        sum(u.verified_revenue_cents + u.unverified_revenue_cents) AS revenue_cents,
        sum(u.ledger_rows - u.verified_rows) AS unverified_rows
    FROM (
        SELECT
            r.tenant_id,
            r.ledger_rows,
            r.verified_rows,
            r.verified_revenue_cents,
            r.unverified_revenue_cents
        FROM rollup_ledger_daily AS r
        UNION ALL
        SELECT
            d.tenant_id,
            d.ledger_rows,
            d.verified_rows,
            d.verified_revenue_cents,
            d.unverified_revenue_cents
        FROM rollup_ledger_daily_delta AS d
    ) AS u
    GROUP BY u.tenant_id
    HAVING sum(u.ledger_rows) > 0
) AS t
CROSS JOIN
    LATERAL (
        SELECT max(l.updated_at) AS newest
        FROM revenue_ledger AS l
        WHERE l.tenant_id = t.tenant_id
    ) AS n
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
Refresh Policy: CONCURRENTLY with TTL-based refresh (30-60s), see refresh_read_models(); '
'built from rollup_ledger_daily and its deltas (O(tenants x days) per refresh)';
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

-- Create mv_realtime_revenue: one row per tenant that has ledger rows, answering
-- GET /api/attribution/revenue/realtime (B0.3 data dictionary, DESIGN decision 2).
--   total_revenue           sum(revenue_cents) / 100 as exact numeric dollars (never float;
--                           the sum is bigint, so it cannot overflow past 2^31 cents)
--   verified                true only when every ledger row of the tenant is verified
--   data_freshness_seconds  whole seconds from the newest updated_at to the refresh, >= 0
-- Materialized views carry no row-level security: the API reads it through
-- v_realtime_revenue_current_tenant (docs/decisions/0001-materialized-views-and-rls.md).
-- It is created WITH DATA by the migrating role, which must bypass RLS (DESIGN decision 8).
-- depends: 202511121307_create_revenue_ledger 202511131121_add_grants

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

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

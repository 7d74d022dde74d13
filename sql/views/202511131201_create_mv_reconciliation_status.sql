-- Create mv_reconciliation_status: the latest reconciliation run of each tenant, answering
-- GET /api/reconciliation/status (B0.3 data dictionary, DESIGN decision 3).
-- "Latest" is the greatest last_run_at; ties are broken by created_at, then id (both
-- descending), so exactly one row per tenant exists and the unique index on tenant_id can
-- never make a refresh fail.
-- depends: 202511121306_create_reconciliation_runs 202511131121_add_grants

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE MATERIALIZED VIEW mv_reconciliation_status AS
SELECT DISTINCT ON (tenant_id)
    tenant_id,
    state,
    last_run_at,
    id AS reconciliation_run_id
FROM reconciliation_runs
ORDER BY tenant_id ASC, last_run_at DESC, created_at DESC, id DESC
WITH DATA;

-- The view was created just above, in this transaction: nobody else can see it yet.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX idx_mv_reconciliation_status_tenant_id
ON mv_reconciliation_status (tenant_id);

REVOKE ALL ON mv_reconciliation_status FROM PUBLIC; -- noqa: CP02
GRANT SELECT ON mv_reconciliation_status TO app_rw, app_ro;

COMMENT ON MATERIALIZED VIEW mv_reconciliation_status IS
'Aggregate reconciliation pipeline status for GET /api/reconciliation/status endpoint.
Data Class: Non-PII
Ownership: Reconciliation service
Contract Mapping: api-contracts/openapi/v1/reconciliation.yaml:39-64 (ReconciliationStatusResponse)
Refresh Policy: CONCURRENTLY with TTL-based refresh (30-60s), see refresh_read_models()';
COMMENT ON COLUMN mv_reconciliation_status.tenant_id IS 'Tenant identifier. Tenant isolation.';
COMMENT ON COLUMN mv_reconciliation_status.state IS
'Current state of the reconciliation pipeline (of the latest run). '
'Contract mapping: state enum (idle|running|failed|completed).';
COMMENT ON COLUMN mv_reconciliation_status.last_run_at IS
'Timestamp of the last reconciliation run. '
'Contract mapping: last_run_at (string date-time).';
COMMENT ON COLUMN mv_reconciliation_status.reconciliation_run_id IS
'Reference to reconciliation_runs.id of the latest run (internal use).';
COMMENT ON INDEX idx_mv_reconciliation_status_tenant_id IS
'Unique index on tenant_id for fast tenant-scoped queries (p95 < 50ms target); '
'required by REFRESH MATERIALIZED VIEW CONCURRENTLY.';

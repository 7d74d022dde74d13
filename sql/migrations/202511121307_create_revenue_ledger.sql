-- Create revenue_ledger: revenue verified by the reconciliation pipeline, the source of
-- mv_realtime_revenue (B0.3 data dictionary, "revenue_ledger"). reconciliation_run_id is
-- documented as a link to reconciliation_runs without a foreign key; the dictionary lists
-- none, so none is added here.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE revenue_ledger (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    revenue_cents integer NOT NULL DEFAULT 0,
    is_verified boolean NOT NULL DEFAULT FALSE,
    verified_at timestamptz,
    reconciliation_run_id uuid,
    CONSTRAINT revenue_ledger_pkey PRIMARY KEY (id),
    CONSTRAINT revenue_ledger_tenant_id_fkey FOREIGN KEY (tenant_id)
    REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_revenue_ledger_revenue_positive CHECK (revenue_cents >= 0)
);

CREATE INDEX idx_revenue_ledger_tenant_updated_at
ON revenue_ledger (tenant_id, updated_at DESC);

CREATE INDEX idx_revenue_ledger_is_verified
ON revenue_ledger (is_verified)
WHERE is_verified = TRUE;

COMMENT ON TABLE revenue_ledger IS
'Store verified revenue aggregates for reconciliation.
Data Class: Non-PII
Ownership: Reconciliation service
Contract Mapping: Supports RealtimeRevenueResponse (total_revenue, verified, data_freshness_seconds)';
COMMENT ON COLUMN revenue_ledger.id IS 'Primary key UUID. Unique ledger entry identifier.';
COMMENT ON COLUMN revenue_ledger.tenant_id IS 'Foreign key to tenants table. Tenant isolation.';
COMMENT ON COLUMN revenue_ledger.created_at IS 'Record creation timestamp. Audit trail.';
COMMENT ON COLUMN revenue_ledger.updated_at IS 'Record update timestamp. Audit trail.';
COMMENT ON COLUMN revenue_ledger.revenue_cents IS
'Revenue amount in cents (INTEGER). Store verified revenue aggregate. '
'Contract mapping: total_revenue (number float) → revenue_cents (integer).';
COMMENT ON COLUMN revenue_ledger.is_verified IS
'Whether revenue has been verified through reconciliation pipeline. Reconciliation status. '
'Contract mapping: verified (boolean) → is_verified (boolean).';
COMMENT ON COLUMN revenue_ledger.verified_at IS
'Timestamp when revenue was verified. Verification time tracking.';
COMMENT ON COLUMN revenue_ledger.reconciliation_run_id IS
'Reference to reconciliation run that verified this revenue. '
'Link to reconciliation_runs table.';
COMMENT ON CONSTRAINT revenue_ledger_pkey ON revenue_ledger IS 'Primary key on id.';
COMMENT ON CONSTRAINT revenue_ledger_tenant_id_fkey ON revenue_ledger IS
'tenant_id references tenants(id); deleting a tenant deletes its ledger rows.';
COMMENT ON CONSTRAINT ck_revenue_ledger_revenue_positive ON revenue_ledger IS
'Ensures revenue_cents >= 0.';
COMMENT ON INDEX idx_revenue_ledger_tenant_updated_at IS
'Composite index on (tenant_id, updated_at DESC) for time-series queries.';
COMMENT ON INDEX idx_revenue_ledger_is_verified IS
'Partial index on is_verified where is_verified = true for verified revenue queries.';

-- Create reconciliation_runs: status and metadata of reconciliation pipeline runs
-- (B0.3 data dictionary, "reconciliation_runs"). state is VARCHAR(20) constrained to the
-- API's enum idle|running|failed|completed by ck_reconciliation_runs_state_valid.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE reconciliation_runs (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_run_at timestamptz NOT NULL,
    state varchar(20) NOT NULL DEFAULT 'idle',
    error_message text,
    run_metadata jsonb,
    CONSTRAINT reconciliation_runs_pkey PRIMARY KEY (id),
    CONSTRAINT reconciliation_runs_tenant_id_fkey FOREIGN KEY (tenant_id)
    REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_reconciliation_runs_state_valid
    CHECK (state IN ('idle', 'running', 'failed', 'completed'))
);

CREATE INDEX idx_reconciliation_runs_tenant_last_run_at
ON reconciliation_runs (tenant_id, last_run_at DESC);

CREATE INDEX idx_reconciliation_runs_state ON reconciliation_runs (state);

COMMENT ON TABLE reconciliation_runs IS
'Store reconciliation pipeline run status and metadata.
Data Class: Non-PII
Ownership: Reconciliation service
Contract Mapping: Supports ReconciliationStatusResponse (state, last_run_at, tenant_id)';
COMMENT ON COLUMN reconciliation_runs.id IS
'Primary key UUID. Unique reconciliation run identifier.';
COMMENT ON COLUMN reconciliation_runs.tenant_id IS
'Foreign key to tenants table. Tenant isolation.';
COMMENT ON COLUMN reconciliation_runs.created_at IS
'Record creation timestamp. Audit trail.';
COMMENT ON COLUMN reconciliation_runs.updated_at IS 'Record update timestamp. Audit trail.';
COMMENT ON COLUMN reconciliation_runs.last_run_at IS
'Timestamp of the last reconciliation run. Track last execution time. '
'Contract mapping: last_run_at (string date-time) → last_run_at (timestamptz).';
COMMENT ON COLUMN reconciliation_runs.state IS
'Current state of the reconciliation pipeline. Track pipeline status. '
'Contract mapping: state enum (idle|running|failed|completed) → state VARCHAR(20) CHECK.';
COMMENT ON COLUMN reconciliation_runs.error_message IS
'Error message if state is failed. Store failure details.';
COMMENT ON COLUMN reconciliation_runs.run_metadata IS
'Structured run information (JSONB). Store run-specific metadata.';
COMMENT ON CONSTRAINT reconciliation_runs_pkey ON reconciliation_runs IS 'Primary key on id.';
COMMENT ON CONSTRAINT reconciliation_runs_tenant_id_fkey ON reconciliation_runs IS
'tenant_id references tenants(id); deleting a tenant deletes its runs.';
COMMENT ON CONSTRAINT ck_reconciliation_runs_state_valid ON reconciliation_runs IS
'Ensures state is one of: idle, running, failed, completed.';
COMMENT ON INDEX idx_reconciliation_runs_tenant_last_run_at IS
'Composite index on (tenant_id, last_run_at DESC) for status queries.';
COMMENT ON INDEX idx_reconciliation_runs_state IS
'Index on state for filtering by pipeline state.';

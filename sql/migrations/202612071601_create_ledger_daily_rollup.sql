-- Per tenant, per UTC day (of created_at) revenue_ledger totals, verified and unverified
-- (issue 11), with the append-only delta table its statement triggers fill (202612071602).
-- Readers add the unfolded deltas (v_rollup_ledger_daily); fold_rollups() moves them in.
-- Tenant-scoped like the five tables: forced RLS, the documented policy, app_ro SELECT on
-- the rollup only, nothing granted on the delta. Counts are kept beside the cents so that
-- "every row verified" and "the tenant has ledger rows" stay exact under deletes.
-- depends: 202612071600_create_channel_daily_rollup

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE rollup_ledger_daily (
    tenant_id uuid NOT NULL,
    utc_day date NOT NULL,
    ledger_rows bigint NOT NULL,
    verified_rows bigint NOT NULL,
    verified_revenue_cents bigint NOT NULL,
    unverified_revenue_cents bigint NOT NULL,
    CONSTRAINT rollup_ledger_daily_pkey PRIMARY KEY (tenant_id, utc_day),
    CONSTRAINT rollup_ledger_daily_tenant_id_fkey FOREIGN KEY (tenant_id)
    REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE TABLE rollup_ledger_daily_delta (
    tenant_id uuid NOT NULL,
    utc_day date NOT NULL,
    ledger_rows bigint NOT NULL,
    verified_rows bigint NOT NULL,
    verified_revenue_cents bigint NOT NULL,
    unverified_revenue_cents bigint NOT NULL
);

CREATE INDEX idx_rollup_ledger_daily_delta_tenant_day
ON rollup_ledger_daily_delta (tenant_id, utc_day);

ALTER TABLE rollup_ledger_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_ledger_daily FORCE ROW LEVEL SECURITY;
ALTER TABLE rollup_ledger_daily_delta ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_ledger_daily_delta FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation_policy ON rollup_ledger_daily
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);
CREATE POLICY tenant_isolation_policy ON rollup_ledger_daily_delta
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);

-- Deliberately NOT granted: any write on either table to any application role (only the
-- owner's trigger function and fold_rollups() write them), anything on the delta table.
REVOKE ALL ON rollup_ledger_daily, rollup_ledger_daily_delta FROM PUBLIC; -- noqa: CP02
GRANT SELECT ON rollup_ledger_daily TO app_ro;

COMMENT ON TABLE rollup_ledger_daily IS
'Folded revenue_ledger totals per tenant and UTC day of created_at, verified and unverified. '
'Exact only together with the unfolded rows of rollup_ledger_daily_delta: read '
'v_rollup_ledger_daily.
Data Class: Non-PII
Ownership: Reconciliation service
Contract Mapping: Supports revenue dashboards and mv_realtime_revenue (issue 11)';
COMMENT ON COLUMN rollup_ledger_daily.tenant_id IS
'Foreign key to tenants table. Tenant isolation.';
COMMENT ON COLUMN rollup_ledger_daily.utc_day IS
'UTC calendar day of revenue_ledger.created_at.';
COMMENT ON COLUMN rollup_ledger_daily.ledger_rows IS
'Number of ledger rows of the tenant and day (folded part).';
COMMENT ON COLUMN rollup_ledger_daily.verified_rows IS
'Number of those rows with is_verified = true (folded part).';
COMMENT ON COLUMN rollup_ledger_daily.verified_revenue_cents IS
'Sum of revenue_cents of the verified rows, in cents (folded part).';
COMMENT ON COLUMN rollup_ledger_daily.unverified_revenue_cents IS
'Sum of revenue_cents of the unverified rows, in cents (folded part).';
COMMENT ON CONSTRAINT rollup_ledger_daily_pkey ON rollup_ledger_daily IS
'Primary key on (tenant_id, utc_day): one row per group.';
COMMENT ON INDEX rollup_ledger_daily_pkey IS
'Unique index backing rollup_ledger_daily_pkey; serves a tenant''s day-range reads.';
COMMENT ON CONSTRAINT rollup_ledger_daily_tenant_id_fkey ON rollup_ledger_daily IS
'tenant_id references tenants(id); deleting a tenant deletes its rollup rows.';
COMMENT ON POLICY tenant_isolation_policy ON rollup_ledger_daily IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';
COMMENT ON TABLE rollup_ledger_daily_delta IS
'Append-only changes to rollup_ledger_daily not yet folded: one row per tenant and day a '
'statement on revenue_ledger changed (signed). No foreign key: a deleted tenant''s last '
'deltas are discarded by fold_rollups(). No application role may read it.
Data Class: Non-PII
Ownership: Reconciliation service';
COMMENT ON COLUMN rollup_ledger_daily_delta.tenant_id IS
'Tenant of the changed ledger rows. Tenant isolation.';
COMMENT ON COLUMN rollup_ledger_daily_delta.utc_day IS
'UTC calendar day of revenue_ledger.created_at.';
COMMENT ON COLUMN rollup_ledger_daily_delta.ledger_rows IS 'Signed change of the row count.';
COMMENT ON COLUMN rollup_ledger_daily_delta.verified_rows IS
'Signed change of the verified row count.';
COMMENT ON COLUMN rollup_ledger_daily_delta.verified_revenue_cents IS
'Signed change of the verified cents.';
COMMENT ON COLUMN rollup_ledger_daily_delta.unverified_revenue_cents IS
'Signed change of the unverified cents.';
COMMENT ON INDEX idx_rollup_ledger_daily_delta_tenant_day IS
'Index on (tenant_id, utc_day): readers add one tenant''s unfolded deltas.';
COMMENT ON POLICY tenant_isolation_policy ON rollup_ledger_daily_delta IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';

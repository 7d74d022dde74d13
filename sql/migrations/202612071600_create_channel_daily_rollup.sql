-- Per tenant, per UTC day (of created_at), per channel allocation totals (issue 11), and the
-- append-only delta table its statement triggers fill (202612071602). Readers add the unfolded
-- deltas to the rollup (v_rollup_channel_daily), fold_rollups() moves them in. Both tables
-- are tenant-scoped like the five: forced RLS, the documented policy, app_ro SELECT on the
-- rollup only; nothing is granted on the delta (only the owner's trigger and fold touch it).
-- Design and alternatives measured: docs/decisions/0005-incremental-rollups.md.
-- depends: 202611281550_count_pii_keys_once

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE rollup_channel_daily (
    tenant_id uuid NOT NULL,
    utc_day date NOT NULL,
    channel text NOT NULL,
    allocations bigint NOT NULL,
    allocated_revenue_cents bigint NOT NULL,
    CONSTRAINT rollup_channel_daily_pkey PRIMARY KEY (tenant_id, utc_day, channel),
    CONSTRAINT rollup_channel_daily_tenant_id_fkey FOREIGN KEY (tenant_id)
    REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE TABLE rollup_channel_daily_delta (
    tenant_id uuid NOT NULL,
    utc_day date NOT NULL,
    channel text NOT NULL,
    allocations bigint NOT NULL,
    allocated_revenue_cents bigint NOT NULL
);

CREATE INDEX idx_rollup_channel_daily_delta_tenant_day
ON rollup_channel_daily_delta (tenant_id, utc_day);

ALTER TABLE rollup_channel_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_channel_daily FORCE ROW LEVEL SECURITY;
ALTER TABLE rollup_channel_daily_delta ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_channel_daily_delta FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation_policy ON rollup_channel_daily
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);
CREATE POLICY tenant_isolation_policy ON rollup_channel_daily_delta
USING (tenant_id = current_setting('app.current_tenant_id')::uuid)
WITH CHECK (tenant_id = current_setting('app.current_tenant_id')::uuid);

-- Deliberately NOT granted: any write on either table to any application role (only the
-- owner's trigger function and fold_rollups() write them), anything on the delta table.
REVOKE ALL ON rollup_channel_daily, rollup_channel_daily_delta FROM PUBLIC; -- noqa: CP02
GRANT SELECT ON rollup_channel_daily TO app_ro;

COMMENT ON TABLE rollup_channel_daily IS
'Folded allocation totals per tenant, UTC day of created_at and channel. Exact only together '
'with the unfolded rows of rollup_channel_daily_delta: read v_rollup_channel_daily.
Data Class: Non-PII
Ownership: Attribution service
Contract Mapping: Supports channel performance dashboards (issue 11)';
COMMENT ON COLUMN rollup_channel_daily.tenant_id IS
'Foreign key to tenants table. Tenant isolation.';
COMMENT ON COLUMN rollup_channel_daily.utc_day IS
'UTC calendar day of attribution_allocations.created_at.';
COMMENT ON COLUMN rollup_channel_daily.channel IS 'attribution_allocations.channel.';
COMMENT ON COLUMN rollup_channel_daily.allocations IS
'Number of allocations of the tenant, day and channel (folded part).';
COMMENT ON COLUMN rollup_channel_daily.allocated_revenue_cents IS
'Sum of allocated_revenue_cents of those allocations, in cents (folded part).';
COMMENT ON CONSTRAINT rollup_channel_daily_pkey ON rollup_channel_daily IS
'Primary key on (tenant_id, utc_day, channel): one row per group.';
COMMENT ON INDEX rollup_channel_daily_pkey IS
'Unique index backing rollup_channel_daily_pkey; serves a tenant''s day-range reads.';
COMMENT ON CONSTRAINT rollup_channel_daily_tenant_id_fkey ON rollup_channel_daily IS
'tenant_id references tenants(id); deleting a tenant deletes its rollup rows.';
COMMENT ON POLICY tenant_isolation_policy ON rollup_channel_daily IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';
COMMENT ON TABLE rollup_channel_daily_delta IS
'Append-only changes to rollup_channel_daily not yet folded: one row per tenant, day and '
'channel a statement on attribution_allocations changed (signed). No foreign key: a deleted '
'tenant''s last deltas are discarded by fold_rollups(). No application role may read it.
Data Class: Non-PII
Ownership: Attribution service';
COMMENT ON COLUMN rollup_channel_daily_delta.tenant_id IS
'Tenant of the changed allocations. Tenant isolation.';
COMMENT ON COLUMN rollup_channel_daily_delta.utc_day IS
'UTC calendar day of attribution_allocations.created_at.';
COMMENT ON COLUMN rollup_channel_daily_delta.channel IS 'attribution_allocations.channel.';
COMMENT ON COLUMN rollup_channel_daily_delta.allocations IS
'Signed change of the allocation count (rows inserted minus rows deleted).';
COMMENT ON COLUMN rollup_channel_daily_delta.allocated_revenue_cents IS
'Signed change of the allocated cents.';
COMMENT ON INDEX idx_rollup_channel_daily_delta_tenant_day IS
'Index on (tenant_id, utc_day): readers add one tenant''s unfolded deltas.';
COMMENT ON POLICY tenant_isolation_policy ON rollup_channel_daily_delta IS
'Tenant isolation: rows of the tenant in app.current_tenant_id only, for reads and writes.';

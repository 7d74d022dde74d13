-- The dashboard read path of the rollups (issue 11): per current tenant, folded rollup plus
-- the deltas not folded yet, summed per group, so a read is exact as of its snapshot
-- (freshness 0 s: a committed write is in the next read). Like the current-tenant views
-- (202511131202) they run with the owner's rights, filter on app.current_tenant_id, fail
-- closed without it, and are security_barrier; app_rw and app_ro get SELECT. Groups whose
-- count is not positive (every row deleted, or a deleted tenant's last deltas) are left out.
-- depends: 202612071605_build_realtime_revenue_from_rollups

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE VIEW v_rollup_channel_daily WITH (security_barrier = TRUE) AS
SELECT
    u.tenant_id,
    u.utc_day,
    u.channel,
    sum(u.allocations)::bigint AS allocations,
    sum(u.allocated_revenue_cents)::bigint AS allocated_revenue_cents
FROM (
    SELECT
        r.tenant_id,
        r.utc_day,
        r.channel,
        r.allocations,
        r.allocated_revenue_cents
    FROM rollup_channel_daily AS r
    UNION ALL
    SELECT
        d.tenant_id,
        d.utc_day,
        d.channel,
        d.allocations,
        d.allocated_revenue_cents
    FROM rollup_channel_daily_delta AS d
) AS u
WHERE u.tenant_id = current_setting('app.current_tenant_id')::uuid
GROUP BY u.tenant_id, u.utc_day, u.channel
HAVING sum(u.allocations) > 0;

CREATE VIEW v_rollup_ledger_daily WITH (security_barrier = TRUE) AS
SELECT
    u.tenant_id,
    u.utc_day,
    sum(u.ledger_rows)::bigint AS ledger_rows,
    sum(u.verified_rows)::bigint AS verified_rows,
    sum(u.verified_revenue_cents + u.unverified_revenue_cents)::bigint AS revenue_cents,
    sum(u.verified_revenue_cents)::bigint AS verified_revenue_cents,
    sum(u.unverified_revenue_cents)::bigint AS unverified_revenue_cents
FROM (
    SELECT
        r.tenant_id,
        r.utc_day,
        r.ledger_rows,
        r.verified_rows,
        r.verified_revenue_cents,
        r.unverified_revenue_cents
    FROM rollup_ledger_daily AS r
    UNION ALL
    SELECT
        d.tenant_id,
        d.utc_day,
        d.ledger_rows,
        d.verified_rows,
        d.verified_revenue_cents,
        d.unverified_revenue_cents
    FROM rollup_ledger_daily_delta AS d
) AS u
WHERE u.tenant_id = current_setting('app.current_tenant_id')::uuid
GROUP BY u.tenant_id, u.utc_day
HAVING sum(u.ledger_rows) > 0;

REVOKE ALL ON v_rollup_channel_daily, v_rollup_ledger_daily FROM PUBLIC; -- noqa: CP02
GRANT SELECT ON v_rollup_channel_daily, v_rollup_ledger_daily TO app_rw, app_ro;

COMMENT ON VIEW v_rollup_channel_daily IS
'Allocation totals of the current tenant (app.current_tenant_id) per UTC day of created_at '
'and channel: rollup_channel_daily plus its unfolded deltas, exact at commit. The dashboard '
'read path. Fails closed without a tenant.';
COMMENT ON COLUMN v_rollup_channel_daily.tenant_id IS 'Tenant identifier.';
COMMENT ON COLUMN v_rollup_channel_daily.utc_day IS
'UTC calendar day of attribution_allocations.created_at.';
COMMENT ON COLUMN v_rollup_channel_daily.channel IS 'attribution_allocations.channel.';
COMMENT ON COLUMN v_rollup_channel_daily.allocations IS 'Number of allocations.';
COMMENT ON COLUMN v_rollup_channel_daily.allocated_revenue_cents IS
'Sum of allocated_revenue_cents, in cents.';
COMMENT ON VIEW v_rollup_ledger_daily IS
'Ledger totals of the current tenant (app.current_tenant_id) per UTC day of created_at: '
'rollup_ledger_daily plus its unfolded deltas, exact at commit. The dashboard read path. '
'Fails closed without a tenant.';
COMMENT ON COLUMN v_rollup_ledger_daily.tenant_id IS 'Tenant identifier.';
COMMENT ON COLUMN v_rollup_ledger_daily.utc_day IS
'UTC calendar day of revenue_ledger.created_at.';
COMMENT ON COLUMN v_rollup_ledger_daily.ledger_rows IS 'Number of ledger rows.';
COMMENT ON COLUMN v_rollup_ledger_daily.verified_rows IS 'Number of verified ledger rows.';
COMMENT ON COLUMN v_rollup_ledger_daily.revenue_cents IS 'Sum of revenue_cents, in cents.';
COMMENT ON COLUMN v_rollup_ledger_daily.verified_revenue_cents IS
'Sum of revenue_cents of verified rows, in cents.';
COMMENT ON COLUMN v_rollup_ledger_daily.unverified_revenue_cents IS
'Sum of revenue_cents of unverified rows, in cents.';

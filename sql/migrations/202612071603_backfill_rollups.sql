-- Backfill the rollups from the rows written before 202612071602's triggers, without holding
-- writers: one statement per rollup appends, as deltas, raw aggregate minus (rollup + deltas),
-- read in one snapshot. A write committed in that snapshot is in both terms (its trigger's
-- delta commits with it), a later one in neither, so nothing is counted twice or missed.
-- Only ROW EXCLUSIVE on the delta tables; re-running appends nothing (idempotent, exact).
-- The rollups' owner must bypass RLS to see every tenant (docs/rollups.md).
-- depends: 202612071602_maintain_rollups_with_statement_triggers

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- The scans take seconds at a million rows and hold no lock a writer waits for.
SET LOCAL statement_timeout = '30min';

INSERT INTO rollup_channel_daily_delta (
    tenant_id, utc_day, channel, allocations, allocated_revenue_cents
)
SELECT
    c.tenant_id,
    c.utc_day,
    c.channel,
    sum(c.allocations) AS allocations,
    sum(c.cents) AS allocated_revenue_cents
FROM (
    SELECT
        a.tenant_id,
        (a.created_at AT TIME ZONE 'UTC')::date AS utc_day,
        a.channel,
        count(*) AS allocations,
        sum(a.allocated_revenue_cents) AS cents
    FROM attribution_allocations AS a
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT
        r.tenant_id,
        r.utc_day,
        r.channel,
        -r.allocations AS allocations,
        -r.allocated_revenue_cents AS cents
    FROM rollup_channel_daily AS r
    UNION ALL
    SELECT
        d.tenant_id,
        d.utc_day,
        d.channel,
        -d.allocations AS allocations,
        -d.allocated_revenue_cents AS cents
    FROM rollup_channel_daily_delta AS d
) AS c
GROUP BY 1, 2, 3
HAVING sum(c.allocations) <> 0 OR sum(c.cents) <> 0;

INSERT INTO rollup_ledger_daily_delta (
    tenant_id, utc_day, ledger_rows, verified_rows,
    verified_revenue_cents, unverified_revenue_cents
)
SELECT
    c.tenant_id,
    c.utc_day,
    sum(c.ledger_rows) AS ledger_rows,
    sum(c.verified_rows) AS verified_rows,
    sum(c.verified_cents) AS verified_revenue_cents,
    sum(c.unverified_cents) AS unverified_revenue_cents
FROM (
    SELECT
        l.tenant_id,
        (l.created_at AT TIME ZONE 'UTC')::date AS utc_day,
        count(*) AS ledger_rows,
        count(*) FILTER (WHERE l.is_verified) AS verified_rows,
        coalesce(sum(l.revenue_cents) FILTER (WHERE l.is_verified), 0) AS verified_cents,
        coalesce(sum(l.revenue_cents) FILTER (WHERE NOT l.is_verified), 0)
            AS unverified_cents
    FROM revenue_ledger AS l
    GROUP BY 1, 2
    UNION ALL
    SELECT
        r.tenant_id,
        r.utc_day,
        -r.ledger_rows AS ledger_rows,
        -r.verified_rows AS verified_rows,
        -r.verified_revenue_cents AS verified_cents,
        -r.unverified_revenue_cents AS unverified_cents
    FROM rollup_ledger_daily AS r
    UNION ALL
    SELECT
        d.tenant_id,
        d.utc_day,
        -d.ledger_rows AS ledger_rows,
        -d.verified_rows AS verified_rows,
        -d.verified_revenue_cents AS verified_cents,
        -d.unverified_revenue_cents AS unverified_cents
    FROM rollup_ledger_daily_delta AS d
) AS c
GROUP BY 1, 2
HAVING
    sum(c.ledger_rows) <> 0
    OR sum(c.verified_rows) <> 0
    OR sum(c.verified_cents) <> 0
    OR sum(c.unverified_cents) <> 0;

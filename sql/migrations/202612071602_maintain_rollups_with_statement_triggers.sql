-- Keep the two rollups exact: AFTER INSERT/UPDATE/DELETE statement triggers with transition
-- tables append one signed, pre-aggregated row per touched group to the delta tables, in ONE
-- INSERT per statement (appends never wait on each other: no hot rollup row); TRUNCATE empties
-- rollup and delta. SECURITY DEFINER with a fixed search_path (no application role can write
-- the deltas); EXECUTE revoked from PUBLIC. Rows already there are backfilled by 202612071603
-- in a later transaction, so writers wait only for CREATE TRIGGER's lock, not for a scan.
-- Design and measurements: docs/decisions/0005-incremental-rollups.md.
-- depends: 202612071601_create_ledger_daily_rollup

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION rollup_allocations_delta() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM rollup_channel_daily_delta;
        DELETE FROM rollup_channel_daily;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_channel_daily_delta (
            tenant_id, utc_day, channel, allocations, allocated_revenue_cents
        )
        SELECT
            n.tenant_id, (n.created_at AT TIME ZONE 'UTC')::date, n.channel,
            count(*), sum(n.allocated_revenue_cents)
        FROM new_rows AS n
        GROUP BY 1, 2, 3;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_channel_daily_delta (
            tenant_id, utc_day, channel, allocations, allocated_revenue_cents
        )
        SELECT
            o.tenant_id, (o.created_at AT TIME ZONE 'UTC')::date, o.channel,
            -count(*), -sum(o.allocated_revenue_cents)
        FROM old_rows AS o
        GROUP BY 1, 2, 3;
    ELSE
        INSERT INTO rollup_channel_daily_delta (
            tenant_id, utc_day, channel, allocations, allocated_revenue_cents
        )
        SELECT c.tenant_id, c.utc_day, c.channel, sum(c.n), sum(c.cents)
        FROM (
            SELECT
                n.tenant_id, (n.created_at AT TIME ZONE 'UTC')::date AS utc_day, n.channel,
                1 AS n, n.allocated_revenue_cents::bigint AS cents
            FROM new_rows AS n
            UNION ALL
            SELECT
                o.tenant_id, (o.created_at AT TIME ZONE 'UTC')::date, o.channel,
                -1, -o.allocated_revenue_cents::bigint
            FROM old_rows AS o
        ) AS c
        GROUP BY 1, 2, 3
        HAVING sum(c.n) <> 0 OR sum(c.cents) <> 0;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION rollup_ledger_delta() RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM rollup_ledger_daily_delta;
        DELETE FROM rollup_ledger_daily;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_ledger_daily_delta (
            tenant_id, utc_day, ledger_rows, verified_rows,
            verified_revenue_cents, unverified_revenue_cents
        )
        SELECT
            n.tenant_id, (n.created_at AT TIME ZONE 'UTC')::date, count(*),
            count(*) FILTER (WHERE n.is_verified),
            coalesce(sum(n.revenue_cents) FILTER (WHERE n.is_verified), 0),
            coalesce(sum(n.revenue_cents) FILTER (WHERE NOT n.is_verified), 0)
        FROM new_rows AS n
        GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO rollup_ledger_daily_delta (
            tenant_id, utc_day, ledger_rows, verified_rows,
            verified_revenue_cents, unverified_revenue_cents
        )
        SELECT
            o.tenant_id, (o.created_at AT TIME ZONE 'UTC')::date, -count(*),
            -count(*) FILTER (WHERE o.is_verified),
            -coalesce(sum(o.revenue_cents) FILTER (WHERE o.is_verified), 0),
            -coalesce(sum(o.revenue_cents) FILTER (WHERE NOT o.is_verified), 0)
        FROM old_rows AS o
        GROUP BY 1, 2;
    ELSE
        INSERT INTO rollup_ledger_daily_delta (
            tenant_id, utc_day, ledger_rows, verified_rows,
            verified_revenue_cents, unverified_revenue_cents
        )
        SELECT c.tenant_id, c.utc_day, sum(c.n), sum(c.v), sum(c.vc), sum(c.uc)
        FROM (
            SELECT
                n.tenant_id, (n.created_at AT TIME ZONE 'UTC')::date AS utc_day, 1 AS n,
                CASE WHEN n.is_verified THEN 1 ELSE 0 END AS v,
                CASE WHEN n.is_verified THEN n.revenue_cents ELSE 0 END::bigint AS vc,
                CASE WHEN n.is_verified THEN 0 ELSE n.revenue_cents END::bigint AS uc
            FROM new_rows AS n
            UNION ALL
            SELECT
                o.tenant_id, (o.created_at AT TIME ZONE 'UTC')::date, -1,
                CASE WHEN o.is_verified THEN -1 ELSE 0 END,
                -CASE WHEN o.is_verified THEN o.revenue_cents ELSE 0 END::bigint,
                -CASE WHEN o.is_verified THEN 0 ELSE o.revenue_cents END::bigint
            FROM old_rows AS o
        ) AS c
        GROUP BY 1, 2
        HAVING sum(c.n) <> 0 OR sum(c.v) <> 0 OR sum(c.vc) <> 0 OR sum(c.uc) <> 0;
    END IF;
    RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION rollup_allocations_delta(), rollup_ledger_delta() FROM PUBLIC; -- noqa: CP02

CREATE TRIGGER trg_attribution_allocations_rollup_insert
AFTER INSERT ON attribution_allocations
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION rollup_allocations_delta();
CREATE TRIGGER trg_attribution_allocations_rollup_update
AFTER UPDATE ON attribution_allocations
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION rollup_allocations_delta();
CREATE TRIGGER trg_attribution_allocations_rollup_delete
AFTER DELETE ON attribution_allocations
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION rollup_allocations_delta();
CREATE TRIGGER trg_attribution_allocations_rollup_truncate
AFTER TRUNCATE ON attribution_allocations
FOR EACH STATEMENT EXECUTE FUNCTION rollup_allocations_delta();

CREATE TRIGGER trg_revenue_ledger_rollup_insert
AFTER INSERT ON revenue_ledger
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION rollup_ledger_delta();
CREATE TRIGGER trg_revenue_ledger_rollup_update
AFTER UPDATE ON revenue_ledger
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION rollup_ledger_delta();
CREATE TRIGGER trg_revenue_ledger_rollup_delete
AFTER DELETE ON revenue_ledger
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION rollup_ledger_delta();
CREATE TRIGGER trg_revenue_ledger_rollup_truncate
AFTER TRUNCATE ON revenue_ledger
FOR EACH STATEMENT EXECUTE FUNCTION rollup_ledger_delta();

COMMENT ON FUNCTION rollup_allocations_delta() IS
'Trigger function (AFTER INSERT/UPDATE/DELETE, for each statement, transition tables): '
'appends the statement''s signed change per tenant, day and channel to '
'rollup_channel_daily_delta in one INSERT; TRUNCATE empties rollup and delta.';
COMMENT ON FUNCTION rollup_ledger_delta() IS
'Trigger function (AFTER INSERT/UPDATE/DELETE, for each statement, transition tables): '
'appends the statement''s signed change per tenant and day to rollup_ledger_daily_delta in '
'one INSERT; TRUNCATE empties rollup and delta.';
COMMENT ON TRIGGER trg_attribution_allocations_rollup_insert ON attribution_allocations IS
'Appends inserted allocations to rollup_channel_daily_delta (rollup_allocations_delta).';
COMMENT ON TRIGGER trg_attribution_allocations_rollup_update ON attribution_allocations IS
'Appends new minus old allocations to rollup_channel_daily_delta (rollup_allocations_delta).';
COMMENT ON TRIGGER trg_attribution_allocations_rollup_delete ON attribution_allocations IS
'Appends deleted allocations, negated, to rollup_channel_daily_delta.';
COMMENT ON TRIGGER trg_attribution_allocations_rollup_truncate ON attribution_allocations IS
'Empties rollup_channel_daily and its delta when the table is truncated.';
COMMENT ON TRIGGER trg_revenue_ledger_rollup_insert ON revenue_ledger IS
'Appends inserted ledger rows to rollup_ledger_daily_delta (rollup_ledger_delta).';
COMMENT ON TRIGGER trg_revenue_ledger_rollup_update ON revenue_ledger IS
'Appends new minus old ledger rows to rollup_ledger_daily_delta (rollup_ledger_delta).';
COMMENT ON TRIGGER trg_revenue_ledger_rollup_delete ON revenue_ledger IS
'Appends deleted ledger rows, negated, to rollup_ledger_daily_delta.';
COMMENT ON TRIGGER trg_revenue_ledger_rollup_truncate ON revenue_ledger IS
'Empties rollup_ledger_daily and its delta when the table is truncated.';

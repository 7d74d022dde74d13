-- Roll back 202612072002_fold_rollups_in_bounded_batches_tenant_by_tenant: fold_rollups() as
-- 202612071604 defined it (every delta of all tenants in one statement per rollup), and drop
-- fold_rollup() and rollup_fold_batch_rows().

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION fold_rollups() RETURNS TABLE (
    rollup_name text,
    folded boolean,
    delta_rows bigint,
    duration_ms numeric,
    detail text
)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $fold$
#variable_conflict use_column
DECLARE
    target text;
    started timestamptz;
    moved bigint;
    elapsed numeric;
    zero_tenants uuid[];
    zero_days date[];
    zero_channels text[];
BEGIN
    FOREACH target IN ARRAY ARRAY['rollup_channel_daily', 'rollup_ledger_daily'] LOOP
        BEGIN
            PERFORM FROM rollup_folds AS f WHERE f.rollup_name = target FOR UPDATE NOWAIT;
        EXCEPTION WHEN lock_not_available THEN
            RETURN QUERY SELECT
                target, FALSE, NULL::bigint, NULL::numeric,
                'skipped: another fold of this rollup is running'::text;
            CONTINUE;
        END;
        started := clock_timestamp();
        IF target = 'rollup_channel_daily' THEN
            WITH taken AS (
                DELETE FROM rollup_channel_daily_delta
                RETURNING tenant_id, utc_day, channel, allocations, allocated_revenue_cents
            ),
            summed AS (
                SELECT
                    t.tenant_id, t.utc_day, t.channel, sum(t.allocations)::bigint AS allocations,
                    sum(t.allocated_revenue_cents)::bigint AS cents
                FROM taken AS t
                WHERE EXISTS (SELECT FROM tenants AS tn WHERE tn.id = t.tenant_id)
                GROUP BY t.tenant_id, t.utc_day, t.channel
                HAVING sum(t.allocations) <> 0 OR sum(t.allocated_revenue_cents) <> 0
            ),
            upserted AS (
                INSERT INTO rollup_channel_daily AS r (
                    tenant_id, utc_day, channel, allocations, allocated_revenue_cents
                )
                SELECT s.tenant_id, s.utc_day, s.channel, s.allocations, s.cents FROM summed AS s
                ON CONFLICT ON CONSTRAINT rollup_channel_daily_pkey DO UPDATE
                    SET
                        allocations = r.allocations + excluded.allocations,
                        allocated_revenue_cents
                        = r.allocated_revenue_cents + excluded.allocated_revenue_cents
                RETURNING
                    r.tenant_id, r.utc_day, r.channel, r.allocations, r.allocated_revenue_cents
            )
            SELECT
                (SELECT count(*) FROM taken),
                array_agg(u.tenant_id), array_agg(u.utc_day), array_agg(u.channel)
            INTO moved, zero_tenants, zero_days, zero_channels
            FROM upserted AS u
            WHERE u.allocations = 0 AND u.allocated_revenue_cents = 0;
            DELETE FROM rollup_channel_daily AS r
            USING unnest(zero_tenants, zero_days, zero_channels) AS z (tenant_id, utc_day, channel)
            WHERE
                r.tenant_id = z.tenant_id AND r.utc_day = z.utc_day AND r.channel = z.channel
                AND r.allocations = 0 AND r.allocated_revenue_cents = 0;
        ELSE
            WITH taken AS (
                DELETE FROM rollup_ledger_daily_delta
                RETURNING tenant_id, utc_day, ledger_rows, verified_rows,
                verified_revenue_cents, unverified_revenue_cents
            ),
            summed AS (
                SELECT
                    t.tenant_id, t.utc_day,
                    sum(t.ledger_rows)::bigint AS ledger_rows,
                    sum(t.verified_rows)::bigint AS verified_rows,
                    sum(t.verified_revenue_cents)::bigint AS vc,
                    sum(t.unverified_revenue_cents)::bigint AS uc
                FROM taken AS t
                WHERE EXISTS (SELECT FROM tenants AS tn WHERE tn.id = t.tenant_id)
                GROUP BY t.tenant_id, t.utc_day
                HAVING
                    sum(t.ledger_rows) <> 0 OR sum(t.verified_rows) <> 0
                    OR sum(t.verified_revenue_cents) <> 0
                    OR sum(t.unverified_revenue_cents) <> 0
            ),
            upserted AS (
                INSERT INTO rollup_ledger_daily AS r (
                    tenant_id, utc_day, ledger_rows, verified_rows,
                    verified_revenue_cents, unverified_revenue_cents
                )
                SELECT s.tenant_id, s.utc_day, s.ledger_rows, s.verified_rows, s.vc, s.uc
                FROM summed AS s
                ON CONFLICT ON CONSTRAINT rollup_ledger_daily_pkey DO UPDATE
                    SET
                        ledger_rows = r.ledger_rows + excluded.ledger_rows,
                        verified_rows = r.verified_rows + excluded.verified_rows,
                        verified_revenue_cents
                        = r.verified_revenue_cents + excluded.verified_revenue_cents,
                        unverified_revenue_cents
                        = r.unverified_revenue_cents + excluded.unverified_revenue_cents
                RETURNING r.tenant_id, r.utc_day, r.ledger_rows
            )
            SELECT
                (SELECT count(*) FROM taken), array_agg(u.tenant_id), array_agg(u.utc_day)
            INTO moved, zero_tenants, zero_days
            FROM upserted AS u
            WHERE u.ledger_rows = 0;
            DELETE FROM rollup_ledger_daily AS r
            USING unnest(zero_tenants, zero_days) AS z (tenant_id, utc_day)
            WHERE r.tenant_id = z.tenant_id AND r.utc_day = z.utc_day AND r.ledger_rows = 0;
        END IF;
        elapsed := round((extract(EPOCH FROM clock_timestamp() - started) * 1000)::numeric, 3);
        UPDATE rollup_folds AS f
        SET
            last_folded_at = started,
            last_duration_ms = elapsed,
            last_delta_rows = moved,
            fold_count = f.fold_count + 1
        WHERE f.rollup_name = target;
        RETURN QUERY SELECT target, TRUE, moved, elapsed, 'folded'::text;
    END LOOP;
END
$fold$;

COMMENT ON FUNCTION fold_rollups() IS
'Move the committed rows of both delta tables into their rollups (one transaction); one '
'caller at a time per rollup (row lock on its rollup_folds row, FOR UPDATE NOWAIT), others '
'return skipped at once. Owner only.';

DROP FUNCTION fold_rollup(text, uuid);
DROP FUNCTION rollup_fold_batch_rows();

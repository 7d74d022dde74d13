-- fold_rollups() stays bounded and moves on whatever one tenant writes. A call moves at most
-- rollup_fold_batch_rows() (500,000) delta rows per rollup, so a backlog (one app_rw INSERT
-- can append a million) never outruns the sidecar's 300 s timeout; the detail then ends with
-- "more deltas remain". A fold failing on data (class 22, 23, 54: a key too large for the
-- rollup's index) goes tenant by tenant and names the tenants it leaves unfolded.
-- One rollup's fold moves to fold_rollup(rollup, tenant), tenant NULL for all. Owner only.
-- depends: 202612072001_validate_allocation_channel_length

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION rollup_fold_batch_rows() RETURNS bigint
LANGUAGE sql
STABLE
SET search_path = pg_catalog
AS $$ SELECT 500000::bigint $$;

REVOKE ALL ON FUNCTION rollup_fold_batch_rows() FROM PUBLIC; -- noqa: CP02

CREATE FUNCTION fold_rollup(target text, only_tenant uuid) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $fold$
DECLARE
    moved bigint;
    zero_tenants uuid[];
    zero_days date[];
    zero_channels text[];
BEGIN
    IF target = 'rollup_channel_daily' THEN
        WITH taken AS (
            DELETE FROM rollup_channel_daily_delta AS d
            WHERE d.ctid = ANY(ARRAY(
                SELECT x.ctid FROM rollup_channel_daily_delta AS x
                WHERE only_tenant IS NULL OR x.tenant_id = only_tenant
                LIMIT rollup_fold_batch_rows()
            ))
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
            DELETE FROM rollup_ledger_daily_delta AS d
            WHERE d.ctid = ANY(ARRAY(
                SELECT x.ctid FROM rollup_ledger_daily_delta AS x
                WHERE only_tenant IS NULL OR x.tenant_id = only_tenant
                LIMIT rollup_fold_batch_rows()
            ))
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
    RETURN moved;
END
$fold$;

REVOKE ALL ON FUNCTION fold_rollup(text, uuid) FROM PUBLIC; -- noqa: CP02

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
    outcome text;
    tenant uuid;
    failed uuid[];
    first_error text;
    part bigint;
    more boolean;
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
        outcome := 'folded';
        BEGIN
            moved := fold_rollup(target, NULL);
            more := moved >= rollup_fold_batch_rows();
        EXCEPTION
            WHEN data_exception OR integrity_constraint_violation OR program_limit_exceeded THEN
                first_error := sqlstate || ' ' || sqlerrm;
                moved := 0;
                more := FALSE;
                failed := ARRAY[]::uuid[];
                FOR tenant IN
                    SELECT DISTINCT d.tenant_id FROM rollup_channel_daily_delta AS d
                    WHERE target = 'rollup_channel_daily'
                    UNION
                    SELECT DISTINCT d.tenant_id FROM rollup_ledger_daily_delta AS d
                    WHERE target = 'rollup_ledger_daily'
                LOOP
                    BEGIN
                        part := fold_rollup(target, tenant);
                        moved := moved + part;
                        more := more OR part >= rollup_fold_batch_rows();
                    EXCEPTION
                        WHEN data_exception
                            OR integrity_constraint_violation
                            OR program_limit_exceeded THEN
                            failed := failed || tenant;
                    END;
                END LOOP;
                outcome := format(
                    'folded tenant by tenant after %s; %s tenant(s) left unfolded '
                    '(their deltas are still read): %s',
                    first_error, cardinality(failed),
                    coalesce(array_to_string(failed[1:5], ', '), '')
                    || CASE WHEN cardinality(failed) > 5 THEN ', ...' ELSE '' END
                );
        END;
        IF more THEN
            outcome := outcome || '; more deltas remain: call again';
        END IF;
        elapsed := round((extract(EPOCH FROM clock_timestamp() - started) * 1000)::numeric, 3);
        UPDATE rollup_folds AS f
        SET
            last_folded_at = started,
            last_duration_ms = elapsed,
            last_delta_rows = moved,
            fold_count = f.fold_count + 1
        WHERE f.rollup_name = target;
        RETURN QUERY SELECT target, TRUE, moved, elapsed, outcome;
    END LOOP;
END
$fold$;

COMMENT ON FUNCTION rollup_fold_batch_rows() IS
'Most delta rows of one rollup that one fold_rollups() call moves (500,000: 5-7 s at 10M events).';
COMMENT ON FUNCTION fold_rollup(text, uuid) IS
'Fold at most rollup_fold_batch_rows() committed deltas of one rollup (rollup_channel_daily '
'or rollup_ledger_daily) into it, of one tenant or of all (NULL); returns the delta rows '
'moved. Called by fold_rollups(), which holds the single-flight lock. Owner only.';
COMMENT ON FUNCTION fold_rollups() IS
'Move committed delta rows into their rollups, at most rollup_fold_batch_rows() per rollup '
'per call (one transaction); detail ends with "more deltas remain: call again" when the '
'batch was full. One caller at a time per rollup (row lock on its rollup_folds row, FOR '
'UPDATE NOWAIT), others return skipped at once. When a rollup''s fold fails on data '
'(SQLSTATE class 22, 23 or 54) it folds tenant by tenant and names the tenants left '
'unfolded in detail. Owner only.';

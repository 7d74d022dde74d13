-- Roll back 202611281503_single_flight_on_a_row_lock: the advisory-lock function bodies,
-- RLS enabled but not forced, NOT NULL again on the three columns (the seeded rows of views
-- never refreshed are deleted first: the old design had no row before the first refresh).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION refresh_read_model(
    target text,
    ttl interval DEFAULT '30 seconds',
    force boolean DEFAULT FALSE
) RETURNS TABLE (
    view_name text,
    refreshed boolean,
    refresh_mode text,
    duration_ms numeric,
    detail text
)
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $refresh$
#variable_conflict use_column
DECLARE
    view_oid regclass;
    owner_name name;
    owner_bypasses_rls boolean;
    populated boolean;
    last_at timestamptz;
    started timestamptz;
    how text;
    elapsed numeric;
BEGIN
    IF target IS NULL OR target NOT IN ('mv_realtime_revenue', 'mv_reconciliation_status') THEN
        RAISE EXCEPTION 'refresh_read_model: % is not a read model of this schema', target
        USING ERRCODE = 'invalid_parameter_value',
        HINT = 'use mv_realtime_revenue or mv_reconciliation_status';
    END IF;
    IF ttl IS NULL OR ttl < INTERVAL '0 seconds' THEN
        RAISE EXCEPTION 'refresh_read_model: ttl must be a non-negative interval, got %', ttl
        USING ERRCODE = 'invalid_parameter_value';
    END IF;

    view_oid := to_regclass('public.' || quote_ident(target));
    SELECT r.rolname, r.rolsuper OR r.rolbypassrls, c.relispopulated
    INTO owner_name, owner_bypasses_rls, populated
    FROM pg_class AS c
    INNER JOIN pg_roles AS r ON r.oid = c.relowner
    WHERE c.oid = view_oid;

    IF NOT owner_bypasses_rls THEN
        RAISE EXCEPTION
        'refusing to refresh %: its owner % is subject to row-level security', target, owner_name
        USING ERRCODE = 'insufficient_privilege',
        DETAIL = 'REFRESH runs the view query as its owner; under the forced '
        || 'tenant_isolation_policy the view would hold one tenant''s rows or none.',
        HINT = 'own the view by a superuser or BYPASSRLS role (ALTER MATERIALIZED VIEW '
        || target || ' OWNER TO ...), then refresh as that role.';
    END IF;

    IF NOT pg_try_advisory_xact_lock(hashtext('refresh_read_model'), hashtext(target)) THEN
        RETURN QUERY SELECT
            target, FALSE, NULL::text, NULL::numeric,
            'skipped: another refresh of this view is running'::text;
        RETURN;
    END IF;

    SELECT rr.last_refreshed_at INTO last_at
    FROM read_model_refreshes AS rr
    WHERE rr.view_name = target;

    IF NOT force AND populated AND last_at IS NOT NULL AND clock_timestamp() - last_at < ttl THEN
        RETURN QUERY SELECT
            target, FALSE, NULL::text, NULL::numeric,
            'skipped: refreshed ' || (clock_timestamp() - last_at)::text
            || ' ago, within ttl ' || ttl::text;
        RETURN;
    END IF;

    started := clock_timestamp();
    IF populated THEN
        how := 'concurrent';
        EXECUTE 'REFRESH MATERIALIZED VIEW CONCURRENTLY ' || view_oid::text;
    ELSE
        how := 'plain';
        EXECUTE 'REFRESH MATERIALIZED VIEW ' || view_oid::text;
    END IF;
    elapsed := round((extract(EPOCH FROM clock_timestamp() - started) * 1000)::numeric, 3);

    INSERT INTO read_model_refreshes AS rr (
        view_name, last_refreshed_at, last_duration_ms, last_mode
    )
    VALUES (target, started, elapsed, how)
    ON CONFLICT ON CONSTRAINT read_model_refreshes_pkey DO UPDATE
        SET
            last_refreshed_at = excluded.last_refreshed_at,
            last_duration_ms = excluded.last_duration_ms,
            last_mode = excluded.last_mode,
            refresh_count = rr.refresh_count + 1;

    RETURN QUERY SELECT target, TRUE, how, elapsed, 'refreshed'::text;
END
$refresh$;

CREATE OR REPLACE FUNCTION refresh_read_models(
    ttl interval DEFAULT '30 seconds',
    force boolean DEFAULT FALSE
) RETURNS TABLE (
    view_name text,
    refreshed boolean,
    refresh_mode text,
    duration_ms numeric,
    detail text
)
LANGUAGE sql
SET search_path = pg_catalog, public
AS $refresh_all$
    SELECT r.view_name, r.refreshed, r.refresh_mode, r.duration_ms, r.detail
    FROM unnest(ARRAY['mv_realtime_revenue', 'mv_reconciliation_status'])
        WITH ORDINALITY AS v (name, ord)
    CROSS JOIN LATERAL refresh_read_model(v.name, ttl, force) AS r
    ORDER BY v.ord
$refresh_all$;

ALTER TABLE read_model_refreshes NO FORCE ROW LEVEL SECURITY;

ALTER TABLE read_model_refreshes
DROP CONSTRAINT ck_read_model_refreshes_recorded_together;

DELETE FROM read_model_refreshes
WHERE last_refreshed_at IS NULL;

-- The table holds at most two rows: the scan under SET NOT NULL is instantaneous.
-- squawk-ignore adding-not-nullable-field
ALTER TABLE read_model_refreshes ALTER COLUMN last_refreshed_at SET NOT NULL;
-- squawk-ignore adding-not-nullable-field
ALTER TABLE read_model_refreshes ALTER COLUMN last_duration_ms SET NOT NULL;
-- squawk-ignore adding-not-nullable-field
ALTER TABLE read_model_refreshes ALTER COLUMN last_mode SET NOT NULL;

COMMENT ON TABLE read_model_refreshes IS
'When each materialized view was last refreshed by refresh_read_model(), how long it took '
'and how. Bookkeeping of the TTL refresh; not tenant data.
Data Class: Non-PII
Ownership: Backend service';
COMMENT ON COLUMN read_model_refreshes.last_refreshed_at IS
'Start of the latest completed refresh (clock time).';
COMMENT ON FUNCTION refresh_read_model(text, interval, boolean) IS
'Refresh one materialized view CONCURRENTLY when older than ttl (or force); one caller at '
'a time per view, others return at once; refuses when the view owner is subject to RLS.';
COMMENT ON FUNCTION refresh_read_models(interval, boolean) IS
'refresh_read_model() for mv_realtime_revenue, then mv_reconciliation_status.';
COMMENT ON COLUMN read_model_refreshes.last_duration_ms IS
'Duration of the latest refresh in milliseconds.';
COMMENT ON COLUMN read_model_refreshes.last_mode IS
'concurrent (readers unaffected) or plain (first population).';

-- Single flight of refresh_read_model() on a lock no application role can take (issue 14).
-- The transaction-level advisory lock it used is open to every role: an app_ro login holding
-- pg_advisory_lock(hashtext('refresh_read_model'), hashtext(view)) made every refresh of that
-- view report "skipped" forever. The lock is now the view's row of read_model_refreshes,
-- taken FOR UPDATE NOWAIT; app_rw, app_ro and PUBLIC hold no privilege on that table, so
-- they can neither lock nor change it (42501), and RLS on it is now forced as well.
-- The rows must exist before the first refresh: one row per view is seeded here, which
-- makes last_refreshed_at, last_duration_ms and last_mode NULL until the first refresh
-- (NOT NULL dropped on those three; the table holds two rows). refresh_read_models()
-- becomes PL/pgSQL and refreshes each view in a subtransaction: one view's failure is
-- reported in its row and never stops the other. A last_refreshed_at in the future no
-- longer keeps a view within its TTL. Both keep SET search_path = pg_catalog, public.
-- depends: 202511131601_comment_read_model_refreshes_pkey_index 202611281502_clamp_realtime_revenue_freshness

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- The three columns of a refresh are recorded together or not at all (never refreshed).
-- The table holds at most two rows, so checking it at once costs nothing; created first, it
-- also makes a re-run of this migration fail at once (42710) instead of passing silently.
ALTER TABLE read_model_refreshes
-- squawk-ignore constraint-missing-not-valid
ADD CONSTRAINT ck_read_model_refreshes_recorded_together
CHECK (num_nulls(last_refreshed_at, last_duration_ms, last_mode) IN (0, 3));

COMMENT ON CONSTRAINT ck_read_model_refreshes_recorded_together ON read_model_refreshes IS
'last_refreshed_at, last_duration_ms and last_mode are all set (refreshed) or all NULL '
'(never refreshed by refresh_read_model()).';

-- Only refresh_read_model() (the owner) reads and writes this table; NULL means "never
-- refreshed by it" and is handled there and by the sidecar's staleness check.
-- squawk-ignore ban-drop-not-null
ALTER TABLE read_model_refreshes ALTER COLUMN last_refreshed_at DROP NOT NULL;
-- squawk-ignore ban-drop-not-null
ALTER TABLE read_model_refreshes ALTER COLUMN last_duration_ms DROP NOT NULL;
-- squawk-ignore ban-drop-not-null
ALTER TABLE read_model_refreshes ALTER COLUMN last_mode DROP NOT NULL;

INSERT INTO read_model_refreshes (view_name, refresh_count)
VALUES ('mv_realtime_revenue', 0), ('mv_reconciliation_status', 0)
ON CONFLICT ON CONSTRAINT read_model_refreshes_pkey DO NOTHING;

ALTER TABLE read_model_refreshes FORCE ROW LEVEL SECURITY;

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

    -- Single flight: the view's own row of read_model_refreshes, locked until this
    -- transaction ends. The application roles hold no privilege on that table, so they can
    -- neither take this lock nor hold it (an advisory lock key is open to any role).
    IF NOT EXISTS (SELECT FROM read_model_refreshes AS rr WHERE rr.view_name = target) THEN
        INSERT INTO read_model_refreshes AS rr (view_name, refresh_count) VALUES (target, 0)
        ON CONFLICT ON CONSTRAINT read_model_refreshes_pkey DO NOTHING;
    END IF;
    BEGIN
        SELECT rr.last_refreshed_at INTO last_at
        FROM read_model_refreshes AS rr
        WHERE rr.view_name = target
        FOR UPDATE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RETURN QUERY SELECT
            target, FALSE, NULL::text, NULL::numeric,
            'skipped: another refresh of this view is running'::text;
        RETURN;
    END;

    -- Within the TTL only when last_at lies in (now - ttl, now]: a last_at in the future
    -- (clock step, hand edit) never postpones a refresh.
    IF NOT force AND populated AND last_at <= clock_timestamp()
        AND last_at > clock_timestamp() - ttl THEN
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

    UPDATE read_model_refreshes AS rr
    SET
        last_refreshed_at = started,
        last_duration_ms = elapsed,
        last_mode = how,
        refresh_count = rr.refresh_count + 1
    WHERE rr.view_name = target;

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
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $refresh_all$
DECLARE
    target text;
    failed_state text;
    failed_message text;
BEGIN
    IF ttl IS NULL OR ttl < INTERVAL '0 seconds' THEN
        RAISE EXCEPTION 'refresh_read_models: ttl must be a non-negative interval, got %', ttl
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH target IN ARRAY ARRAY['mv_realtime_revenue', 'mv_reconciliation_status'] LOOP
        -- Each view in a subtransaction of its own: one view's failure is reported in its
        -- row and never stops the other. A cancel or statement_timeout (57014) is not
        -- caught (OTHERS excludes it): it ends the whole call.
        BEGIN
            RETURN QUERY SELECT r.view_name, r.refreshed, r.refresh_mode, r.duration_ms, r.detail
            FROM refresh_read_model(target, ttl, force) AS r;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS
                failed_state = RETURNED_SQLSTATE,
                failed_message = MESSAGE_TEXT;
            RETURN QUERY SELECT
                target, FALSE, NULL::text, NULL::numeric,
                'failed: ' || failed_state || ' ' || failed_message;
        END;
    END LOOP;
END
$refresh_all$;

COMMENT ON TABLE read_model_refreshes IS
'One row per materialized view: when refresh_read_model() last refreshed it, how long it took '
'and how. Its row lock is the single-flight lock of that view''s refresh. Bookkeeping of the '
'TTL refresh; not tenant data; no application role has any privilege on it.
Data Class: Non-PII
Ownership: Backend service';
COMMENT ON COLUMN read_model_refreshes.last_refreshed_at IS
'Start of the latest completed refresh (clock time); NULL until refresh_read_model() first '
'refreshes the view.';
COMMENT ON COLUMN read_model_refreshes.last_duration_ms IS
'Duration of the latest refresh in milliseconds; NULL until the first refresh.';
COMMENT ON COLUMN read_model_refreshes.last_mode IS
'concurrent (readers unaffected) or plain (first population); NULL until the first refresh.';
COMMENT ON FUNCTION refresh_read_model(text, interval, boolean) IS
'Refresh one materialized view CONCURRENTLY when older than ttl (or force); one caller at '
'a time per view (row lock on its read_model_refreshes row, FOR UPDATE NOWAIT), others '
'return at once; refuses when the view owner is subject to RLS.';
COMMENT ON FUNCTION refresh_read_models(interval, boolean) IS
'refresh_read_model() for mv_realtime_revenue, then mv_reconciliation_status, each in a '
'subtransaction: a failing view is reported (refreshed = false, detail ''failed: <sqlstate> '
'<message>'') and the other is still refreshed.';

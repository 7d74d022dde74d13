-- Bound raw_payload on attribution_events and dead_events (issue 14 point 1): at most
-- raw_payload_max_bytes() bytes as stored jsonb (512 KiB) and at most raw_payload_max_depth()
-- nested objects/arrays (64). An over-deep payload made the jsonpath walk of the PII guard
-- quadratic (a 60 KB, 10,000-deep value grew one backend to 24 GB). The limit is a BEFORE
-- trigger, not a CHECK: CHECK constraints run after every BEFORE trigger, so the PII guard
-- would already have walked the payload. Triggers of one event fire in name order, and a
-- trigger's WHEN clause is evaluated just before it fires: trg_<table>_limit_raw_payload sorts
-- before trg_<table>_reject_pii, so an over-limit row is rejected (23514, naming the column and
-- the limit) before the PII walk is evaluated. The WHEN test is cheap first: pg_column_size
-- (O(1)), then a jsonpath that visits levels 0..64 only ($.**{64}), linear in size.
-- depends: 202511131601_comment_read_model_refreshes_pkey_index

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION raw_payload_max_bytes() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 524288
$$;

CREATE FUNCTION raw_payload_max_depth() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 64
$$;

-- STABLE, not IMMUTABLE: pg_column_size is STABLE, and an IMMUTABLE SQL function whose body
-- is not would not be inlined. Not STRICT, so the trigger's WHEN clause inlines it.
CREATE FUNCTION raw_payload_within_limits(payload jsonb) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT payload IS NULL
        OR (
            pg_catalog.pg_column_size(payload) OPERATOR(pg_catalog.<=) public.raw_payload_max_bytes()
            AND NOT pg_catalog.jsonb_path_exists(
                payload,
                (
                    'strict $.**{' OPERATOR(pg_catalog.||) public.raw_payload_max_depth()::pg_catalog.text
                    OPERATOR(pg_catalog.||) '} ? (@.type() == "object" || @.type() == "array")'
                )::pg_catalog.jsonpath
            )
        )
$$;

CREATE FUNCTION reject_oversized_raw_payload() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    size_bytes pg_catalog.int4 := pg_catalog.pg_column_size(NEW.raw_payload);
BEGIN
    IF size_bytes > public.raw_payload_max_bytes() THEN
        RAISE EXCEPTION '%.raw_payload is % bytes, over the limit of % bytes',
            TG_TABLE_NAME, size_bytes, public.raw_payload_max_bytes()
            USING ERRCODE = 'check_violation',
                SCHEMA = TG_TABLE_SCHEMA,
                TABLE = TG_TABLE_NAME,
                COLUMN = 'raw_payload',
                CONSTRAINT = TG_NAME,
                HINT = 'Store a summary in dead_events instead (docs/writing-data.md).';
    END IF;
    IF NOT public.raw_payload_within_limits(NEW.raw_payload) THEN
        RAISE EXCEPTION '%.raw_payload nests deeper than the limit of % levels',
            TG_TABLE_NAME, public.raw_payload_max_depth()
            USING ERRCODE = 'check_violation',
                SCHEMA = TG_TABLE_SCHEMA,
                TABLE = TG_TABLE_NAME,
                COLUMN = 'raw_payload',
                CONSTRAINT = TG_NAME,
                HINT = 'Store a summary in dead_events instead (docs/writing-data.md).';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_attribution_events_limit_raw_payload
BEFORE INSERT OR UPDATE OF raw_payload ON attribution_events
FOR EACH ROW WHEN (NOT public.raw_payload_within_limits(new.raw_payload))
EXECUTE FUNCTION reject_oversized_raw_payload();

CREATE TRIGGER trg_dead_events_limit_raw_payload
BEFORE INSERT OR UPDATE OF raw_payload ON dead_events
FOR EACH ROW WHEN (NOT public.raw_payload_within_limits(new.raw_payload))
EXECUTE FUNCTION reject_oversized_raw_payload();

COMMENT ON FUNCTION raw_payload_max_bytes() IS
'Largest raw_payload accepted, in bytes of stored jsonb as pg_column_size measures it (512 KiB).';
COMMENT ON FUNCTION raw_payload_max_depth() IS
'Deepest raw_payload accepted: nested objects/arrays ({} is 1, {"a":{}} is 2; 64).';
COMMENT ON FUNCTION raw_payload_within_limits(jsonb) IS
'True when the value is within raw_payload_max_bytes() and raw_payload_max_depth() (or NULL). '
'Size first (O(1)), then a jsonpath visiting levels up to the limit only: linear in size.';
COMMENT ON FUNCTION reject_oversized_raw_payload() IS
'Trigger function: rejects a raw_payload over the size or depth limit with 23514 naming the '
'column and the limit. Sorts before the PII guard, so no over-limit value reaches its walk.';
COMMENT ON TRIGGER trg_attribution_events_limit_raw_payload ON attribution_events IS
'Rejects raw_payload over the size or depth limit (23514) before the PII guard runs.';
COMMENT ON TRIGGER trg_dead_events_limit_raw_payload ON dead_events IS
'Rejects raw_payload over the size or depth limit (23514) before the PII guard runs.';

-- Roll back 202611281550_count_pii_keys_once: pii_key_count and reject_pii_in_raw_payload
-- exactly as 202611281301 defined them (regexp_count; has_pii_key tested first).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION pii_key_count(payload jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.regexp_count(public.pii_key_text(payload), public.pii_key_pattern())
$$;

CREATE OR REPLACE FUNCTION reject_pii_in_raw_payload() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shown pg_catalog.text[];
    total pg_catalog.int4;
BEGIN
    IF public.has_pii_key(NEW.raw_payload) THEN
        shown := public.pii_key_paths(NEW.raw_payload, public.pii_paths_shown());
        total := public.pii_key_count(NEW.raw_payload);
        RAISE EXCEPTION '%.raw_payload holds PII key(s) at %',
            TG_TABLE_NAME, pg_catalog.array_to_string(shown, ', ')
            || CASE WHEN total > pg_catalog.cardinality(shown)
                THEN pg_catalog.format(' and %s more', total - pg_catalog.cardinality(shown))
                ELSE ''
            END
            USING ERRCODE = 'check_violation',
                SCHEMA = TG_TABLE_SCHEMA,
                TABLE = TG_TABLE_NAME,
                COLUMN = 'raw_payload',
                CONSTRAINT = TG_NAME,
                HINT = 'Strip PII before persistence; the key names are listed by pii_keys().';
    END IF;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION pii_key_count(jsonb) IS
'Number of object keys of the value that are PII keys (is_pii_key); linear in size.';
COMMENT ON FUNCTION reject_pii_in_raw_payload() IS
'Trigger function: rejects a row whose raw_payload holds a PII key (has_pii_key) with '
'23514 naming the first pii_paths_shown() key paths and the count of the rest, never values.';

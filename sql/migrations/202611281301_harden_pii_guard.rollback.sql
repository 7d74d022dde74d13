-- Roll back 202611281301_harden_pii_guard: restore the 202511131403 definitions of pii_keys,
-- is_pii_key, has_pii_key, pii_key_paths and reject_pii_in_raw_payload (and their comments),
-- then drop the functions this migration added.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE OR REPLACE FUNCTION pii_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY[
        'email', 'email_address',
        'phone', 'phone_number',
        'first_name', 'last_name', 'full_name',
        'address', 'street_address',
        'ip', 'ip_address',
        'ssn', 'social_security_number'
    ]::text[]
$$;

CREATE OR REPLACE FUNCTION is_pii_key(key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT lower(key) = ANY(public.pii_keys())
$$;

CREATE OR REPLACE FUNCTION has_pii_key(payload jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- Every object key at any depth, as one json array of strings, lower-cased as text
    -- (is_pii_key's rule, applied in bulk), then tested against the list in one operator.
    SELECT lower(
        jsonb_path_query_array(
            payload, 'strict $.** ? (@.type() == "object").keyvalue().key'
        )::text
    )::jsonb ?| public.pii_keys()
$$;

CREATE OR REPLACE FUNCTION pii_key_paths(payload jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    WITH RECURSIVE node (path, sort_key, is_pii, value) AS (
        SELECT '$'::text, ARRAY[]::int[], FALSE, payload
        UNION ALL
        SELECT
            node.path || child.step,
            node.sort_key || child.ordinal,
            child.is_pii,
            child.value
        FROM node
        CROSS JOIN LATERAL (
            SELECT
                CASE
                    WHEN member.key ~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN '.' || member.key
                    ELSE '.' || to_jsonb(member.key)::text
                END AS step,
                member.ordinal::int AS ordinal,
                public.is_pii_key(member.key) AS is_pii,
                member.value
            FROM jsonb_each(
                CASE WHEN jsonb_typeof(node.value) = 'object' THEN node.value END
            ) WITH ORDINALITY AS member (key, value, ordinal)
            UNION ALL
            SELECT
                '[' || (element.ordinal - 1) || ']',
                element.ordinal::int,
                FALSE,
                element.value
            FROM jsonb_array_elements(
                CASE WHEN jsonb_typeof(node.value) = 'array' THEN node.value END
            ) WITH ORDINALITY AS element (value, ordinal)
        ) AS child
        WHERE jsonb_typeof(node.value) IN ('object', 'array')
    )

    SELECT coalesce(array_agg(node.path ORDER BY node.sort_key), ARRAY[]::text[])
    FROM node
    WHERE node.is_pii
$$;

CREATE OR REPLACE FUNCTION reject_pii_in_raw_payload() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF public.has_pii_key(NEW.raw_payload) THEN
        RAISE EXCEPTION '%.raw_payload holds PII key(s) at %',
            TG_TABLE_NAME, array_to_string(public.pii_key_paths(NEW.raw_payload), ', ')
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

DROP FUNCTION pii_key_paths(jsonb, integer);
DROP FUNCTION pii_key_walk(jsonb);
DROP FUNCTION pii_paths_shown();
DROP FUNCTION pii_key_count(jsonb);
DROP FUNCTION pii_key_pattern();
DROP FUNCTION pii_key_ascii_pattern();
DROP FUNCTION pii_key_text(jsonb);
DROP FUNCTION pii_normalize_key(text);
DROP FUNCTION pii_ignorable_pattern();

COMMENT ON FUNCTION is_pii_key(text) IS
'True when the key, lower-cased, is in pii_keys(): the one comparison rule of the PII guard.';
COMMENT ON FUNCTION has_pii_key(jsonb) IS
'True when some object key of the value, at any depth and inside arrays, is a PII key '
'(is_pii_key). One jsonpath pass: the test the trigger runs on every write.';
COMMENT ON FUNCTION pii_key_paths(jsonb) IS
'Paths ($.a.b[0].c) of every object key, at any depth and inside arrays, that is a PII key '
'(is_pii_key), in jsonb key order; empty when there is none. Never returns values.';
COMMENT ON FUNCTION reject_pii_in_raw_payload() IS
'Trigger function: rejects a row whose raw_payload holds a PII key (has_pii_key) with '
'23514 and a message naming the key paths, never the values.';

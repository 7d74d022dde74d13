-- Reject PII keys in raw payloads (decision 9). The dictionary says PII is "stripped from
-- raw_payload before persistence" but nothing enforces it. A trigger on attribution_events
-- and dead_events walks raw_payload (objects and arrays, at any depth) and rejects the row
-- with SQLSTATE 23514 when an object key is a PII field name, compared case-insensitively.
-- The message names every offending key path (e.g. $.customer.Email, $.items[0].phone) and
-- never a value. Values that merely contain those words are accepted. A trigger, not a
-- CHECK: a CHECK cannot say which key offended.
--   * pii_keys(): the list of PII field names, in lower case, in this one place.
--   * is_pii_key(text): the one comparison rule (lower(key) in pii_keys()).
--   * has_pii_key(jsonb): the fast test every write pays, one jsonpath pass over all object
--     keys at any depth, compared like is_pii_key (lower-case, in pii_keys()).
--   * pii_key_paths(jsonb): the paths of the offending keys, in jsonb's key order (empty if
--     none). Slower (a recursive walk), so it runs only to word the error. Both are usable
--     by anyone, e.g. to audit rows written before this migration.
--   * reject_pii_in_raw_payload(): the trigger function, BEFORE INSERT OR UPDATE OF
--     raw_payload on both tables. The triggers run it only WHEN has_pii_key(new.raw_payload):
--     a clean row costs one inlined expression, no PL/pgSQL call.
-- is_pii_key and has_pii_key are plain SQL expressions, deliberately not STRICT (they
-- return NULL for NULL anyway): PostgreSQL inlines them into the calling statement, which
-- a STRICT function with "= ANY" would prevent (measured: 5x the cost per row).
-- All of them are SECURITY INVOKER and touch no table, so the application roles need no extra
-- grant; their bodies name the schema so no search_path can substitute another function.
-- Existing rows are not re-checked (a trigger sees only new writes); see the README.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION pii_keys() RETURNS text[]
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

CREATE FUNCTION is_pii_key(key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT lower(key) = ANY(public.pii_keys())
$$;

CREATE FUNCTION has_pii_key(payload jsonb) RETURNS boolean
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

CREATE FUNCTION pii_key_paths(payload jsonb) RETURNS text[]
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

CREATE FUNCTION reject_pii_in_raw_payload() RETURNS trigger
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

CREATE TRIGGER trg_attribution_events_reject_pii
BEFORE INSERT OR UPDATE OF raw_payload ON attribution_events
FOR EACH ROW WHEN (public.has_pii_key(new.raw_payload))
EXECUTE FUNCTION reject_pii_in_raw_payload();

CREATE TRIGGER trg_dead_events_reject_pii
BEFORE INSERT OR UPDATE OF raw_payload ON dead_events
FOR EACH ROW WHEN (public.has_pii_key(new.raw_payload))
EXECUTE FUNCTION reject_pii_in_raw_payload();

COMMENT ON FUNCTION pii_keys() IS
'The PII field names (lower case) that raw payloads must not carry as object keys, '
'compared case-insensitively. The one place the list is kept.';
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
COMMENT ON TRIGGER trg_attribution_events_reject_pii ON attribution_events IS
'Rejects raw_payload holding PII keys on INSERT and on UPDATE of raw_payload (23514).';
COMMENT ON TRIGGER trg_dead_events_reject_pii ON dead_events IS
'Rejects raw_payload holding PII keys on INSERT and on UPDATE of raw_payload (23514).';

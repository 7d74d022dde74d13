-- Harden the raw_payload PII guard of 202511131403 (issues 14 and 15).
--   * Linear cost: has_pii_key no longer uses the jsonpath "strict $.**...keyvalue()" walk,
--     which copies every value under every key (quadratic in depth). It reads the jsonb text
--     once: escaped backslashes and quotes become chr(1)/chr(2) and the remaining quotes,
--     which are exactly the string delimiters, chr(3) (jsonb text never holds raw control
--     characters), then one regular-expression scan for chr(3) <pii key> chr(3) ':', which
--     only a key can produce. pii_key_count counts those; the trigger names the first
--     pii_paths_shown() paths (20) and the count of the rest, never megabytes.
--   * Unicode: keys are compared after NFKC (fullwidth and mathematical letters become
--     ASCII), with default-ignorable code points removed (zero-width space/joiners, word
--     joiner, BOM, soft hyphen, bidi controls, variation selectors, tags...), then ASCII
--     lower case (COLLATE "C": the same in every database). Needs a UTF8 database.
--   * search_path: every type, function, operator and collation in the bodies is qualified,
--     so temporary objects (CREATE DOMAIN pg_temp.jsonb ...) cannot replace them. The SQL
--     functions stay inlinable (no SET clause); the trigger function also SETs search_path.
-- pii_keys() keeps the same list. Rollback restores the 202511131403 definitions exactly.
-- depends: 202511131601_comment_read_model_refreshes_pkey_index 202611281300_limit_raw_payload_size_and_depth

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
    ]::pg_catalog.text[]
$$;

-- Default_Ignorable_Code_Point (Unicode DerivedCoreProperties), as one bracket expression.
CREATE FUNCTION pii_ignorable_pattern() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E'
        OPERATOR(pg_catalog.||) '\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8'
        OPERATOR(pg_catalog.||) '\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E0FFF]'
$$;

CREATE FUNCTION pii_normalize_key(key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.lower(
        pg_catalog.regexp_replace(
            pg_catalog.normalize(key, 'NFKC'), public.pii_ignorable_pattern(), '', 'g'
        ) COLLATE pg_catalog."C"
    )
$$;

CREATE OR REPLACE FUNCTION is_pii_key(key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT public.pii_normalize_key(key) OPERATOR(pg_catalog.=) ANY(public.pii_keys())
$$;

CREATE FUNCTION pii_key_text(payload jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT public.pii_normalize_key(
        pg_catalog.replace(
            pg_catalog.replace(
                pg_catalog.replace(payload::pg_catalog.text, '\\', pg_catalog.chr(1)),
                '\"', pg_catalog.chr(2)
            ),
            '"', pg_catalog.chr(3)
        )
    )
$$;

-- IMMUTABLE by declaration (array_to_string is STABLE only because of output functions in
-- general; on text[] it is not): the planner folds it to a constant once per statement.
CREATE FUNCTION pii_key_pattern() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.chr(3) OPERATOR(pg_catalog.||) '('
        OPERATOR(pg_catalog.||) pg_catalog.array_to_string(public.pii_keys(), '|')
        OPERATOR(pg_catalog.||) ')' OPERATOR(pg_catalog.||) pg_catalog.chr(3)
        OPERATOR(pg_catalog.||) ':'
$$;

-- The same test on ASCII-only text, where NFKC and the ignorables change nothing: a key is a
-- quote preceded by an even number of backslashes (not an escaped one), the lower-cased key,
-- then the '": ' that jsonb prints after every key and never after a value.
CREATE FUNCTION pii_key_ascii_pattern() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '[^\\](\\\\)*"(' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(public.pii_keys(), '|')
        OPERATOR(pg_catalog.||) ')": '
$$;

-- Fast path when every key is ASCII (NFKC and the ignorables change nothing there): the
-- whole text is ASCII (octet length = character length), or no key holds a non-ASCII
-- character (an unescaped quote, string characters with one non-ASCII, then '": ', which
-- only a key can produce). NFKC costs most of the time otherwise (about 0.1 us a character).
CREATE OR REPLACE FUNCTION has_pii_key(payload jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN pg_catalog.octet_length(payload::pg_catalog.text)
            OPERATOR(pg_catalog.=) pg_catalog.char_length(payload::pg_catalog.text)
            OR payload::pg_catalog.text OPERATOR(pg_catalog.!~)
            '[^\\](\\\\)*"([^"\\]|\\.)*[^\x01-\x7F]([^"\\]|\\.)*": '
            THEN pg_catalog.lower(payload::pg_catalog.text COLLATE pg_catalog."C")
            OPERATOR(pg_catalog.~) public.pii_key_ascii_pattern()
        ELSE public.pii_key_text(payload) OPERATOR(pg_catalog.~) public.pii_key_pattern()
    END
$$;

CREATE FUNCTION pii_key_count(payload jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.regexp_count(public.pii_key_text(payload), public.pii_key_pattern())
$$;

CREATE FUNCTION pii_paths_shown() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 20
$$;

CREATE FUNCTION pii_key_walk(payload jsonb)
RETURNS TABLE (path text, sort_key integer[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    WITH RECURSIVE node (path, sort_key, is_pii, value) AS (
        SELECT '$'::pg_catalog.text, ARRAY[]::pg_catalog.int4[], FALSE, payload
        UNION ALL
        SELECT
            node.path OPERATOR(pg_catalog.||) child.step,
            node.sort_key OPERATOR(pg_catalog.||) child.ordinal,
            child.is_pii,
            child.value
        FROM node
        CROSS JOIN LATERAL (
            SELECT
                CASE
                    WHEN member.key OPERATOR(pg_catalog.~) '^[A-Za-z_][A-Za-z0-9_]*$'
                        THEN '.' OPERATOR(pg_catalog.||) member.key
                    ELSE '.' OPERATOR(pg_catalog.||) pg_catalog.to_jsonb(member.key)::pg_catalog.text
                END AS step,
                member.ordinal::pg_catalog.int4 AS ordinal,
                public.is_pii_key(member.key) AS is_pii,
                member.value
            FROM pg_catalog.jsonb_each(
                CASE WHEN pg_catalog.jsonb_typeof(node.value) OPERATOR(pg_catalog.=) 'object' THEN node.value END
            ) WITH ORDINALITY AS member (key, value, ordinal)
            UNION ALL
            SELECT
                '[' OPERATOR(pg_catalog.||) (element.ordinal OPERATOR(pg_catalog.-) 1)::pg_catalog.text
                OPERATOR(pg_catalog.||) ']',
                element.ordinal::pg_catalog.int4,
                FALSE,
                element.value
            FROM pg_catalog.jsonb_array_elements(
                CASE WHEN pg_catalog.jsonb_typeof(node.value) OPERATOR(pg_catalog.=) 'array' THEN node.value END
            ) WITH ORDINALITY AS element (value, ordinal)
        ) AS child
        WHERE pg_catalog.jsonb_typeof(node.value) OPERATOR(pg_catalog.=) ANY(ARRAY['object', 'array'])
    )

    SELECT node.path, node.sort_key
    FROM node
    WHERE node.is_pii
$$;

-- The walk of 202511131403 with qualified names and the normalised comparison. It copies
-- each value once per level above it: bounded by the size and depth limits on raw_payload.
CREATE OR REPLACE FUNCTION pii_key_paths(payload jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(
        pg_catalog.array_agg(walk.path ORDER BY walk.sort_key), ARRAY[]::pg_catalog.text[]
    )
    FROM public.pii_key_walk(payload) AS walk
$$;

-- The first max_paths offending paths, breadth first (key order inside an object); stops
-- walking once it has them.
CREATE FUNCTION pii_key_paths(payload jsonb, max_paths integer) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(pg_catalog.array_agg(first.path), ARRAY[]::pg_catalog.text[])
    FROM (SELECT walk.path FROM public.pii_key_walk(payload) AS walk LIMIT max_paths) AS first
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

COMMENT ON FUNCTION pii_ignorable_pattern() IS
'Regular-expression bracket of the Unicode default-ignorable code points (zero-width, '
'format, bidi, variation selectors, tags) that PII key matching removes.';
COMMENT ON FUNCTION pii_normalize_key(text) IS
'A key as PII matching sees it: NFKC, default-ignorable code points removed, ASCII lower case.';
COMMENT ON FUNCTION is_pii_key(text) IS
'True when the key, normalised by pii_normalize_key (NFKC, ignorables removed, lower case), '
'is in pii_keys(): the one comparison rule of the PII guard.';
COMMENT ON FUNCTION pii_key_text(jsonb) IS
'The jsonb text with string delimiters as chr(3) (escapes as chr(1)/chr(2)), normalised like '
'pii_normalize_key: one linear pass that has_pii_key and pii_key_count scan.';
COMMENT ON FUNCTION pii_key_pattern() IS
'Regular expression matching a PII key (pii_keys()) between chr(3) delimiters and followed '
'by a colon in pii_key_text: only an object key can match it.';
COMMENT ON FUNCTION pii_key_ascii_pattern() IS
'Regular expression matching a PII key (pii_keys()) as an object key in ASCII-only jsonb '
'text: an unescaped quote, the key, then the colon jsonb prints after keys only.';
COMMENT ON FUNCTION has_pii_key(jsonb) IS
'True when some object key of the value, at any depth and inside arrays, is a PII key '
'(is_pii_key). Linear scans of the text (no NFKC for ASCII-only text); inlined into the '
'trigger WHEN clause.';
COMMENT ON FUNCTION pii_key_count(jsonb) IS
'Number of object keys of the value that are PII keys (is_pii_key); linear in size.';
COMMENT ON FUNCTION pii_paths_shown() IS
'How many offending key paths the PII guard names in its error (20); the rest are counted.';
COMMENT ON FUNCTION pii_key_walk(jsonb) IS
'Rows (path, sort_key) of every object key that is a PII key, breadth first: the walk behind '
'pii_key_paths. Bounded by the raw_payload size and depth limits on stored rows.';
COMMENT ON FUNCTION pii_key_paths(jsonb) IS
'Paths ($.a.b[0].c) of every object key, at any depth and inside arrays, that is a PII key '
'(is_pii_key), in jsonb key order; empty when there is none. Never returns values.';
COMMENT ON FUNCTION pii_key_paths(jsonb, integer) IS
'The first max_paths paths of PII keys (breadth first), stopping the walk there; the PII '
'guard names these and counts the rest with pii_key_count.';
COMMENT ON FUNCTION reject_pii_in_raw_payload() IS
'Trigger function: rejects a row whose raw_payload holds a PII key (has_pii_key) with '
'23514 naming the first pii_paths_shown() key paths and the count of the rest, never values.';

-- Prototype (NOT a migration): bind app.current_tenant_id to a proof the server verifies and
-- the application role cannot forge. Evaluated in docs/decisions/0002-tenant-proof.md.
-- Run as the owner (superuser or BYPASSRLS) on a scratch database; toggle with
-- tenant_proof_on.sql / tenant_proof_off.sql.
--
--   proof = hex(HMAC-SHA256(key, tenant_id || ':' || nonce)),
--   nonce = pg_backend_pid() || ':' || transaction start in microseconds (now()),
-- so a proof is valid for one tenant in one transaction of one backend: a proof read from
-- pg_stat_activity, a log or current_setting() of another transaction is useless.
-- The key lives in tenant_proof_key (owner only, RLS on, no grant); the application holds
-- a copy outside the database and computes the proof itself.
CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- trusted on PG15: a database owner may create it

CREATE TABLE tenant_proof_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret bytea NOT NULL CHECK (octet_length(secret) >= 32)
);
ALTER TABLE tenant_proof_key ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON tenant_proof_key FROM PUBLIC;
INSERT INTO tenant_proof_key (secret) VALUES (gen_random_bytes(32));

-- The nonce of this transaction, for the application to sign (one extra round trip).
CREATE FUNCTION tenant_proof_nonce() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$ SELECT pg_backend_pid()::text || ':' || (extract(EPOCH FROM now()) * 1000000)::bigint::text $$;

-- The verifier: STABLE (never IMMUTABLE: a folded constant would survive in a cached
-- generic plan into later transactions), SECURITY DEFINER to read the key.
-- Missing or wrong proof -> 42501; no tenant -> 42704 (like the documented policy).
CREATE FUNCTION tenant_proof_ok() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    claimed text := current_setting('app.current_tenant_id');
    proof text := current_setting('app.tenant_proof', true);
    k bytea;
BEGIN
    SELECT secret INTO k FROM tenant_proof_key;
    IF k IS NULL OR proof IS NULL OR proof = ''
       OR proof <> encode(hmac(convert_to(claimed || ':' || tenant_proof_nonce(), 'UTF8'), k, 'sha256'), 'hex') THEN
        RAISE EXCEPTION 'no valid tenant proof for tenant % in this transaction', claimed
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION tenant_proof_ok() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_proof_ok(), tenant_proof_nonce() TO app_rw, app_ro;

-- BENCHMARK ONLY: lets the pgbench login obtain a proof without holding the key. In a
-- deployment the application computes the proof; nothing in the database may issue one to
-- the application role, or injected SQL could ask for any tenant's proof.
CREATE FUNCTION bench_issue_proof(tenant text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$ SELECT encode(hmac(convert_to(tenant || ':' || tenant_proof_nonce(), 'UTF8'), (SELECT secret FROM tenant_proof_key), 'sha256'), 'hex') $$;
REVOKE ALL ON FUNCTION bench_issue_proof(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bench_issue_proof(text) TO app_ro;

-- Add the RESTRICTIVE proof policy to every tenant-scoped table, and the proof to the
-- tenant-scoped read views (the materialized views carry no RLS, so a policy cannot reach them).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['attribution_events', 'dead_events', 'attribution_allocations',
                             'revenue_ledger', 'reconciliation_runs'] LOOP
        EXECUTE format('CREATE POLICY tenant_proof_policy ON %I AS RESTRICTIVE FOR ALL '
                       'USING ((SELECT tenant_proof_ok())) WITH CHECK ((SELECT tenant_proof_ok()))', t);
    END LOOP;
END $$;
CREATE OR REPLACE VIEW v_realtime_revenue_current_tenant WITH (security_barrier = true) AS
SELECT tenant_id, total_revenue, verified, data_freshness_seconds
FROM mv_realtime_revenue
WHERE tenant_id = current_setting('app.current_tenant_id')::uuid AND (SELECT tenant_proof_ok());

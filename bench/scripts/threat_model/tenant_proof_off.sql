DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['attribution_events', 'dead_events', 'attribution_allocations',
                             'revenue_ledger', 'reconciliation_runs'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_proof_policy ON %I', t);
    END LOOP;
END $$;
CREATE OR REPLACE VIEW v_realtime_revenue_current_tenant WITH (security_barrier = true) AS
SELECT tenant_id, total_revenue, verified, data_freshness_seconds
FROM mv_realtime_revenue
WHERE tenant_id = current_setting('app.current_tenant_id')::uuid;

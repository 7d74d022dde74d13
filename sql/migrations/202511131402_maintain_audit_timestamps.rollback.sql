-- Roll back 202511131402_maintain_audit_timestamps: drop the five triggers and their
-- function; updated_at and created_at are again set by their defaults only.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TRIGGER trg_reconciliation_runs_audit_timestamps ON reconciliation_runs;
DROP TRIGGER trg_revenue_ledger_audit_timestamps ON revenue_ledger;
DROP TRIGGER trg_attribution_allocations_audit_timestamps ON attribution_allocations;
DROP TRIGGER trg_attribution_events_audit_timestamps ON attribution_events;
DROP TRIGGER trg_tenants_audit_timestamps ON tenants;

DROP FUNCTION maintain_audit_timestamps();

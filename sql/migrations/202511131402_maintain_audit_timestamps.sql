-- Make updated_at and created_at mean what they say (decision 9). The dictionary calls both
-- "audit trail", but only defaults set them, so an UPDATE left updated_at stale and could
-- rewrite created_at. One BEFORE UPDATE trigger per table that has them (tenants,
-- attribution_events, attribution_allocations, revenue_ledger, reconciliation_runs):
--   * updated_at is set to now() on every UPDATE, whatever the statement wrote into it.
--     now() (the transaction's start time), not clock_timestamp(): it is the clock the
--     column defaults use, so a row inserted and updated in one transaction keeps
--     updated_at = created_at, updated_at never precedes created_at, and every row one
--     transaction touches carries the same time.
--   * created_at is immutable: an UPDATE that changes it is rejected with SQLSTATE 23514
--     (check_violation) naming the table and column. Rejecting, not silently keeping the old
--     value, so that a writer with a bug hears about it; writing the same value is allowed
--     (ORMs that write back every column keep working).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION maintain_audit_timestamps() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION '%.created_at is immutable: it cannot be changed by UPDATE', TG_TABLE_NAME
            USING ERRCODE = 'check_violation',
                SCHEMA = TG_TABLE_SCHEMA,
                TABLE = TG_TABLE_NAME,
                COLUMN = 'created_at',
                CONSTRAINT = TG_NAME,
                HINT = 'Leave created_at out of the UPDATE.';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_tenants_audit_timestamps
BEFORE UPDATE ON tenants
FOR EACH ROW EXECUTE FUNCTION maintain_audit_timestamps();

CREATE TRIGGER trg_attribution_events_audit_timestamps
BEFORE UPDATE ON attribution_events
FOR EACH ROW EXECUTE FUNCTION maintain_audit_timestamps();

CREATE TRIGGER trg_attribution_allocations_audit_timestamps
BEFORE UPDATE ON attribution_allocations
FOR EACH ROW EXECUTE FUNCTION maintain_audit_timestamps();

CREATE TRIGGER trg_revenue_ledger_audit_timestamps
BEFORE UPDATE ON revenue_ledger
FOR EACH ROW EXECUTE FUNCTION maintain_audit_timestamps();

CREATE TRIGGER trg_reconciliation_runs_audit_timestamps
BEFORE UPDATE ON reconciliation_runs
FOR EACH ROW EXECUTE FUNCTION maintain_audit_timestamps();

COMMENT ON FUNCTION maintain_audit_timestamps() IS
'Trigger function (BEFORE UPDATE, for each row): sets updated_at to now() (transaction time, '
'the clock of the column defaults) and rejects a change of created_at with 23514.';
COMMENT ON TRIGGER trg_tenants_audit_timestamps ON tenants IS
'Sets updated_at on every UPDATE; created_at cannot change (maintain_audit_timestamps).';
COMMENT ON TRIGGER trg_attribution_events_audit_timestamps ON attribution_events IS
'Sets updated_at on every UPDATE; created_at cannot change (maintain_audit_timestamps).';
COMMENT ON TRIGGER trg_attribution_allocations_audit_timestamps ON attribution_allocations IS
'Sets updated_at on every UPDATE; created_at cannot change (maintain_audit_timestamps).';
COMMENT ON TRIGGER trg_revenue_ledger_audit_timestamps ON revenue_ledger IS
'Sets updated_at on every UPDATE; created_at cannot change (maintain_audit_timestamps).';
COMMENT ON TRIGGER trg_reconciliation_runs_audit_timestamps ON reconciliation_runs IS
'Sets updated_at on every UPDATE; created_at cannot change (maintain_audit_timestamps).';

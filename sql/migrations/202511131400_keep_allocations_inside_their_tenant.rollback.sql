-- Roll back 202511131400_keep_allocations_inside_their_tenant: drop the composite foreign
-- key, its index and the unique key it referenced; the documented objects are untouched.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE attribution_allocations
DROP CONSTRAINT fk_attribution_allocations_tenant_event;

DROP INDEX idx_attribution_allocations_tenant_event_id;

ALTER TABLE attribution_events
DROP CONSTRAINT uq_attribution_events_tenant_id_id;

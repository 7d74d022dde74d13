-- Keep every allocation inside its event's tenant (decision 9: integrity beyond the
-- dictionary). The documented attribution_allocations_event_id_fkey checks event_id alone,
-- and foreign-key checks ignore row-level security, so an allocation could point at another
-- tenant's event whose id is known. A composite foreign key on (tenant_id, event_id) closes
-- that; it needs a unique key on attribution_events (tenant_id, id) to reference, and an
-- index leading with (tenant_id, event_id) so cascades never scan the table. The documented
-- foreign key, its name and its ON DELETE CASCADE stay exactly as they are.
-- Locking: the foreign key is added NOT VALID (a brief lock, no scan) and validated by
-- 202511131405 in a transaction of its own, which blocks no writes. The two index builds
-- block writes to their table while they run (seconds on the tables of this release); on a
-- large live table, run this migration in a quiet window.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX uq_attribution_events_tenant_id_id ON attribution_events (tenant_id, id);

ALTER TABLE attribution_events
ADD CONSTRAINT uq_attribution_events_tenant_id_id
UNIQUE USING INDEX uq_attribution_events_tenant_id_id;

-- squawk-ignore require-concurrent-index-creation
CREATE INDEX idx_attribution_allocations_tenant_event_id
ON attribution_allocations (tenant_id, event_id);

ALTER TABLE attribution_allocations
ADD CONSTRAINT fk_attribution_allocations_tenant_event
FOREIGN KEY (tenant_id, event_id)
REFERENCES attribution_events (tenant_id, id) ON DELETE CASCADE
NOT VALID;

COMMENT ON CONSTRAINT uq_attribution_events_tenant_id_id ON attribution_events IS
'Unique (tenant_id, id): the target of fk_attribution_allocations_tenant_event. id alone is '
'already unique; this key exists so that references can include the tenant.';
COMMENT ON INDEX uq_attribution_events_tenant_id_id IS
'Index behind uq_attribution_events_tenant_id_id (tenant_id, id).';
COMMENT ON INDEX idx_attribution_allocations_tenant_event_id IS
'Index on (tenant_id, event_id) for fk_attribution_allocations_tenant_event lookups '
'and cascades.';
COMMENT ON CONSTRAINT fk_attribution_allocations_tenant_event ON attribution_allocations IS
'(tenant_id, event_id) references attribution_events (tenant_id, id): an allocation can only '
'credit an event of its own tenant (23503 otherwise, for every role, since foreign-key checks '
'ignore row-level security). Deleting the event deletes its allocations, as documented.';

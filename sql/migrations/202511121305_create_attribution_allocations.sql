-- Create attribution_allocations: the channel credit an attribution model assigns to each
-- event (B0.3 data dictionary, "attribution_allocations"). Deleting an event deletes its
-- allocations; deleting a tenant deletes both.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE attribution_allocations (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    event_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    channel text NOT NULL,
    allocated_revenue_cents integer NOT NULL DEFAULT 0,
    model_metadata jsonb,
    correlation_id uuid,
    CONSTRAINT attribution_allocations_pkey PRIMARY KEY (id),
    CONSTRAINT attribution_allocations_tenant_id_fkey FOREIGN KEY (tenant_id)
    REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT attribution_allocations_event_id_fkey FOREIGN KEY (event_id)
    REFERENCES attribution_events (id) ON DELETE CASCADE,
    CONSTRAINT ck_attribution_allocations_revenue_positive
    CHECK (allocated_revenue_cents >= 0)
);

CREATE INDEX idx_attribution_allocations_tenant_created_at
ON attribution_allocations (tenant_id, created_at DESC);

CREATE INDEX idx_attribution_allocations_event_id
ON attribution_allocations (event_id);

CREATE INDEX idx_attribution_allocations_channel
ON attribution_allocations (channel);

COMMENT ON TABLE attribution_allocations IS
'Store attribution model allocations (channel credit assignments).
Data Class: Non-PII
Ownership: Attribution service
Contract Mapping: Supports attribution calculations and channel performance queries';
COMMENT ON COLUMN attribution_allocations.id IS
'Primary key UUID. Unique allocation identifier.';
COMMENT ON COLUMN attribution_allocations.tenant_id IS
'Foreign key to tenants table. Tenant isolation.';
COMMENT ON COLUMN attribution_allocations.event_id IS
'Foreign key to attribution_events table. Link allocation to source event.';
COMMENT ON COLUMN attribution_allocations.created_at IS
'Record creation timestamp. Audit trail.';
COMMENT ON COLUMN attribution_allocations.updated_at IS
'Record update timestamp. Audit trail.';
COMMENT ON COLUMN attribution_allocations.channel IS
'Channel identifier (e.g., google_search, facebook_ads). Identify attribution channel.';
COMMENT ON COLUMN attribution_allocations.allocated_revenue_cents IS
'Allocated revenue amount in cents (INTEGER). Store channel credit amount.';
COMMENT ON COLUMN attribution_allocations.model_metadata IS
'Attribution model metadata (JSONB). Store model-specific data '
'(e.g., convergence_r_hat, effective_sample_size).';
COMMENT ON COLUMN attribution_allocations.correlation_id IS
'Correlation ID from X-Correlation-ID header. Distributed tracing and event stitching '
'across tables. Links attribution_allocations, attribution_events, and dead_events.';
COMMENT ON CONSTRAINT attribution_allocations_pkey ON attribution_allocations IS
'Primary key on id.';
COMMENT ON CONSTRAINT attribution_allocations_tenant_id_fkey ON attribution_allocations IS
'tenant_id references tenants(id); deleting a tenant deletes its allocations.';
COMMENT ON CONSTRAINT attribution_allocations_event_id_fkey ON attribution_allocations IS
'event_id references attribution_events(id); deleting an event deletes its allocations.';
COMMENT ON CONSTRAINT ck_attribution_allocations_revenue_positive
ON attribution_allocations IS 'Ensures allocated_revenue_cents >= 0.';
COMMENT ON INDEX idx_attribution_allocations_tenant_created_at IS
'Composite index on (tenant_id, created_at DESC) for time-series queries.';
COMMENT ON INDEX idx_attribution_allocations_event_id IS
'Index on event_id for event-to-allocation joins.';
COMMENT ON INDEX idx_attribution_allocations_channel IS
'Index on channel for channel performance queries.';

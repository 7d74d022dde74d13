-- Create dead_events: the dead-letter queue for webhook payloads that could not be parsed
-- or validated (B0.3 data dictionary, "dead_events"). Operators triage it by tenant and
-- time, by source system and by error code.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE dead_events (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    source text NOT NULL,
    error_code text NOT NULL,
    error_detail jsonb NOT NULL,
    raw_payload jsonb NOT NULL,
    correlation_id uuid,
    external_event_id text,
    CONSTRAINT dead_events_pkey PRIMARY KEY (id),
    CONSTRAINT dead_events_tenant_id_fkey FOREIGN KEY (tenant_id)
    REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE INDEX idx_dead_events_tenant_ingested_at
ON dead_events (tenant_id, ingested_at DESC);

CREATE INDEX idx_dead_events_source ON dead_events (source);

CREATE INDEX idx_dead_events_error_code ON dead_events (error_code);

COMMENT ON TABLE dead_events IS
'Dead-letter queue for invalid/unparseable webhook payloads.
Data Class: Non-PII (PII stripped from raw_payload before persistence)
Ownership: Ingestion service
Contract Mapping: Supports error handling for webhook ingestion failures';
COMMENT ON COLUMN dead_events.id IS 'Primary key UUID. Unique dead event identifier.';
COMMENT ON COLUMN dead_events.tenant_id IS 'Foreign key to tenants table. Tenant isolation.';
COMMENT ON COLUMN dead_events.ingested_at IS
'Timestamp when failure occurred. Failure time tracking.';
COMMENT ON COLUMN dead_events.source IS
'Source system identifier (e.g., shopify, stripe, paypal, woocommerce). '
'Identify source of failed payload.';
COMMENT ON COLUMN dead_events.error_code IS
'Error classification code. Categorize failure types.';
COMMENT ON COLUMN dead_events.error_detail IS
'Structured error information (JSONB). Store detailed error context for debugging.';
COMMENT ON COLUMN dead_events.raw_payload IS
'Raw webhook payload that failed (JSONB). Store original payload for analysis. '
'PII stripped before persistence per PRIVACY-NOTES.md.';
COMMENT ON COLUMN dead_events.correlation_id IS
'Correlation ID from X-Correlation-ID header. Distributed tracing and event stitching '
'across tables. Links dead_events, attribution_events, and future attribution_allocations.';
COMMENT ON COLUMN dead_events.external_event_id IS
'External event ID when known (e.g., Shopify order ID). Link to source system event.';
COMMENT ON CONSTRAINT dead_events_pkey ON dead_events IS 'Primary key on id.';
COMMENT ON CONSTRAINT dead_events_tenant_id_fkey ON dead_events IS
'tenant_id references tenants(id); deleting a tenant deletes its dead events.';
COMMENT ON INDEX idx_dead_events_tenant_ingested_at IS
'Composite index on (tenant_id, ingested_at DESC) for operator triage queries.';
COMMENT ON INDEX idx_dead_events_source IS
'Index on source for filtering by source system.';
COMMENT ON INDEX idx_dead_events_error_code IS
'Index on error_code for error analysis queries.';

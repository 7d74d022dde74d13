-- Create attribution_events: webhook events (Shopify, Stripe, PayPal, WooCommerce) that
-- carry revenue into attribution (B0.3 data dictionary, "attribution_events").
-- Idempotency: one event per (tenant_id, external_event_id) when the source gives an id;
-- otherwise one per (tenant_id, correlation_id). Both are partial unique indexes, so
-- writers use INSERT ... ON CONFLICT (cols) WHERE <predicate> DO NOTHING.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE attribution_events (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    occurred_at timestamptz NOT NULL,
    external_event_id text,
    correlation_id uuid,
    session_id uuid,
    revenue_cents integer NOT NULL DEFAULT 0,
    raw_payload jsonb NOT NULL,
    CONSTRAINT attribution_events_pkey PRIMARY KEY (id),
    CONSTRAINT attribution_events_tenant_id_fkey FOREIGN KEY (tenant_id)
    REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT ck_attribution_events_revenue_positive CHECK (revenue_cents >= 0)
);

CREATE UNIQUE INDEX idx_attribution_events_tenant_external_event_id
ON attribution_events (tenant_id, external_event_id)
WHERE external_event_id IS NOT NULL;

CREATE UNIQUE INDEX idx_attribution_events_tenant_correlation_id
ON attribution_events (tenant_id, correlation_id)
WHERE correlation_id IS NOT NULL AND external_event_id IS NULL;

CREATE INDEX idx_attribution_events_tenant_occurred_at
ON attribution_events (tenant_id, occurred_at DESC);

CREATE INDEX idx_attribution_events_session_id
ON attribution_events (session_id)
WHERE session_id IS NOT NULL;

COMMENT ON TABLE attribution_events IS
'Store attribution events for revenue tracking and attribution calculations.
Data Class: Non-PII (PII stripped from raw_payload before persistence)
Ownership: Attribution service
Contract Mapping: Supports webhook ingestion endpoints (shopify, stripe, paypal, woocommerce)';
COMMENT ON COLUMN attribution_events.id IS 'Primary key UUID. Unique event identifier.';
COMMENT ON COLUMN attribution_events.tenant_id IS
'Foreign key to tenants table. Tenant isolation.';
COMMENT ON COLUMN attribution_events.created_at IS 'Record creation timestamp. Audit trail.';
COMMENT ON COLUMN attribution_events.updated_at IS 'Record update timestamp. Audit trail.';
COMMENT ON COLUMN attribution_events.occurred_at IS
'Domain-specific event timestamp (when event occurred). Business logic timestamping.';
COMMENT ON COLUMN attribution_events.external_event_id IS
'External event ID from source system (e.g., Shopify order ID, PayPal transaction ID). '
'Idempotency key.';
COMMENT ON COLUMN attribution_events.correlation_id IS
'Correlation ID from X-Correlation-ID header. Distributed tracing and event stitching '
'across tables. Links attribution_events, dead_events, and future attribution_allocations.';
COMMENT ON COLUMN attribution_events.session_id IS
'Session identifier for session-scoped events (30-minute inactivity timeout). '
'Session grouping.';
COMMENT ON COLUMN attribution_events.revenue_cents IS
'Revenue amount in cents (INTEGER). Store revenue for attribution calculations. '
'Contract mapping: total_revenue (number float) → revenue_cents (integer).';
COMMENT ON COLUMN attribution_events.raw_payload IS
'Raw webhook payload (JSONB). Store original event data. PII stripped before persistence '
'per PRIVACY-NOTES.md.';
COMMENT ON CONSTRAINT attribution_events_pkey ON attribution_events IS 'Primary key on id.';
COMMENT ON CONSTRAINT attribution_events_tenant_id_fkey ON attribution_events IS
'tenant_id references tenants(id); deleting a tenant deletes its events.';
COMMENT ON CONSTRAINT ck_attribution_events_revenue_positive ON attribution_events IS
'Ensures revenue_cents >= 0.';
COMMENT ON INDEX idx_attribution_events_tenant_external_event_id IS
'Idempotency: unique (tenant_id, external_event_id) where external_event_id is not null.';
COMMENT ON INDEX idx_attribution_events_tenant_correlation_id IS
'Idempotency fallback: unique (tenant_id, correlation_id) where correlation_id is not null '
'and external_event_id is null.';
COMMENT ON INDEX idx_attribution_events_tenant_occurred_at IS
'Composite index on (tenant_id, occurred_at DESC) for time-series queries.';
COMMENT ON INDEX idx_attribution_events_session_id IS
'Index on session_id for session-scoped queries (partial: where session_id is not null).';

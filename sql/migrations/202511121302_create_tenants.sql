-- Create tenants: the root of multi-tenant isolation (B0.3 data dictionary, "tenants").
-- Every tenant-scoped table references tenants(id) with ON DELETE CASCADE. Provisioning
-- tenants is the owner's task: the application roles get no grant on this table.
-- ck_tenants_name_not_empty rejects empty and whitespace-only names (DESIGN decision 1).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE tenants (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name varchar(255) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT ck_tenants_name_not_empty CHECK (name ~ '[^[:space:]]')
);

CREATE INDEX idx_tenants_name ON tenants (name);

COMMENT ON TABLE tenants IS
'Store tenant information for multi-tenant isolation.
Data Class: Non-PII
Ownership: Backend service';
COMMENT ON COLUMN tenants.id IS 'Primary key UUID. Unique tenant identifier.';
COMMENT ON COLUMN tenants.name IS 'Tenant name. Human-readable tenant identification.';
COMMENT ON COLUMN tenants.created_at IS 'Record creation timestamp. Audit trail.';
COMMENT ON COLUMN tenants.updated_at IS 'Record update timestamp. Audit trail.';
COMMENT ON CONSTRAINT tenants_pkey ON tenants IS 'Primary key on id.';
COMMENT ON CONSTRAINT ck_tenants_name_not_empty ON tenants IS
'Ensures tenant name is not empty (nor whitespace only).';
COMMENT ON INDEX idx_tenants_name IS 'Index on tenant name for fast tenant lookup.';

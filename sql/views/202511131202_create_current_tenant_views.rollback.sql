-- Roll back 202511131202_create_current_tenant_views: drop the two tenant-scoped views.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP VIEW v_reconciliation_status_current_tenant;
DROP VIEW v_realtime_revenue_current_tenant;

-- Roll back 202511121303_create_attribution_events: drop the table, its indexes and
-- constraints. Fails (and changes nothing) while attribution_allocations references it.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE attribution_events;

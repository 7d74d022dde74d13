-- Roll back 202611281300_limit_raw_payload_size_and_depth: drop the two limit triggers and
-- their four functions; raw_payload is again unbounded.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TRIGGER trg_dead_events_limit_raw_payload ON dead_events;
DROP TRIGGER trg_attribution_events_limit_raw_payload ON attribution_events;

DROP FUNCTION reject_oversized_raw_payload();
DROP FUNCTION raw_payload_within_limits(jsonb);
DROP FUNCTION raw_payload_max_depth();
DROP FUNCTION raw_payload_max_bytes();

-- Roll back 202511131403_guard_payloads_against_pii: drop the two triggers and the five
-- functions; raw payloads are again unchecked.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TRIGGER trg_dead_events_reject_pii ON dead_events;
DROP TRIGGER trg_attribution_events_reject_pii ON attribution_events;

DROP FUNCTION reject_pii_in_raw_payload();
DROP FUNCTION pii_key_paths(jsonb);
DROP FUNCTION has_pii_key(jsonb);
DROP FUNCTION is_pii_key(text);
DROP FUNCTION pii_keys();

-- Roll back 202511121304_create_dead_events: drop the table with its indexes.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP TABLE dead_events;

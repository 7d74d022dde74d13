-- Roll back 202612071603_backfill_rollups: nothing to undo. The rows it appended are the
-- rollups' own data, exact with or without this record of them; rolling back 202612071602
-- and 202612071600-1601 removes them with their tables, and applying it again appends
-- nothing while the rollups are exact.

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

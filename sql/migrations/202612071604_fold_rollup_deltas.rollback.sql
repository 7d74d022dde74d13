-- Roll back 202612071604_fold_rollup_deltas: drop fold_rollups() and its bookkeeping table
-- (the deltas stay; readers add them, so the rollups stay exact, only unfolded).

SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

DROP FUNCTION fold_rollups();
DROP TABLE rollup_folds;

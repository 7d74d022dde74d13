"""Measure the rollup maintenance designs of decision 0005 against each other (issue 11).

    .venv/bin/python bench/rollup_alternatives.py [SECONDS]     (default 3 per configuration)

Uses DATABASE_URL when set, else the project's local server (`make db-start`, honouring
ATTRIBUTION_DB_PORT). Creates a throwaway database, migrates it, gives one tenant 1,000
events, then for each design ingests allocations as app_rw into that one tenant (one day;
single-row transactions all credit one channel, batched ones all four: the hot groups), single-row and batched (250 rows per transaction), with 1 and
4 writers, each configuration for SECONDS, 3 rounds in rotating order (medians). Designs, swapped in by replacing the trigger
function of the allocations (the shipped one is restored in between):

- ``delta``: as shipped, statement triggers append pre-aggregated rows to the delta table;
- ``upsert``: statement triggers upsert straight into rollup_channel_daily (no delta, no
  fold): writers of one tenant and day queue on the same rollup row until commit;
- ``none``: the rollup triggers disabled (the ceiling).

Prints rows/s per configuration and the ratio to ``none``; the database is dropped at the end.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
import uuid

import psycopg

from attribution_db import dburl, targets
from attribution_db.migrate import Migrator

UPSERT = """
CREATE OR REPLACE FUNCTION rollup_allocations_delta() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO rollup_channel_daily AS r (tenant_id, utc_day, channel, allocations, allocated_revenue_cents)
        SELECT n.tenant_id, (n.created_at AT TIME ZONE 'UTC')::date, n.channel, count(*), sum(n.allocated_revenue_cents)
        FROM new_rows AS n GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (tenant_id, utc_day, channel) DO UPDATE
        SET allocations = r.allocations + excluded.allocations,
            allocated_revenue_cents = r.allocated_revenue_cents + excluded.allocated_revenue_cents;
    END IF;
    RETURN NULL;
END;
$$
"""
TRIGGER = "trg_attribution_allocations_rollup_insert"
DESIGNS = ("delta", "upsert", "none")
ROUNDS = 3
CHANNELS = ("google_search", "facebook_ads", "email", "direct")
INSERT = (
    "INSERT INTO attribution_allocations (tenant_id, event_id, channel, allocated_revenue_cents) "
    "SELECT %s, e, c, 100 FROM unnest(%s::uuid[], %s::text[]) AS u (e, c)"
)


def ingest(url: str, tenant, events: list, per_tx: int, writers: int, seconds: float) -> float:
    done = [0] * writers
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            with psycopg.connect(url) as conn:
                i = k
                while not stop.is_set():
                    ev = [events[(i + j) % len(events)] for j in range(per_tx)]
                    # single-row: every writer credits the same channel (the tenant's hottest group);
                    # batched: every transaction touches all four channels of the day
                    ch = [CHANNELS[(i + j) % len(CHANNELS)] if per_tx > 1 else CHANNELS[0] for j in range(per_tx)]
                    with conn.transaction():
                        conn.execute("SELECT set_config('role', 'app_rw', true), "
                                     "set_config('app.current_tenant_id', %s, true)", (str(tenant),))  # fmt: skip
                        conn.execute(INSERT, (tenant, ev, ch))
                    done[k] += per_tx
                    i += per_tx
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(done) / (time.perf_counter() - t0)


def main(seconds: float) -> None:
    server = targets.target()
    dbname = f"rollup_alternatives_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    url = dburl.with_dbname(server, dbname)
    try:
        Migrator(url).apply(report=lambda line: None)
        with psycopg.connect(url, autocommit=True) as conn:
            shipped = conn.execute("SELECT pg_get_functiondef('rollup_allocations_delta()'::regprocedure)").fetchone()[0]
            tenant = conn.execute("INSERT INTO tenants (name) VALUES ('alt') RETURNING id").fetchone()[0]
            events = [r[0] for r in conn.execute(
                "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload) "
                "SELECT %s, now(), '{}' FROM generate_series(1, 1000) RETURNING id", (tenant,))]  # fmt: skip
            results: dict = {}
            for per_tx, mode in ((1, "single"), (250, "batch")):
                for writers in (1, 4):
                    runs: dict = {d: [] for d in DESIGNS}
                    for r in range(ROUNDS):  # the order rotates each round: no design always runs first
                        for design in DESIGNS[r % 3:] + DESIGNS[:r % 3]:
                            conn.execute(shipped)
                            conn.execute(f"ALTER TABLE attribution_allocations ENABLE TRIGGER {TRIGGER}")
                            if design == "upsert":
                                conn.execute(UPSERT)
                            elif design == "none":
                                conn.execute(f"ALTER TABLE attribution_allocations DISABLE TRIGGER {TRIGGER}")
                            runs[design].append(ingest(url, tenant, events, per_tx, writers, seconds))
                    row = {d: statistics.median(v) for d, v in runs.items()}
                    conn.execute(shipped)
                    conn.execute(f"ALTER TABLE attribution_allocations ENABLE TRIGGER {TRIGGER}")
                    results[(mode, writers)] = row
                    print(f"{mode:<6} {writers} writer(s): " + ", ".join(
                        f"{d} {v:,.0f} rows/s ({v / row['none']:.2f}x)" for d, v in row.items()), flush=True)  # fmt: skip
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)

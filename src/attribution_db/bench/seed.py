"""Set-based seeding of a benchmark database: skewed tenants, every tenant-scoped table.

Runs as the database owner (a superuser bypasses RLS) with plain INSERT ... SELECT over
generate_series: every index, constraint and trigger of the schema stays in place and is
paid for (no session_replication_role, no dropped indexes). Proportions per tenant:

* tenant sizes follow Zipf (s = 1) over 1,000 tenants: the largest holds ~13% of the events,
  the median ~0.03%, the smallest ~0.013% (at least one event each);
* 2 or 3 allocations per event (2.5 on average), written with their event;
* dead events 2% of the tenant's events, ledger rows 20%, reconciliation runs 1%
  (each at least one per tenant, so every tenant has a row in every table and both views);
* a year of history ending at the seed's anchor time, inserted in time order across tenants
  (the heap is ordered like a live system's, not clustered by tenant).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg

TENANTS = 1000
ZIPF_S = 1.0
SPAN = timedelta(days=365)


@dataclass(frozen=True)
class Scale:
    name: str
    events: int
    chunks: int  # events are inserted in this many time slices (progress and commit points)
    samples: int  # timed executions per path, tenant and mode
    ingest_rows: int  # rows per ingestion mode


SCALES = {
    "small": Scale("small", 10_000, 1, 100, 400),
    "medium": Scale("medium", 1_000_000, 8, 200, 2000),
    "large": Scale("large", 10_000_000, 40, 200, 2000),
}

CHANNELS = "ARRAY['google_search','facebook_ads','email','direct','organic_search','tiktok_ads','affiliate','referral']"

TENANT_SIZES_SQL = """
CREATE TEMP TABLE bench_tenants ON COMMIT PRESERVE ROWS AS
WITH ranked AS (
    SELECT
        i AS rank,
        (1.0 / power(i, %(s)s)) / sum(1.0 / power(i, %(s)s)) OVER () AS share
    FROM generate_series(1, %(tenants)s) AS i
),
made AS (
    INSERT INTO tenants (name)
    SELECT format('bench tenant %%s', rank) FROM ranked ORDER BY rank
    RETURNING id, name
)
SELECT
    r.rank,
    m.id AS tenant_id,
    greatest(1, round(%(events)s * r.share))::int AS n_events,
    greatest(1, round(%(events)s * r.share * 0.02))::int AS n_dead,
    greatest(1, round(%(events)s * r.share * 0.20))::int AS n_ledger,
    greatest(1, round(%(events)s * r.share * 0.01))::int AS n_runs
FROM ranked AS r
JOIN made AS m ON m.name = format('bench tenant %%s', r.rank)
"""

EVENTS_SQL = f"""
WITH slice AS (
    SELECT
        t.rank,
        t.tenant_id,
        g,
        %(anchor)s - %(span)s
        + %(span)s * ((g - 0.5 + (random() - 0.5) * 0.8) / t.n_events) AS occurred_at,
        (random() * 20000)::int AS revenue_cents
    FROM bench_tenants AS t
    CROSS JOIN LATERAL generate_series(
        (t.n_events::bigint * %(k)s / %(chunks)s)::int + 1,
        (t.n_events::bigint * (%(k)s + 1) / %(chunks)s)::int
    ) AS g
),
ev AS (
    INSERT INTO attribution_events (
        tenant_id, created_at, updated_at, occurred_at, external_event_id, correlation_id,
        session_id, revenue_cents, raw_payload
    )
    SELECT
        tenant_id,
        occurred_at + interval '2 seconds',
        occurred_at + interval '2 seconds',
        occurred_at,
        CASE WHEN g %% 33 <> 0 THEN format('ext-%%s-%%s', rank, g) END,
        gen_random_uuid(),
        md5(format('session-%%s-%%s', rank, g / 3))::uuid,
        revenue_cents,
        jsonb_build_object(
            'source', (ARRAY['shopify', 'stripe', 'paypal', 'woocommerce'])[1 + g %% 4],
            'order', g, 'currency', 'USD', 'amount_cents', revenue_cents
        )
    FROM slice
    ORDER BY occurred_at
    RETURNING id, tenant_id, created_at, revenue_cents, correlation_id
)
INSERT INTO attribution_allocations (
    tenant_id, event_id, created_at, updated_at, channel, allocated_revenue_cents,
    model_metadata, correlation_id
)
SELECT
    ev.tenant_id,
    ev.id,
    ev.created_at + interval '3 seconds',
    ev.created_at + interval '3 seconds',
    ({CHANNELS})[1 + (get_byte(uuid_send(ev.id), 0) + j) %% 8],
    ev.revenue_cents / n.parts,
    jsonb_build_object('model', 'shapley', 'effective_sample_size', 1000 + j),
    ev.correlation_id
FROM ev
CROSS JOIN LATERAL (SELECT 2 + get_byte(uuid_send(ev.id), 1) %% 2 AS parts) AS n
CROSS JOIN LATERAL generate_series(1, n.parts) AS j
"""

RUNS_SQL = """
CREATE TEMP TABLE bench_runs ON COMMIT PRESERVE ROWS AS
SELECT
    gen_random_uuid() AS id,
    t.tenant_id,
    t.rank,
    s AS seq,
    %(anchor)s - %(span)s * ((t.n_runs - s + random() * 0.5) / t.n_runs) AS last_run_at,
    CASE
        WHEN (s * 7 + t.rank) %% 100 < 95 THEN 'completed'
        WHEN (s * 7 + t.rank) %% 100 < 98 THEN 'failed'
        WHEN (s * 7 + t.rank) %% 100 < 99 THEN 'idle'
        ELSE 'running'
    END AS state
FROM bench_tenants AS t
CROSS JOIN LATERAL generate_series(1, t.n_runs) AS s
"""

RUNS_INSERT_SQL = """
INSERT INTO reconciliation_runs (
    id, tenant_id, created_at, updated_at, last_run_at, state, error_message, run_metadata
)
SELECT
    id, tenant_id, last_run_at, last_run_at, last_run_at, state,
    CASE WHEN state = 'failed' THEN 'provider API timed out' END,
    jsonb_build_object('seq', seq, 'checked_rows', 100 + seq)
FROM bench_runs
ORDER BY last_run_at
"""

LEDGER_SQL = """
INSERT INTO revenue_ledger (
    tenant_id, created_at, updated_at, revenue_cents, is_verified, verified_at,
    reconciliation_run_id
)
SELECT
    l.tenant_id, l.updated_at, l.updated_at, l.revenue_cents, l.verified,
    CASE WHEN l.verified THEN l.updated_at + interval '1 hour' END,
    CASE WHEN l.verified THEN r.id END
FROM (
    SELECT
        t.tenant_id,
        s,
        %(anchor)s - %(span)s * ((t.n_ledger - s + random() * 0.5) / t.n_ledger) AS updated_at,
        (random() * 500000)::int AS revenue_cents,
        (s %% 20 <> 0 AND s < t.n_ledger) AS verified,
        greatest(1, (s::bigint * t.n_runs / t.n_ledger)::int) AS run_seq
    FROM bench_tenants AS t
    CROSS JOIN LATERAL generate_series(1, t.n_ledger) AS s
) AS l
JOIN bench_runs AS r ON r.tenant_id = l.tenant_id AND r.seq = l.run_seq
ORDER BY l.updated_at
"""

DEAD_SQL = """
INSERT INTO dead_events (
    tenant_id, ingested_at, source, error_code, error_detail, raw_payload, correlation_id,
    external_event_id
)
SELECT
    d.tenant_id, d.ingested_at,
    CASE
        WHEN d.r < 45 THEN 'shopify' WHEN d.r < 75 THEN 'stripe'
        WHEN d.r < 90 THEN 'paypal' ELSE 'woocommerce'
    END,
    CASE
        WHEN d.c < 40 THEN 'schema_invalid' WHEN d.c < 60 THEN 'missing_field'
        WHEN d.c < 75 THEN 'signature_invalid' WHEN d.c < 85 THEN 'currency_unknown'
        WHEN d.c < 90 THEN 'payload_too_large' WHEN d.c < 95 THEN 'duplicate_conflict'
        WHEN d.c < 98 THEN 'timeout' ELSE 'unknown'
    END,
    jsonb_build_object('field', 'total_price', 'reason', 'not a number'),
    jsonb_build_object('order', d.s, 'total_price', 'n/a'),
    gen_random_uuid(),
    format('dead-%%s-%%s', d.rank, d.s)
FROM (
    SELECT
        t.tenant_id, t.rank, s,
        %(anchor)s - %(span)s * ((t.n_dead - s + random() * 0.5) / t.n_dead) AS ingested_at,
        (s * 37 + t.rank) %% 100 AS r,
        (s * 53 + t.rank * 3) %% 100 AS c
    FROM bench_tenants AS t
    CROSS JOIN LATERAL generate_series(1, t.n_dead) AS s
) AS d
ORDER BY d.ingested_at
"""

TABLES = ("tenants", "attribution_events", "attribution_allocations", "dead_events", "revenue_ledger", "reconciliation_runs")


def count_rows(conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def seed(conn: psycopg.Connection, scale: Scale, anchor: datetime | None = None, log=print) -> dict:
    """Fill an empty, migrated database (autocommit connection as owner). Returns timings."""
    anchor = anchor or datetime.now(timezone.utc).replace(microsecond=0)
    args = {"anchor": anchor, "span": SPAN, "events": scale.events, "tenants": TENANTS, "s": ZIPF_S}
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET maintenance_work_mem = '512MB'")
    timings: dict[str, float] = {}
    start = time.monotonic()

    def step(label: str, statement: str, extra: dict | None = None) -> None:
        t0 = time.monotonic()
        with conn.transaction():
            conn.execute(statement, {**args, **(extra or {})})
        timings[label] = timings.get(label, 0.0) + time.monotonic() - t0

    step("tenants", TENANT_SIZES_SQL)
    log(f"  tenants: {TENANTS} ({timings['tenants']:.1f} s)")
    for k in range(scale.chunks):
        step("events+allocations", EVENTS_SQL, {"k": k, "chunks": scale.chunks})
        if k + 1 == scale.chunks or k % 4 == 3:
            done = conn.execute("SELECT count(*) FROM attribution_events").fetchone()[0]
            rate = done / max(timings["events+allocations"], 1e-9)
            log(
                f"  events: slice {k + 1}/{scale.chunks}, {done:,} events with allocations "
                f"({timings['events+allocations']:.1f} s, {rate:,.0f} events/s)"
            )
    step("reconciliation_runs", RUNS_SQL)
    step("reconciliation_runs", RUNS_INSERT_SQL)
    log(f"  reconciliation runs ({timings['reconciliation_runs']:.1f} s)")
    step("revenue_ledger", LEDGER_SQL)
    log(f"  ledger rows ({timings['revenue_ledger']:.1f} s)")
    step("dead_events", DEAD_SQL)
    log(f"  dead events ({timings['dead_events']:.1f} s)")
    t0 = time.monotonic()
    conn.execute("ANALYZE")
    timings["analyze"] = time.monotonic() - t0
    timings["total"] = time.monotonic() - start
    counts = count_rows(conn)
    log("  " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    log(f"  ANALYZE ({timings['analyze']:.1f} s); seeded in {timings['total']:.1f} s")
    return {"anchor": anchor.isoformat(), "timings_s": timings, "counts": counts}

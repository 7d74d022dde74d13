"""Measure what the integrity additions (issue 8) cost on writes.

    .venv/bin/python bench/scripts/integrity_overhead.py [ROWS] [REPEATS]     (default 100000 3)

Uses DATABASE_URL when set, else the project's local server (`make db-start`, honouring
ATTRIBUTION_DB_PORT). Creates a throwaway database, migrates it, commits ROWS events (and
their payloads, built beforehand so that only the write is timed) and ANALYZEs, as a
database in use would be. Then times server-side statements over ROWS rows: INSERT of new
events, INSERT of allocations for the committed events, UPDATE of the committed events.
Each variant runs in its own transaction that is rolled back; the "without" variants
disable the trigger or drop the added key inside that transaction. Prints the median of
REPEATS runs per variant and the ratio to its baseline. The database is dropped at the end.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid

import psycopg

from attribution_db import dburl, targets
from attribution_db.migrate import Migrator

# A Shopify-like order webhook without PII: ~40 keys, nested objects and arrays.
PAYLOADS = """
CREATE UNLOGGED TABLE bench_payload AS
SELECT g, jsonb_build_object(
    'id', g, 'order_number', 1000 + g, 'currency', 'EUR', 'total_price', '125.40',
    'subtotal_price', '110.00', 'total_tax', '15.40', 'financial_status', 'paid',
    'source_name', 'web', 'created_at', '2025-11-01T12:00:00Z', 'tags', 'vip, repeat',
    'customer', jsonb_build_object('id', g, 'orders_count', 3, 'state', 'enabled', 'verified', true),
    'line_items', jsonb_build_array(
        jsonb_build_object('id', 1, 'sku', 'A-1', 'quantity', 1, 'price', '50.00', 'vendor', 'acme'),
        jsonb_build_object('id', 2, 'sku', 'B-2', 'quantity', 2, 'price', '30.00', 'vendor', 'acme'),
        jsonb_build_object('id', 3, 'sku', 'C-3', 'quantity', 1, 'price', '0.00', 'gift_card', true)),
    'shipping_lines', jsonb_build_array(jsonb_build_object('code', 'std', 'price', '5.00')),
    'note_attributes', jsonb_build_array(
        jsonb_build_object('name', 'utm_source', 'value', 'google'),
        jsonb_build_object('name', 'utm_campaign', 'value', 'black_friday')),
    'discount_codes', '[]'::jsonb
) AS payload
FROM generate_series(1, %(rows)s) AS g
"""
INSERT_EVENTS = """
INSERT INTO attribution_events (tenant_id, occurred_at, external_event_id, revenue_cents, raw_payload)
SELECT %(tenant)s, now(), 'order-' || g, 12540, payload FROM bench_payload
"""
INSERT_ALLOCATIONS = """
INSERT INTO attribution_allocations (tenant_id, event_id, channel, allocated_revenue_cents)
SELECT tenant_id, id, 'google_search', 100 FROM attribution_events
"""
INSERT_EVENTS_AGAIN = INSERT_EVENTS.replace("'order-' || g", "'again-' || g")
UPDATE_EVENTS = "UPDATE attribution_events SET revenue_cents = revenue_cents + 1"

NO_PII_GUARD = "ALTER TABLE attribution_events DISABLE TRIGGER trg_attribution_events_reject_pii"
NO_AUDIT = "ALTER TABLE attribution_events DISABLE TRIGGER trg_attribution_events_audit_timestamps"
NO_TENANT_FK = "ALTER TABLE attribution_allocations DROP CONSTRAINT fk_attribution_allocations_tenant_event"
NO_UNIQUE = [NO_TENANT_FK, "ALTER TABLE attribution_events DROP CONSTRAINT uq_attribution_events_tenant_id_id"]


def timed(url: str, tenant, setup: list[str], measured: str, rows: int) -> float:
    """Seconds taken by ``measured`` after ``setup`` (untimed), in a rolled-back transaction."""
    with psycopg.connect(url) as conn:
        for statement in setup:
            conn.execute(statement, {"tenant": tenant} if "%(tenant)s" in statement else None)
        started = time.perf_counter()
        conn.execute(measured, {"tenant": tenant} if "%(tenant)s" in measured else None)
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed


def main(rows: int, repeats: int) -> None:
    server = targets.target()
    dbname = f"attribution_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    url = dburl.with_dbname(server, dbname)
    try:
        migrator = Migrator(url)
        migrator.apply(report=lambda _line: None)
        migrator.backend.connection.close()
        with psycopg.connect(url, autocommit=True) as conn:
            tenant = conn.execute("INSERT INTO tenants (name) VALUES ('bench') RETURNING id").fetchone()[0]
            conn.execute(PAYLOADS, {"rows": rows})
            conn.execute(INSERT_EVENTS, {"tenant": tenant})
            conn.execute("VACUUM ANALYZE")
        cases = [
            # (what, baseline setup, measured setup, measured statement)
            ("INSERT events: PII guard", [*NO_UNIQUE, NO_PII_GUARD], NO_UNIQUE, INSERT_EVENTS_AGAIN),
            ("INSERT events: unique (tenant_id, id)", [*NO_UNIQUE, NO_PII_GUARD], [NO_PII_GUARD], INSERT_EVENTS_AGAIN),
            ("INSERT events: all additions", [*NO_UNIQUE, NO_PII_GUARD], [], INSERT_EVENTS_AGAIN),
            ("INSERT allocations: tenant FK", [NO_TENANT_FK], [], INSERT_ALLOCATIONS),
            ("UPDATE events: audit trigger", [NO_AUDIT], [], UPDATE_EVENTS),
        ]
        print(f"{rows} rows, median of {repeats} runs, PostgreSQL at {dburl.redact(server)}")
        for what, base_setup, setup, statement in cases:
            base = statistics.median(timed(url, tenant, base_setup, statement, rows) for _ in range(repeats))
            with_it = statistics.median(timed(url, tenant, setup, statement, rows) for _ in range(repeats))
            per_row = (with_it - base) / rows * 1e6
            print(f"  {what:40s} without {base:6.2f} s  with {with_it:6.2f} s  "
                  f"ratio {with_it / base:4.2f}  (+{per_row:.1f} µs/row)")  # fmt: skip
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{dbname}"')


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args) if args else main(100_000, 3)

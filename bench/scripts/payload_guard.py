"""Measure the raw_payload guard: per attack payload (time, backend VmHWM) and the per-row
cost of inserting a typical ~2 KB webhook payload as app_rw.

    ATTRIBUTION_DB_PORT=54331 .venv/bin/python bench/scripts/payload_guard.py [ROWS]

Uses the local database (make migrate); writes in transactions that are rolled back.
"""

from __future__ import annotations

import json
import sys
import time

import psycopg

from attribution_db import dburl
from attribution_db.cluster import Cluster
from checks import rows
from checks.rows import begin_as
from checks.payloads import ATTACKS, attack, vmhwm_kb


def typical(n: int) -> str:
    items = [{"id": i, "sku": f"SKU-{i}", "title": f"Product title number {i}", "quantity": 1, "price": "12.99",
              "price_set": {"shop_money": {"amount": "12.99", "currency_code": "EUR"},
                            "presentment_money": {"amount": "12.99", "currency_code": "EUR"}},
              "tax_lines": [{"rate": 0.19, "title": "MwSt", "price": "2.07"}]} for i in range(6)]
    return json.dumps({"id": 5678901234 + n, "currency": "EUR", "total_price": "129.90",
                       "note_attributes": [{"name": "utm_source", "value": "google"}], "line_items": items})


def parse_alone(url: str, payload: str) -> tuple[float, int | None]:
    """What PostgreSQL's jsonb input costs before any trigger: time and backend VmHWM."""
    with psycopg.connect(url) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        started = time.perf_counter()
        try:
            conn.execute("SELECT %s::jsonb IS NULL", [payload])
        except psycopg.Error:
            pass  # the 100,000-deep value: the parser's own 54001
        return time.perf_counter() - started, vmhwm_kb(pid)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    url = dburl.from_env() or Cluster.embedded().url()
    with psycopg.connect(url) as conn:
        tenant = rows.tenant(conn, "bench payload guard")
        conn.commit()
        guard = conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'raw_payload_within_limits'").fetchone()[0]
    print(f"schema: {'with' if guard else 'without'} the 202611281300 limits")
    if guard:
        for case, (build, _, _) in ATTACKS.items():
            payload = build()
            o = attack(url, tenant, "attribution_events", payload)
            seconds, vmhwm = parse_alone(url, payload)
            print(f"{case:28} {o['sqlstate']} {o['seconds'] * 1000:8.1f} ms  VmHWM {o['vmhwm_kb'] / 1024:6.1f} MB"
                  f"  message {len(o['message'])} chars;  parsing alone {seconds * 1000:6.1f} ms,"
                  f" VmHWM {vmhwm / 1024:6.1f} MB  ({len(payload) / 1024:.0f} KiB of JSON text)")
    payloads = [typical(i) for i in range(count)]
    print(f"typical payload: {len(payloads[0])} bytes of JSON text")
    single = "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload) VALUES (%s, now(), %s)"
    batch = ("INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload) "
             "SELECT %s, now(), p::jsonb FROM unnest(%s::text[]) AS p")
    triggers = ["trg_attribution_events_reject_pii"] + (["trg_attribution_events_limit_raw_payload"] if guard else [])
    for label, disable in (("guard on", False), ("guard triggers off", True), ("guard on", False), ("guard triggers off", True)):
        for mode in ("one row per statement", "1000 rows per statement"):
            with psycopg.connect(url) as conn:
                if disable:
                    for name in triggers:
                        conn.execute(f"ALTER TABLE attribution_events DISABLE TRIGGER {name}")
                begin_as(conn, "app_rw", tenant)
                started = time.perf_counter()
                with conn.cursor() as cur:
                    if mode.startswith("one"):
                        cur.executemany(single, [(tenant, p) for p in payloads[: count // 4]])
                        done = count // 4
                    else:
                        for i in range(0, count, 1000):
                            cur.execute(batch, (tenant, payloads[i : i + 1000]))
                        done = count
                elapsed = time.perf_counter() - started
                conn.rollback()
            print(f"{label:20} {mode:25} {done:6} rows: {elapsed:6.2f} s, {elapsed / done * 1e6:7.1f} us/row")
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM tenants WHERE name = 'bench payload guard'")


if __name__ == "__main__":
    main()

"""Payload builders and the attack runner shared by checks/test_payload_guard.py and
bench/scripts/payload_guard.py (the check asserts bounds, the script prints the figures).

Attack payloads are written as app_rw for one tenant, each on a fresh connection (so the
backend's peak memory, VmHWM, belongs to that case alone).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from checks import rows
from checks.rows import begin_as

CHECK_VIOLATION, STACK_DEPTH = "23514", "54001"


# == builders ===================================================================================
def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def many_keys(n: int, key: str = "k") -> str:
    return json.dumps({f"{key}{i}": i for i in range(n)})


def many_pii_keys(n: int) -> str:
    return json.dumps([{"email": i} for i in range(n)])


def vmhwm_kb(pid: int) -> int | None:
    """Peak resident memory of a backend (the server runs on this machine), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def attack(url: str, tenant, table: str, payload: str) -> dict:
    """Insert ``payload`` as app_rw on a fresh connection; outcome, time and peak memory."""
    with psycopg.connect(url) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        begin_as(conn, "app_rw", tenant)
        values = {**rows.DEFAULTS[table](), "tenant_id": tenant, "raw_payload": payload}
        started = time.perf_counter()
        try:
            conn.execute(rows.insert_sql(table, values), list(values.values()))
            outcome = {"sqlstate": None, "message": "", "column": None}
        except psycopg.Error as exc:
            outcome = {"sqlstate": exc.sqlstate, "message": exc.diag.message_primary or "",
                       "column": exc.diag.column_name}  # fmt: skip
        outcome["seconds"] = time.perf_counter() - started
        outcome["vmhwm_kb"] = vmhwm_kb(pid)
        conn.rollback()
    with psycopg.connect(url) as alive:  # the server survived
        assert alive.execute("SELECT 1").fetchone() == (1,)
    return outcome


# == the attacks of issue 14 ===================================================================
ATTACKS = {
    "depth-10000": (lambda: deep(10_000), CHECK_VIOLATION, "nests deeper than the limit of 64 levels"),
    # The JSON parser itself refuses this one (stack depth) before any trigger: 54001.
    "depth-100000": (lambda: deep(100_000), STACK_DEPTH, "stack depth limit exceeded"),
    "100k-keys": (lambda: many_keys(100_000), CHECK_VIOLATION, "over the limit of 524288 bytes"),
    "100k-pii-keys": (lambda: many_pii_keys(100_000), CHECK_VIOLATION, "over the limit of 524288 bytes"),
    "10k-pii-keys-within-limits": (lambda: many_pii_keys(10_000), CHECK_VIOLATION, "and 9980 more"),
}

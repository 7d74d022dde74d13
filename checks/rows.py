"""Row builders for behaviour checks: one minimal valid row per table, overridable."""

from __future__ import annotations

import json
import uuid

import psycopg
from psycopg import sql

DEFAULTS = {
    "attribution_events": lambda: {"occurred_at": "2025-11-01T12:00:00Z", "raw_payload": json.dumps({"k": 1})},
    "dead_events": lambda: {
        "source": "shopify",
        "error_code": "schema_invalid",
        "error_detail": json.dumps({"field": "total"}),
        "raw_payload": json.dumps({"k": 1}),
    },
    "attribution_allocations": lambda: {"channel": "google_search", "allocated_revenue_cents": 100},
    "revenue_ledger": lambda: {"revenue_cents": 1000},
    "reconciliation_runs": lambda: {"last_run_at": "2025-11-01T12:00:00Z", "state": "completed"},
}


def insert_sql(table: str, values: dict) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )


def insert(conn, table: str, **values) -> uuid.UUID:
    """Insert one row (defaults filled in) and return its id."""
    row = {**DEFAULTS.get(table, dict)(), **values}
    return conn.execute(insert_sql(table, row), list(row.values())).fetchone()[0]


def values_for(table: str, owned: dict) -> dict:
    """A full valid row of ``table`` belonging to the tenant whose ids ``full_tenant`` returned."""
    values = {**DEFAULTS[table](), "tenant_id": owned["tenants"]}
    if table == "attribution_allocations":
        values["event_id"] = owned["attribution_events"]
    return values


def tenant(conn, name: str = "Acme") -> uuid.UUID:
    return insert(conn, "tenants", name=name)


def event(conn, tenant_id, **values) -> uuid.UUID:
    return insert(conn, "attribution_events", tenant_id=tenant_id, **values)


def full_tenant(conn, name: str) -> dict[str, uuid.UUID]:
    """A tenant with one row in every tenant-scoped table; returns the ids by table."""
    tid = tenant(conn, name)
    ids = {"tenants": tid, "attribution_events": event(conn, tid, external_event_id=f"ext-{name}")}
    ids["attribution_allocations"] = insert(
        conn, "attribution_allocations", tenant_id=tid, event_id=ids["attribution_events"]
    )
    ids["dead_events"] = insert(conn, "dead_events", tenant_id=tid)
    ids["reconciliation_runs"] = insert(conn, "reconciliation_runs", tenant_id=tid)
    ids["revenue_ledger"] = insert(conn, "revenue_ledger", tenant_id=tid)
    return ids


def begin_as(conn: psycopg.Connection, role: str, tenant: uuid.UUID | str | None) -> None:
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    if tenant is not None:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant)])

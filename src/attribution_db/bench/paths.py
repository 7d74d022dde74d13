"""The contract query paths: one definition shared by the benchmark and the plan checks.

Each path is written once, as the application sends it under row-level security (as
``app_ro``, tenant set per transaction, no ``tenant_id`` predicate: the policy adds it).
The owner-side twin used for the RLS overhead ratio is rendered from the same definition
with an explicit ``tenant_id = %(tenant_id)s`` and runs as a role that bypasses RLS.

``index`` is the index the path must use (checked by ``checks/test_query_plans.py``);
``documented`` is the dictionary's index for that access pattern. When they differ, the
documented index is a poor fit for a tenant-scoped query and ``note`` says why: that is a
finding of the benchmark, reported in docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Callable

#: Row budgets of a page (what an API page returns).
PAGE = 50

SOURCES = ("shopify", "stripe", "paypal", "woocommerce")
ERROR_CODES = (
    "schema_invalid", "missing_field", "signature_invalid", "currency_unknown",
    "payload_too_large", "duplicate_conflict", "timeout", "unknown",
)  # fmt: skip
STATES = ("completed", "failed", "running", "idle")


@dataclass(frozen=True)
class Path:
    name: str
    title: str
    kind: str  # page | point | aggregate | view
    table: str  # what the application reads (a table, or a tenant-scoped view)
    columns: str
    predicates: tuple[str, ...]
    tail: str
    index: str
    documented: str
    params: Callable[[dict, int], dict]
    owner_table: str | None = None  # the owner reads this instead (the materialized view)
    alternatives: tuple[str, ...] = ()  # also accepted, with the reason in ``note``
    note: str = ""
    requires: tuple[str, ...] = field(default=())  # objects that must exist to run it

    def sql(self, owner: bool = False) -> str:
        """The statement: as the application sends it, or the owner's explicit-WHERE twin."""
        preds = (("tenant_id = %(tenant_id)s",) if owner else ()) + self.predicates
        table = (self.owner_table or self.table) if owner else self.table
        text = f"SELECT {self.columns} FROM {table}"
        if preds:
            text += " WHERE " + " AND ".join(preds)
        return f"{text} {self.tail}".strip()

    @property
    def accepted(self) -> tuple[str, ...]:
        return (self.index, *self.alternatives)

    @property
    def targeted(self) -> bool:
        """Page, point and view paths carry a latency target; aggregates report their cost."""
        return self.kind != "aggregate"


def _sample(key: str) -> Callable[[dict, int], dict]:
    """Parameters from the tenant's sampled events (cycled)."""

    def pick(ctx: dict, i: int) -> dict:
        rows = [r for r in ctx["events"] if r[key] is not None]
        row = rows[i % len(rows)]
        return {key: row[key]}

    return pick


def _window(ctx: dict, i: int) -> dict:
    row = ctx["events"][i % len(ctx["events"])]
    return {"window_end": row["occurred_at"], "window_days": 1}


def _cycle(key: str, values: tuple[str, ...]) -> Callable[[dict, int], dict]:
    return lambda ctx, i: {key: values[i % len(values)]}


def _none(ctx: dict, i: int) -> dict:
    return {}


def _since(ctx: dict, i: int) -> dict:
    return {"anchor": ctx["anchor"]}


EVENT_COLS = "id, occurred_at, external_event_id, session_id, revenue_cents"
DEAD_COLS = "id, ingested_at, source, error_code, external_event_id"
ALLOC_COLS = "id, event_id, created_at, channel, allocated_revenue_cents"
LEDGER_COLS = "id, updated_at, revenue_cents, is_verified, verified_at, reconciliation_run_id"
RUN_COLS = "id, last_run_at, state, error_message"
POOR_FIT = (
    "documented {doc} is a single-column index over every tenant ({what}); combined with the "
    "tenant predicate the planner reads the tenant's own rows through {idx} instead, which "
    "touches only that tenant's rows"
)

PATHS: tuple[Path, ...] = (
    Path(
        "events_latest_page", "latest events page", "page", "attribution_events", EVENT_COLS,
        (), f"ORDER BY occurred_at DESC LIMIT {PAGE}",
        "idx_attribution_events_tenant_occurred_at", "idx_attribution_events_tenant_occurred_at",
        _none,
    ),
    Path(
        "events_time_window", "events in a time window (1 day, newest first)", "page",
        "attribution_events", EVENT_COLS,
        (
            "occurred_at > %(window_end)s - make_interval(days => %(window_days)s)",
            "occurred_at <= %(window_end)s",
        ),
        f"ORDER BY occurred_at DESC LIMIT {PAGE}",
        "idx_attribution_events_tenant_occurred_at", "idx_attribution_events_tenant_occurred_at",
        _window,
    ),
    Path(
        "events_by_session", "events of a session", "point", "attribution_events", EVENT_COLS,
        ("session_id = %(session_id)s",), "ORDER BY occurred_at",
        "idx_attribution_events_session_id", "idx_attribution_events_session_id",
        _sample("session_id"),
    ),
    Path(
        "event_by_external_id", "lookup by external id", "point", "attribution_events", EVENT_COLS,
        ("external_event_id = %(external_event_id)s",), "",
        "idx_attribution_events_tenant_external_event_id",
        "idx_attribution_events_tenant_external_event_id",
        _sample("external_event_id"),
    ),
    Path(
        "dead_triage_page", "dead-event triage page", "page", "dead_events", DEAD_COLS,
        (), f"ORDER BY ingested_at DESC LIMIT {PAGE}",
        "idx_dead_events_tenant_ingested_at", "idx_dead_events_tenant_ingested_at", _none,
    ),
    Path(
        "dead_by_source", "dead events by source (newest first)", "page", "dead_events", DEAD_COLS,
        ("source = %(source)s",), f"ORDER BY ingested_at DESC LIMIT {PAGE}",
        "idx_dead_events_tenant_ingested_at", "idx_dead_events_source",
        _cycle("source", SOURCES),
        note=POOR_FIT.format(
            doc="idx_dead_events_source", what="4 sources, each a quarter to a half of the table",
            idx="idx_dead_events_tenant_ingested_at (filtering on source)",
        ),
    ),
    Path(
        "dead_by_error_code", "dead events by error code (newest first)", "page", "dead_events",
        DEAD_COLS, ("error_code = %(error_code)s",), f"ORDER BY ingested_at DESC LIMIT {PAGE}",
        "idx_dead_events_tenant_ingested_at", "idx_dead_events_error_code",
        _cycle("error_code", ERROR_CODES),
        note=POOR_FIT.format(
            doc="idx_dead_events_error_code", what="8 codes shared by all tenants",
            idx="idx_dead_events_tenant_ingested_at (filtering on error_code)",
        ),
    ),
    Path(
        "allocations_of_event", "allocations of an event", "point", "attribution_allocations",
        ALLOC_COLS, ("event_id = %(id)s",), "ORDER BY channel",
        "idx_attribution_allocations_event_id", "idx_attribution_allocations_event_id",
        _sample("id"),
        alternatives=("idx_attribution_allocations_tenant_event_id",),
        note=(
            "where the integrity migration's (tenant_id, event_id) index exists the planner may "
            "prefer it: it serves the same lookup with the tenant predicate as an index condition"
        ),
    ),
    Path(
        "allocations_recent", "recent allocations", "page", "attribution_allocations", ALLOC_COLS,
        (), f"ORDER BY created_at DESC LIMIT {PAGE}",
        "idx_attribution_allocations_tenant_created_at",
        "idx_attribution_allocations_tenant_created_at", _none,
    ),
    Path(
        "channel_totals_30d", "channel totals over 30 days", "aggregate",
        "attribution_allocations",
        "channel, count(*) AS allocations, sum(allocated_revenue_cents) AS revenue_cents",
        ("created_at > %(anchor)s - interval '30 days'",),
        "GROUP BY channel ORDER BY revenue_cents DESC",
        "idx_attribution_allocations_tenant_created_at", "idx_attribution_allocations_channel",
        _since,
        note=(
            "an aggregate: its cost grows with the tenant's 30-day volume. The documented "
            "idx_attribution_allocations_channel (channel alone, every tenant) cannot select one "
            "tenant's window; the tenant's 30 days come through the (tenant_id, created_at) index"
        ),
    ),
    Path(
        "ledger_recent", "recent ledger rows", "page", "revenue_ledger", LEDGER_COLS,
        (), f"ORDER BY updated_at DESC LIMIT {PAGE}",
        "idx_revenue_ledger_tenant_updated_at", "idx_revenue_ledger_tenant_updated_at", _none,
    ),
    Path(
        "ledger_verified", "verified ledger rows (newest first)", "page", "revenue_ledger",
        LEDGER_COLS, ("is_verified",), f"ORDER BY updated_at DESC LIMIT {PAGE}",
        "idx_revenue_ledger_tenant_updated_at", "idx_revenue_ledger_is_verified", _none,
        note=POOR_FIT.format(
            doc="idx_revenue_ledger_is_verified",
            what="a partial index whose only key is the constant true: every verified row of "
            "every tenant, in no useful order",
            idx="idx_revenue_ledger_tenant_updated_at (filtering on is_verified)",
        ),
    ),
    Path(
        "ledger_total", "revenue over the tenant's whole history", "aggregate", "revenue_ledger",
        "sum(revenue_cents) AS revenue_cents, bool_and(is_verified) AS verified, "
        "max(updated_at) AS newest",
        (), "", "idx_revenue_ledger_tenant_updated_at", "idx_revenue_ledger_tenant_updated_at",
        _none,
        note="what mv_realtime_revenue precomputes; read live it grows with the tenant's history",
    ),
    Path(
        "run_latest", "latest reconciliation run", "point", "reconciliation_runs", RUN_COLS,
        (), "ORDER BY last_run_at DESC LIMIT 1",
        "idx_reconciliation_runs_tenant_last_run_at", "idx_reconciliation_runs_tenant_last_run_at",
        _none,
    ),
    Path(
        "runs_by_state", "runs by state (newest first)", "page", "reconciliation_runs", RUN_COLS,
        ("state = %(state)s",), f"ORDER BY last_run_at DESC LIMIT {PAGE}",
        "idx_reconciliation_runs_tenant_last_run_at", "idx_reconciliation_runs_state",
        _cycle("state", STATES),
        note=POOR_FIT.format(
            doc="idx_reconciliation_runs_state", what="4 states, 'completed' almost all rows",
            idx="idx_reconciliation_runs_tenant_last_run_at (filtering on state)",
        ),
    ),
    Path(
        "view_realtime_revenue", "realtime revenue (tenant-scoped view)", "view",
        "v_realtime_revenue_current_tenant",
        "tenant_id, total_revenue, verified, data_freshness_seconds", (), "",
        "idx_mv_realtime_revenue_tenant_id", "idx_mv_realtime_revenue_tenant_id", _none,
        owner_table="mv_realtime_revenue",
        requires=("mv_realtime_revenue", "v_realtime_revenue_current_tenant"),
    ),
    Path(
        "view_reconciliation_status", "reconciliation status (tenant-scoped view)", "view",
        "v_reconciliation_status_current_tenant", "tenant_id, state, last_run_at", (), "",
        "idx_mv_reconciliation_status_tenant_id", "idx_mv_reconciliation_status_tenant_id",
        _none, owner_table="mv_reconciliation_status",
        requires=("mv_reconciliation_status", "v_reconciliation_status_current_tenant"),
    ),
)

BY_NAME = {p.name: p for p in PATHS}

#: Documented indexes no read path is written for, and why (the plan checks list them).
NOT_READ_PATHS = {
    "idx_tenants_name": "tenants is read only by its owner (provisioning), not by the app roles",
    "idx_attribution_events_tenant_correlation_id": (
        "an idempotency key for events without an external id: a write-path constraint"
    ),
}

#: Per tenant: a sample of its events spread over its whole history (parameters of the
#: point paths). Random points in time, each mapped to the tenant's event just before it.
EVENT_SAMPLE_SQL = """
SELECT DISTINCT ON (e.id) e.id, e.session_id, e.external_event_id, e.occurred_at
FROM (
    SELECT %(anchor)s - random() * %(span)s AS at FROM generate_series(1, %(n)s)
) AS p
CROSS JOIN LATERAL (
    SELECT id, session_id, external_event_id, occurred_at
    FROM attribution_events
    WHERE tenant_id = %(tenant_id)s AND occurred_at <= p.at
    ORDER BY occurred_at DESC
    LIMIT 1
) AS e
"""

#: Fallback when the random points found nothing (a tenant with one or two events).
EVENT_ANY_SQL = """
SELECT id, session_id, external_event_id, occurred_at
FROM attribution_events WHERE tenant_id = %(tenant_id)s ORDER BY occurred_at DESC LIMIT %(n)s
"""


def missing_objects(conn, path: Path) -> list[str]:
    """The objects ``path`` needs that do not exist in the connected database."""
    exists = "SELECT to_regclass(%s) IS NOT NULL"
    return [name for name in path.requires if not conn.execute(exists, (name,)).fetchone()[0]]


def plan_indexes(plan: dict) -> list[str]:
    """Every index an EXPLAIN (FORMAT JSON) plan node tree uses, in plan order."""
    found: list[str] = []
    stack = [plan]
    while stack:
        node = stack.pop(0)
        if "Index Name" in node:
            found.append(node["Index Name"])
        stack.extend(node.get("Plans", []))
    return found


#: A tenant with at most this many rows in a table fits in a few heap pages: any index that
#: leads with tenant_id reads exactly its rows, so the planner's choice among them (a bitmap
#: scan and an in-memory sort) is a tie, not a regression.
FEW_ROWS = 100

LEADING_COLUMN_SQL = """
SELECT a.attname
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE c.relname = %s
"""


def plan_ok(conn, path: Path, used: list[str], tenant_rows: int | None) -> bool:
    """The plan uses the path's index (or a declared alternative); for a tenant with few
    rows in the table, any index leading with tenant_id is as good."""
    if set(used) & set(path.accepted):
        return True
    if not used or tenant_rows is None or tenant_rows > FEW_ROWS:
        return False
    leading = [conn.execute(LEADING_COLUMN_SQL, (name,)).fetchone() for name in used]
    return all(row is not None and row[0] == "tenant_id" for row in leading)


def plan_shape(plan: dict) -> list[tuple[str, str]]:
    """Node types and indexes in plan order, without the values (to compare two plans)."""
    out: list[tuple[str, str]] = []
    stack = [plan]
    while stack:
        node = stack.pop(0)
        out.append((node["Node Type"], node.get("Index Name", "")))
        stack.extend(node.get("Plans", []))
    return out


def plan_summary(plan: dict) -> str:
    """A one-line shape of the plan: node types with their index or relation."""
    parts: list[str] = []

    def walk(node: dict, depth: int) -> None:
        label = node["Node Type"]
        if "Index Name" in node:
            label += f" using {node['Index Name']}"
        elif "Relation Name" in node:
            label += f" on {node['Relation Name']}"
        if node.get("Filter"):
            label += f" (filter {node['Filter']})"
        parts.append("  " * depth + label)
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan, 0)
    return "\n".join(parts)


def explain(conn, path: Path, params: dict, owner: bool = False) -> dict:
    """EXPLAIN (FORMAT JSON) of the path in the current transaction (role and tenant set)."""
    row = conn.execute("EXPLAIN (FORMAT JSON) " + path.sql(owner), params, prepare=False).fetchone()
    return row[0][0]["Plan"]


def as_tenant(conn, tenant_id, role: str = "app_ro") -> None:
    """Inside a transaction: become ``role`` with ``tenant_id`` as the current tenant."""
    conn.execute(
        "SELECT set_config('role', %s, true), set_config('app.current_tenant_id', %s, true)",
        (role, str(tenant_id)),
    )


# -- the dashboard rollups (issue 11, docs/rollups.md) -------------------------------------
# Read as app_ro through the reader views (rollup + unfolded deltas of the current tenant).
# They have no owner twin (the views read app.current_tenant_id themselves): the RLS ratio
# of these paths is not measured here.
def _since(days: int) -> Callable[[dict, int], dict]:
    """The first UTC day of the window, computed by the client: a plain date parameter lets
    the leakproof date comparison pass the views' security barrier and reach the primary key
    (an expression such as ``(now() AT TIME ZONE 'UTC')::date - 30`` is not leakproof and
    would be applied only after the tenant's whole history was summed)."""

    def pick(ctx: dict, i: int) -> dict:
        anchor = ctx["anchor"].astimezone(timezone.utc).date()
        return {"since": anchor - timedelta(days=days)}

    return pick


def _channel_totals(days: int) -> Path:
    return Path(
        f"rollup_channel_totals_{days}d", f"channel totals over {days} days (rollup view)", "rollup",
        "v_rollup_channel_daily",
        "channel, sum(allocations) AS allocations, sum(allocated_revenue_cents) AS revenue_cents",
        ("utc_day > %(since)s",),
        "GROUP BY channel ORDER BY revenue_cents DESC",
        "rollup_channel_daily_pkey", "rollup_channel_daily_pkey", _since(days),
        requires=("v_rollup_channel_daily",),
    )


ROLLUP_PATHS: tuple[Path, ...] = (
    _channel_totals(7),
    _channel_totals(30),
    _channel_totals(90),
    Path(
        "rollup_revenue_by_day_90d", "revenue by day over 90 days (rollup view)", "rollup",
        "v_rollup_ledger_daily", "utc_day, revenue_cents, verified_revenue_cents, ledger_rows",
        ("utc_day > %(since)s",), "ORDER BY utc_day",
        "rollup_ledger_daily_pkey", "rollup_ledger_daily_pkey", _since(90),
        requires=("v_rollup_ledger_daily",),
    ),
    Path(
        "rollup_ledger_total", "ledger total over the whole history (rollup view)", "rollup",
        "v_rollup_ledger_daily",
        "sum(revenue_cents) AS revenue_cents, sum(ledger_rows) = sum(verified_rows) AS verified",
        (), "", "rollup_ledger_daily_pkey", "rollup_ledger_daily_pkey", _none,
        requires=("v_rollup_ledger_daily",),
    ),
)

"""Bad input is rejected with the right SQLSTATE; good input and cascades work.

Each check runs in a transaction that is rolled back (the ``db`` fixture).
"""

from __future__ import annotations

import uuid

import pytest

from checks import rows
from checks.pgtap import lives_ok, results_eq, throws_ok

CHECK_VIOLATION, UNIQUE_VIOLATION, NOT_NULL_VIOLATION, FK_VIOLATION = "23514", "23505", "23502", "23503"

REVENUE_COLUMNS = [
    ("attribution_events", "revenue_cents", "ck_attribution_events_revenue_positive"),
    ("attribution_allocations", "allocated_revenue_cents", "ck_attribution_allocations_revenue_positive"),
    ("revenue_ledger", "revenue_cents", "ck_revenue_ledger_revenue_positive"),
]


@pytest.fixture
def tenant(db):
    return rows.tenant(db)


def _row_for(db, table: str, tenant_id) -> dict:
    values = {"tenant_id": tenant_id}
    if table == "attribution_allocations":
        values["event_id"] = rows.event(db, tenant_id)
    return values


@pytest.mark.parametrize(("table", "column", "constraint"), REVENUE_COLUMNS)
def test_negative_revenue_is_rejected(db, tenant, table, column, constraint):
    values = {**rows.DEFAULTS[table](), **_row_for(db, table, tenant), column: -1}
    throws_ok(db, rows.insert_sql(table, values), list(values.values()), CHECK_VIOLATION, constraint)


@pytest.mark.parametrize(("table", "column", "constraint"), REVENUE_COLUMNS)
def test_zero_revenue_is_accepted(db, tenant, table, column, constraint):
    values = {**rows.DEFAULTS[table](), **_row_for(db, table, tenant), column: 0}
    row_id = lives_ok(db, rows.insert_sql(table, values), list(values.values())).fetchone()[0]
    results_eq(db, f"SELECT {column}, tenant_id FROM {table} WHERE id = %s", [row_id], [(0, tenant)])


@pytest.mark.parametrize(("table", "column", "constraint"), REVENUE_COLUMNS)
def test_update_to_negative_revenue_is_rejected(db, tenant, table, column, constraint):
    row_id = rows.insert(db, table, **_row_for(db, table, tenant))
    throws_ok(db, f"UPDATE {table} SET {column} = -5 WHERE id = %s", [row_id], CHECK_VIOLATION, constraint)


@pytest.mark.parametrize("name", ["", " ", "   ", "\t", "\n \t"], ids=repr)
def test_empty_or_blank_tenant_name_is_rejected(db, name):
    throws_ok(db, "INSERT INTO tenants (name) VALUES (%s)", [name], CHECK_VIOLATION, "ck_tenants_name_not_empty")


@pytest.mark.parametrize("name", ["a", " Acme ", "x" * 255])
def test_valid_tenant_name_is_accepted(db, name):
    row_id = lives_ok(db, "INSERT INTO tenants (name) VALUES (%s) RETURNING id", [name]).fetchone()[0]
    results_eq(db, "SELECT name FROM tenants WHERE id = %s", [row_id], [(name,)])  # stored as given, not trimmed


def test_tenant_name_longer_than_255_is_rejected(db):
    throws_ok(db, "INSERT INTO tenants (name) VALUES (%s)", ["x" * 256], "22001")


@pytest.mark.parametrize("state", ["idle", "running", "failed", "completed"])
def test_known_reconciliation_state_is_accepted(db, tenant, state):
    run = rows.insert(db, "reconciliation_runs", tenant_id=tenant, state=state)
    results_eq(db, "SELECT state, tenant_id FROM reconciliation_runs WHERE id = %s", [run], [(state, tenant)])


@pytest.mark.parametrize("state", ["done", "IDLE", "", "pending"])
def test_unknown_reconciliation_state_is_rejected(db, tenant, state):
    values = {**rows.DEFAULTS["reconciliation_runs"](), "tenant_id": tenant, "state": state}
    throws_ok(
        db, rows.insert_sql("reconciliation_runs", values), list(values.values()),
        CHECK_VIOLATION, "ck_reconciliation_runs_state_valid",
    )  # fmt: skip


def test_reconciliation_state_defaults_to_idle(db, tenant):
    run = db.execute(
        "INSERT INTO reconciliation_runs (tenant_id, last_run_at) VALUES (%s, now()) RETURNING state", [tenant]
    ).fetchone()
    assert run == ("idle",)


def test_duplicate_external_event_id_in_a_tenant_is_rejected(db, tenant):
    rows.event(db, tenant, external_event_id="order-1")
    throws_ok(
        db, "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload, external_event_id) "
        "VALUES (%s, now(), '{}', 'order-1')", [tenant], UNIQUE_VIOLATION,
        "idx_attribution_events_tenant_external_event_id",
    )  # fmt: skip


def test_same_external_event_id_in_another_tenant_is_accepted(db, tenant):
    other = rows.tenant(db, "Other")
    rows.event(db, tenant, external_event_id="order-1")
    rows.event(db, other, external_event_id="order-1")
    results_eq(db, "SELECT tenant_id FROM attribution_events WHERE external_event_id = 'order-1' "
               "AND tenant_id IN (%s, %s) ORDER BY tenant_id = %s", [tenant, other, other], [(tenant,), (other,)])  # fmt: skip


def test_duplicate_correlation_id_without_external_id_is_rejected(db, tenant):
    corr = uuid.uuid4()
    rows.event(db, tenant, correlation_id=corr)
    throws_ok(
        db, "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload, correlation_id) "
        "VALUES (%s, now(), '{}', %s)", [tenant, corr], UNIQUE_VIOLATION,
        "idx_attribution_events_tenant_correlation_id",
    )  # fmt: skip


def test_same_correlation_id_in_another_tenant_is_accepted(db, tenant):
    corr = uuid.uuid4()
    other = rows.tenant(db, "Other")
    rows.event(db, tenant, correlation_id=corr)
    rows.event(db, other, correlation_id=corr)
    results_eq(db, "SELECT tenant_id FROM attribution_events WHERE correlation_id = %s ORDER BY tenant_id = %s",
               [corr, other], [(tenant,), (other,)])  # fmt: skip


def test_repeated_correlation_id_with_external_ids_is_accepted(db, tenant):
    corr = uuid.uuid4()
    rows.event(db, tenant, correlation_id=corr, external_event_id="a")
    rows.event(db, tenant, correlation_id=corr, external_event_id="b")
    rows.event(db, tenant, correlation_id=corr)  # the fallback key only counts rows without an external id
    results_eq(db, "SELECT external_event_id FROM attribution_events WHERE tenant_id = %s AND correlation_id = %s "
               "ORDER BY external_event_id NULLS LAST", [tenant, corr], [("a",), ("b",), (None,)])  # fmt: skip


def test_events_without_any_key_are_not_deduplicated(db, tenant):
    first, second = rows.event(db, tenant), rows.event(db, tenant)
    assert first != second
    results_eq(db, "SELECT count(*) FROM attribution_events WHERE tenant_id = %s", [tenant], [(2,)])


def test_on_conflict_do_nothing_on_external_event_id(db, tenant):
    upsert = (
        "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload, external_event_id, revenue_cents) "
        "VALUES (%s, now(), '{}', 'order-9', %s) "
        "ON CONFLICT (tenant_id, external_event_id) WHERE external_event_id IS NOT NULL DO NOTHING"
    )
    assert db.execute(upsert, [tenant, 100]).rowcount == 1
    assert db.execute(upsert, [tenant, 999]).rowcount == 0
    results_eq(db, "SELECT revenue_cents FROM attribution_events WHERE tenant_id = %s", [tenant], [(100,)])


def test_on_conflict_do_nothing_on_correlation_id(db, tenant):
    corr = uuid.uuid4()
    upsert = (
        "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload, correlation_id, revenue_cents) "
        "VALUES (%s, now(), '{}', %s, %s) ON CONFLICT (tenant_id, correlation_id) "
        "WHERE correlation_id IS NOT NULL AND external_event_id IS NULL DO NOTHING"
    )
    assert db.execute(upsert, [tenant, corr, 100]).rowcount == 1
    assert db.execute(upsert, [tenant, corr, 999]).rowcount == 0
    results_eq(db, "SELECT revenue_cents FROM attribution_events WHERE tenant_id = %s", [tenant], [(100,)])


REQUIRED = [
    ("tenants", "name"),
    ("attribution_events", "tenant_id"),
    ("attribution_events", "occurred_at"),
    ("attribution_events", "raw_payload"),
    ("dead_events", "source"),
    ("dead_events", "error_code"),
    ("dead_events", "error_detail"),
    ("dead_events", "raw_payload"),
    ("attribution_allocations", "event_id"),
    ("attribution_allocations", "channel"),
    ("reconciliation_runs", "last_run_at"),
    ("revenue_ledger", "tenant_id"),
]


@pytest.mark.parametrize(("table", "column"), REQUIRED, ids=[f"{t}.{c}" for t, c in REQUIRED])
def test_missing_required_value_is_rejected(db, tenant, table, column):
    values = {"name": "Acme"} if table == "tenants" else {**rows.DEFAULTS[table](), **_row_for(db, table, tenant)}
    values[column] = None
    throws_ok(db, rows.insert_sql(table, values), list(values.values()), NOT_NULL_VIOLATION, column)


@pytest.mark.parametrize("table", list(rows.DEFAULTS))
def test_unknown_tenant_is_rejected(db, tenant, table):
    values = {**rows.DEFAULTS[table](), **_row_for(db, table, tenant), "tenant_id": uuid.uuid4()}
    throws_ok(db, rows.insert_sql(table, values), list(values.values()), FK_VIOLATION, f"{table}_tenant_id_fkey")


def test_unknown_event_is_rejected(db, tenant):
    values = {**rows.DEFAULTS["attribution_allocations"](), "tenant_id": tenant, "event_id": uuid.uuid4()}
    throws_ok(
        db, rows.insert_sql("attribution_allocations", values), list(values.values()),
        FK_VIOLATION, "attribution_allocations_event_id_fkey",
    )  # fmt: skip


def test_deleting_a_tenant_removes_all_its_rows(db):
    doomed = rows.full_tenant(db, "Doomed")
    kept = rows.full_tenant(db, "Kept")
    db.execute("DELETE FROM tenants WHERE id = %s", [doomed["tenants"]])
    for table in rows.DEFAULTS:
        results_eq(db, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", [doomed["tenants"]], [(0,)])
        results_eq(db, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", [kept["tenants"]], [(1,)])


def test_deleting_an_event_removes_its_allocations(db, tenant):
    event = rows.event(db, tenant)
    other = rows.event(db, tenant)
    for target in (event, event, other):
        rows.insert(db, "attribution_allocations", tenant_id=tenant, event_id=target)
    db.execute("DELETE FROM attribution_events WHERE id = %s", [event])
    results_eq(db, "SELECT event_id FROM attribution_allocations WHERE tenant_id = %s", [tenant], [(other,)])


def test_defaults_fill_ids_timestamps_and_amounts(db, tenant):
    row = db.execute(
        "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload) VALUES (%s, now(), '{}') "
        "RETURNING id IS NOT NULL, created_at = now(), updated_at = now(), revenue_cents",
        [tenant],
    ).fetchone()
    assert row == (True, True, True, 0)
    ledger = db.execute(
        "INSERT INTO revenue_ledger (tenant_id) VALUES (%s) RETURNING is_verified, revenue_cents", [tenant]
    ).fetchone()
    assert ledger == (False, 0)

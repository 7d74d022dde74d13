"""Integrity beyond the dictionary (DESIGN.md decision 9, issue 8), in the catalog and in behaviour.

1. References stay inside their tenant: composite foreign keys on allocations -> events and
   ledger -> runs reject cross-tenant references with 23503, for the owner and app_rw alike.
2. updated_at is set on every UPDATE; created_at cannot change (23514).
3. raw_payload of attribution_events and dead_events rejects PII keys (23514, path named).
4. A verified ledger row has verified_at (23514).
5. Upgrading a database whose rows already break a new constraint stops at its validation.

Behaviour checks run in transactions that are rolled back.
"""

from __future__ import annotations

import json
import unicodedata
import uuid

import psycopg
import pytest

from attribution_db import CliError
from attribution_db.migrate import Migrator
from checks import additions, pgtap, rows
from checks.additions import ADDITIONS, FUNCTIONS
from checks.pgtap import lives_ok, results_eq, throws_ok

CHECK_VIOLATION, FK_VIOLATION = "23514", "23503"
ALLOCATION_FK = "fk_attribution_allocations_tenant_event"
LEDGER_FK = "fk_revenue_ledger_tenant_reconciliation_run"
LEDGER_CHECK = "ck_revenue_ledger_verified_has_timestamp"
AUDITED = [table for table, add in ADDITIONS.items() if f"trg_{table}_audit_timestamps" in add.triggers]
GUARDED = [table for table, add in ADDITIONS.items() if f"trg_{table}_reject_pii" in add.triggers]


# == catalog ===================================================================================
@pytest.mark.parametrize("table", ADDITIONS)
def test_added_unique_constraints_are(catalog, table):
    pgtap.constraints_are(catalog, table, "u", additions.added(table).unique)


@pytest.mark.parametrize("table", ADDITIONS)
def test_added_foreign_keys_are_defined_as_listed(catalog, table):
    """Definition as pg_get_constraintdef prints it: columns, target, ON DELETE and its column list."""
    have = dict(catalog.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype = 'f'", [table]).fetchall())  # fmt: skip
    for name, definition in additions.added(table).foreign_keys.items():
        assert have.get(name) == definition, f"{table}.{name} is {have.get(name)!r}, expected {definition!r}"


@pytest.mark.parametrize("table", ADDITIONS)
def test_added_indexes_are_defined_as_listed(catalog, table):
    pgtap.has_table(catalog, table)
    for name, index in additions.added(table).indexes.items():
        pgtap.has_index(catalog, table, name, index.columns, unique=index.unique, where=index.where)


def test_added_constraints_are_validated(catalog):
    """Schema-wide: no constraint is left NOT VALID (each added NOT VALID is validated by a later migration)."""
    added = [name for table in ADDITIONS for name in (*additions.added(table).foreign_keys,
                                                       *additions.added(table).unique)]  # fmt: skip
    present = {r[0] for r in catalog.execute(
        "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace")}  # fmt: skip
    assert set(added) <= present, f"added constraints missing: {sorted(set(added) - present)}"
    assert LEDGER_CHECK in present, f"{LEDGER_CHECK} is missing"
    pending = catalog.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace AND NOT convalidated ORDER BY 1, 2"
    ).fetchall()
    assert not pending, f"constraints left NOT VALID (old rows never checked): {pending}"


def test_ledger_verified_check_is_defined_as_listed(catalog):
    have = catalog.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'revenue_ledger'::regclass "
        "AND conname = %s", [LEDGER_CHECK]).fetchone()  # fmt: skip
    assert have == ("CHECK (((NOT is_verified) OR (verified_at IS NOT NULL)))",), have


def test_trigger_when_clauses_call_only_non_volatile_non_strict_functions(catalog):
    """A function in a trigger's WHEN clause decides whether the guard runs at all: it must be
    IMMUTABLE or STABLE (the same payload gets the same answer; STABLE where the body needs it,
    e.g. pg_column_size in raw_payload_within_limits), never VOLATILE, so the planner can inline
    it, and not STRICT (a NULL argument must reach the function, not silently skip the guard)."""
    rows_ = catalog.execute(
        "SELECT t.tgname, p.oid::regprocedure::text, p.provolatile, p.proisstrict "
        "FROM pg_trigger t JOIN pg_depend d ON d.classid = 'pg_trigger'::regclass AND d.objid = t.oid "
        "JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND d.refobjid = p.oid "
        "WHERE NOT t.tgisinternal AND t.tgqual IS NOT NULL AND p.oid <> t.tgfoid "
        "AND t.tgrelid::regclass::text NOT LIKE 'pg\\_%%'"
    ).fetchall()
    assert rows_, "no trigger WHEN clause calls a function (the PII guard's trigger should)"
    bad = [(trigger, fn, vol, strict) for trigger, fn, vol, strict in rows_ if vol not in ("i", "s") or strict]
    assert not bad, f"WHEN-clause functions that are VOLATILE or STRICT (trigger, function, provolatile, proisstrict): {bad}"


@pytest.mark.parametrize("table", ADDITIONS)
def test_triggers_are(catalog, table):
    pgtap.triggers_are(catalog, table, additions.added(table).triggers)


@pytest.mark.parametrize("signature", FUNCTIONS)
def test_has_function(catalog, signature):
    pgtap.has_function(catalog, signature, FUNCTIONS[signature])


def test_every_table_with_updated_at_has_the_audit_trigger(catalog):
    """Schema-wide rule: a future table with updated_at cannot forget the trigger."""
    missing = catalog.execute(
        "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'updated_at' AND NOT a.attisdropped "
        "AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal "
        "  AND t.tgfoid = 'maintain_audit_timestamps()'::regprocedure)"
    ).fetchall()
    assert missing == [], f"tables with updated_at but without maintain_audit_timestamps: {missing}"


def test_every_raw_payload_column_has_the_pii_guard(catalog):
    missing = catalog.execute(
        "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attname = 'raw_payload' AND NOT a.attisdropped "
        "AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal "
        "  AND t.tgfoid = 'reject_pii_in_raw_payload()'::regprocedure)"
    ).fetchall()
    assert missing == [], f"tables with raw_payload but without the PII guard: {missing}"


# == fixtures ==================================================================================
@pytest.fixture
def two(db):
    """Tenants A and B, each with one row per table, inside the rolled-back transaction."""
    return rows.full_tenant(db, "Tenant A"), rows.full_tenant(db, "Tenant B")


@pytest.fixture
def app_rw(attacker):
    """A connection acting as app_rw for tenant A (committed tenants A and B of the isolation
    checks' ``world``), in a transaction that is rolled back."""
    return attacker("app_rw")


# == 1. references stay inside their tenant =====================================================
def _allocation(conn, tenant_id, event_id):
    values = {**rows.DEFAULTS["attribution_allocations"](), "tenant_id": tenant_id, "event_id": event_id}
    return rows.insert_sql("attribution_allocations", values), list(values.values())


def _ledger(conn, tenant_id, run_id, **more):
    values = {**rows.DEFAULTS["revenue_ledger"](), "tenant_id": tenant_id, "reconciliation_run_id": run_id, **more}
    return rows.insert_sql("revenue_ledger", values), list(values.values())


def test_owner_cannot_point_an_allocation_at_another_tenants_event(db, two):
    a, b = two
    throws_ok(db, *_allocation(db, a["tenants"], b["attribution_events"]), FK_VIOLATION, ALLOCATION_FK)


def test_owner_cannot_point_a_ledger_row_at_another_tenants_run(db, two):
    a, b = two
    throws_ok(db, *_ledger(db, a["tenants"], b["reconciliation_runs"]), FK_VIOLATION, LEDGER_FK)


def test_owner_cannot_point_a_ledger_row_at_a_missing_run(db, two):
    """The dictionary documents no foreign key here: before 202511131401 any uuid was accepted."""
    a, _ = two
    throws_ok(db, *_ledger(db, a["tenants"], uuid.uuid4()), FK_VIOLATION, LEDGER_FK)


def test_same_tenant_references_work(db, two):
    a, _ = two
    lives_ok(db, *_allocation(db, a["tenants"], a["attribution_events"]))
    lives_ok(db, *_ledger(db, a["tenants"], a["reconciliation_runs"]))
    lives_ok(db, *_ledger(db, a["tenants"], None))  # a ledger row without a run stays allowed


def test_moving_an_allocation_to_another_tenant_is_rejected(db, two):
    a, b = two
    throws_ok(db, "UPDATE attribution_allocations SET tenant_id = %s WHERE id = %s",
              [b["tenants"], a["attribution_allocations"]], FK_VIOLATION, ALLOCATION_FK)  # fmt: skip
    throws_ok(db, "UPDATE attribution_allocations SET event_id = %s WHERE id = %s",
              [b["attribution_events"], a["attribution_allocations"]], FK_VIOLATION, ALLOCATION_FK)  # fmt: skip


def test_moving_an_event_with_allocations_to_another_tenant_is_rejected(db, two):
    a, b = two
    throws_ok(db, "UPDATE attribution_events SET tenant_id = %s WHERE id = %s",
              [b["tenants"], a["attribution_events"]], FK_VIOLATION, ALLOCATION_FK)  # fmt: skip


def test_moving_a_run_named_by_the_ledger_to_another_tenant_is_rejected(db, two):
    a, b = two
    db.execute("UPDATE revenue_ledger SET reconciliation_run_id = %s WHERE id = %s",
               [a["reconciliation_runs"], a["revenue_ledger"]])  # fmt: skip
    throws_ok(db, "UPDATE reconciliation_runs SET tenant_id = %s WHERE id = %s",
              [b["tenants"], a["reconciliation_runs"]], FK_VIOLATION, LEDGER_FK)  # fmt: skip


def test_deleting_an_event_still_deletes_its_allocations(db, two):
    a, b = two
    db.execute("DELETE FROM attribution_events WHERE id = %s", [a["attribution_events"]])
    results_eq(db, "SELECT tenant_id FROM attribution_allocations", [], [(b["tenants"],)])


def test_deleting_a_run_clears_only_the_ledger_reference(db, two):
    a, _ = two
    ledger = db.execute(*_ledger(db, a["tenants"], a["reconciliation_runs"], revenue_cents=777)).fetchone()[0]
    db.execute("DELETE FROM reconciliation_runs WHERE id = %s", [a["reconciliation_runs"]])
    results_eq(db, "SELECT tenant_id, reconciliation_run_id, revenue_cents FROM revenue_ledger WHERE id = %s",
               [ledger], [(a["tenants"], None, 777)])  # fmt: skip


def test_deleting_a_tenant_with_linked_rows_removes_everything(db, two):
    a, b = two
    db.execute(*_ledger(db, a["tenants"], a["reconciliation_runs"]))
    db.execute("DELETE FROM tenants WHERE id = %s", [a["tenants"]])
    for table in rows.DEFAULTS:
        results_eq(db, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", [a["tenants"]], [(0,)])
        results_eq(db, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", [b["tenants"]], [(1,)])


def test_app_rw_cannot_point_an_allocation_at_another_tenants_event(world, app_rw):
    """RLS hides B's event, but foreign-key checks ignore RLS: only the composite key stops this."""
    throws_ok(app_rw, *_allocation(app_rw, world["A"]["tenants"], world["B"]["attribution_events"]),
              FK_VIOLATION, ALLOCATION_FK)  # fmt: skip


def test_app_rw_cannot_repoint_its_allocation_at_another_tenants_event(world, app_rw):
    throws_ok(app_rw, "UPDATE attribution_allocations SET event_id = %s WHERE id = %s",
              [world["B"]["attribution_events"], world["A"]["attribution_allocations"]],
              FK_VIOLATION, ALLOCATION_FK)  # fmt: skip


def test_app_rw_cannot_point_a_ledger_row_at_another_tenants_run(world, app_rw):
    throws_ok(app_rw, *_ledger(app_rw, world["A"]["tenants"], world["B"]["reconciliation_runs"]),
              FK_VIOLATION, LEDGER_FK)  # fmt: skip
    throws_ok(app_rw, "UPDATE revenue_ledger SET reconciliation_run_id = %s WHERE id = %s",
              [world["B"]["reconciliation_runs"], world["A"]["revenue_ledger"]], FK_VIOLATION, LEDGER_FK)  # fmt: skip


def test_app_rw_same_tenant_references_work(world, app_rw):
    a = world["A"]
    lives_ok(app_rw, *_allocation(app_rw, a["tenants"], a["attribution_events"]))
    lives_ok(app_rw, *_ledger(app_rw, a["tenants"], a["reconciliation_runs"]))
    assert app_rw.execute("DELETE FROM reconciliation_runs WHERE id = %s", [a["reconciliation_runs"]]).rowcount == 1
    results_eq(app_rw, "SELECT count(*) FROM revenue_ledger WHERE reconciliation_run_id IS NOT NULL", [], [(0,)])


# == 2. updated_at and created_at ==============================================================
# A harmless change per table, to prove that any UPDATE (not only of updated_at) sets it.
TOUCH = {
    "tenants": "name = name || '!'",
    "attribution_events": "revenue_cents = revenue_cents + 1",
    "attribution_allocations": "channel = 'facebook_ads'",
    "revenue_ledger": "revenue_cents = revenue_cents + 1",
    "reconciliation_runs": "state = 'running'",
}
OLD = "2000-01-01T00:00:00Z"


def _old_row(db, table):
    """A row whose created_at and updated_at lie in the past, as if written long ago."""
    if table == "tenants":
        return rows.insert(db, "tenants", name="Audited", created_at=OLD, updated_at=OLD)
    tenant = rows.tenant(db, "Audited")
    extra = {"event_id": rows.event(db, tenant)} if table == "attribution_allocations" else {}
    return rows.insert(db, table, tenant_id=tenant, created_at=OLD, updated_at=OLD, **extra)


def test_every_audited_table_is_touched():
    assert set(TOUCH) == set(AUDITED)


@pytest.mark.parametrize("table", AUDITED)
def test_update_sets_updated_at_to_now(db, table):
    row = _old_row(db, table)
    db.execute(f"UPDATE {table} SET {TOUCH[table]} WHERE id = %s", [row])
    results_eq(db, f"SELECT updated_at = now(), created_at = %s::timestamptz FROM {table} WHERE id = %s",
               [OLD, row], [(True, True)])  # fmt: skip


@pytest.mark.parametrize("table", AUDITED)
def test_updated_at_cannot_be_set_by_hand(db, table):
    row = _old_row(db, table)
    db.execute(f"UPDATE {table} SET updated_at = '1999-01-01' WHERE id = %s", [row])
    results_eq(db, f"SELECT updated_at = now() FROM {table} WHERE id = %s", [row], [(True,)])


@pytest.mark.parametrize("table", AUDITED)
def test_changing_created_at_is_rejected(db, table):
    row = _old_row(db, table)
    exc = throws_ok(db, f"UPDATE {table} SET created_at = now() WHERE id = %s", [row], CHECK_VIOLATION,
                    f"{table}.created_at is immutable")  # fmt: skip
    assert (exc.diag.table_name, exc.diag.column_name) == (table, "created_at")
    results_eq(db, f"SELECT created_at = %s::timestamptz FROM {table} WHERE id = %s", [OLD, row], [(True,)])


@pytest.mark.parametrize("table", AUDITED)
def test_writing_created_at_unchanged_is_accepted(db, table):
    row = _old_row(db, table)
    lives_ok(db, f"UPDATE {table} SET created_at = created_at, {TOUCH[table]} WHERE id = %s", [row])


def test_updated_at_is_maintained_for_app_rw(world, app_rw):
    row = world["A"]["attribution_allocations"]
    before = app_rw.execute("SELECT updated_at FROM attribution_allocations WHERE id = %s", [row]).fetchone()[0]
    app_rw.execute("UPDATE attribution_allocations SET channel = 'email' WHERE id = %s", [row])
    results_eq(app_rw, "SELECT updated_at > %s, updated_at = now() FROM attribution_allocations WHERE id = %s",
               [before, row], [(True, True)])  # fmt: skip
    throws_ok(app_rw, "UPDATE attribution_allocations SET created_at = now() WHERE id = %s", [row], CHECK_VIOLATION)


# == 3. PII guard on raw_payload ================================================================
SECRET = "alice.secret@example.com"


def _payload_insert(table, tenant, payload):
    values = {**rows.DEFAULTS[table](), "tenant_id": tenant, "raw_payload": json.dumps(payload)}
    return rows.insert_sql(table, values), list(values.values())


def pii_keys(conn) -> list[str]:
    """The key list, read from its one source: pii_keys() in the database."""
    return conn.execute("SELECT pii_keys()").fetchone()[0]


def test_pii_keys_is_the_one_list(catalog):
    """pii_keys() holds distinct, lower-case, NFKC-normal keys (email among them), and no other
    function of the schema spells one of them: the list is kept in exactly one place."""
    keys = pii_keys(catalog)
    assert "email" in keys and len(set(keys)) == len(keys), keys
    assert all(k == k.lower() == unicodedata.normalize("NFKC", k) for k in keys), keys
    spelled = catalog.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.proname <> 'pii_keys' "
        "AND EXISTS (SELECT FROM unnest(%s::text[]) AS k WHERE strpos(p.prosrc, quote_literal(k)) > 0)",
        [keys],
    ).fetchall()
    assert not spelled, f"functions repeating a key of pii_keys(): {spelled}"


@pytest.mark.parametrize("table", GUARDED)
def test_every_listed_key_is_rejected(db, table):
    """Each key of pii_keys(), as written there, fails the insert naming its path."""
    tenant = rows.tenant(db)
    for key in pii_keys(db):
        throws_ok(db, *_payload_insert(table, tenant, {key: SECRET}), CHECK_VIOLATION,
                  f"{table}.raw_payload holds PII key(s) at $.{key}")  # fmt: skip


REJECTED = [
    ({"Email": SECRET}, "$.Email"),
    ({"PHONE_NUMBER": SECRET}, "$.PHONE_NUMBER"),
    ({"IP": SECRET}, "$.IP"),
    ({"customer": {"Email": SECRET}}, "$.customer.Email"),
    ({"order": {"billing": {"customer": {"first_name": SECRET}}}}, "$.order.billing.customer.first_name"),
    ({"customer": [{"id": 1}, {"email": SECRET}]}, "$.customer[1].email"),
    ({"a": [[{"x": [{"Ssn": SECRET}]}]]}, "$.a[0][0].x[0].Ssn"),
    ([{"ip_address": SECRET}], "$[0].ip_address"),
    ({"weird key": {"Address": SECRET}}, '$."weird key".Address'),
    ({"EMAIL": None}, "$.EMAIL"),  # the key alone is PII, whatever its value
    ({"Phone": {"home": "1"}}, "$.Phone"),
]
ACCEPTED = [
    {},
    [],
    {"note": "please email me at the address on file, phone or ssn"},
    {"fields": ["email", "phone", "first_name", "ip"]},
    {"emailed": True, "phones": 2, "ip_range": "10/8", "addresses": [], "user_email_hash": "ab12"},
    {"type": "email", "channel": {"name": "phone"}},
    {"order": {"id": 1, "total": 12.5, "lines": [{"sku": "a", "qty": 1}]}},
    "just a string mentioning email",
    42,
]


@pytest.mark.parametrize("table", GUARDED)
@pytest.mark.parametrize(("payload", "path"), REJECTED, ids=[p for _, p in REJECTED])
def test_payload_with_pii_key_is_rejected_naming_the_path_not_the_value(db, table, payload, path):
    tenant = rows.tenant(db)
    exc = throws_ok(db, *_payload_insert(table, tenant, payload), CHECK_VIOLATION,
                    f"{table}.raw_payload holds PII key(s) at {path}")  # fmt: skip
    assert SECRET not in str(exc) and SECRET not in repr(exc.diag.__dict__)
    for field in (exc.diag.message_detail, exc.diag.message_hint, exc.diag.context):
        assert SECRET not in (field or "")
    assert (exc.diag.table_name, exc.diag.column_name) == (table, "raw_payload")


@pytest.mark.parametrize("table", GUARDED)
@pytest.mark.parametrize("payload", ACCEPTED, ids=[json.dumps(p)[:30] for p in ACCEPTED])
def test_payload_without_pii_keys_is_accepted(db, table, payload):
    lives_ok(db, *_payload_insert(table, rows.tenant(db), payload))


def test_every_offending_path_is_named(db):
    payload = {"customer": {"email": SECRET, "phone": SECRET}, "items": [{"ip": SECRET}]}
    exc = throws_ok(db, *_payload_insert("attribution_events", rows.tenant(db), payload), CHECK_VIOLATION)
    for path in ("$.customer.email", "$.customer.phone", "$.items[0].ip"):
        assert path in exc.diag.message_primary, exc.diag.message_primary


@pytest.mark.parametrize("table", GUARDED)
def test_update_of_raw_payload_with_pii_is_rejected(db, table):
    row = rows.insert(db, table, tenant_id=rows.tenant(db))
    throws_ok(db, f"UPDATE {table} SET raw_payload = %s WHERE id = %s",
              [json.dumps({"x": {"email": SECRET}}), row], CHECK_VIOLATION, "$.x.email")  # fmt: skip


def test_fast_test_and_path_walk_agree(catalog):
    """has_pii_key (run on every write) and pii_key_paths (run to word the error) find the same."""
    for payload in [p for p, _ in REJECTED] + [{key: SECRET} for key in pii_keys(catalog)]:
        results_eq(catalog, "SELECT has_pii_key(%s), cardinality(pii_key_paths(%s)) > 0",
                   [json.dumps(payload)] * 2, [(True, True)])  # fmt: skip
    for payload in ACCEPTED:
        results_eq(catalog, "SELECT has_pii_key(%s), pii_key_paths(%s)", [json.dumps(payload)] * 2, [(False, [])])


def test_app_rw_is_guarded_too(world, app_rw):
    tenant = world["A"]["tenants"]
    throws_ok(app_rw, *_payload_insert("dead_events", tenant, {"customer": {"email": SECRET}}),
              CHECK_VIOLATION, "$.customer.email")  # fmt: skip
    lives_ok(app_rw, *_payload_insert("attribution_events", tenant, {"customer": {"id": 7}}))


# == 4. ledger consistency ======================================================================
@pytest.mark.parametrize(
    ("is_verified", "verified_at", "ok"),
    [(True, None, False), (True, "2025-11-01T12:00:00Z", True), (False, None, True), (False, "2025-11-01T12:00:00Z", True)],
)
def test_verified_ledger_row_has_verified_at(db, is_verified, verified_at, ok):
    query, params = _ledger(db, rows.tenant(db), None, is_verified=is_verified, verified_at=verified_at)
    if ok:
        lives_ok(db, query, params)
    else:
        throws_ok(db, query, params, CHECK_VIOLATION, LEDGER_CHECK)


@pytest.mark.parametrize("cents", [0, 1, 1000, 2_147_483_647])
def test_verified_without_verified_at_is_rejected_whatever_the_amount(db, cents):
    query, params = _ledger(db, rows.tenant(db), None, is_verified=True, verified_at=None, revenue_cents=cents)
    throws_ok(db, query, params, CHECK_VIOLATION, LEDGER_CHECK)


def test_verifying_without_a_timestamp_is_rejected(db, two):
    a, _ = two
    throws_ok(db, "UPDATE revenue_ledger SET is_verified = true WHERE id = %s", [a["revenue_ledger"]],
              CHECK_VIOLATION, LEDGER_CHECK)  # fmt: skip
    lives_ok(db, "UPDATE revenue_ledger SET is_verified = true, verified_at = now() WHERE id = %s",
             [a["revenue_ledger"]])  # fmt: skip



# == upgrading a database that already holds rows ==============================================
def test_upgrade_with_a_cross_tenant_row_stops_at_validation_naming_the_constraint(make_database):
    """Rows written before 202511131400 are checked when 202511131405 validates: a broken one
    stops the upgrade there, with the constraint's name, and leaves the NOT VALID key in force."""
    url = make_database("upgrade")
    migrator = Migrator(url)
    quiet = lambda line: None  # noqa: E731
    try:
        pending = migrator.status().pending
        migrator.apply(report=quiet, limit=pending.index("202511131400_keep_allocations_inside_their_tenant"))
        with psycopg.connect(url) as conn:
            a, b = rows.full_tenant(conn, "Tenant A"), rows.full_tenant(conn, "Tenant B")
            conn.execute(*_allocation(conn, a["tenants"], b["attribution_events"]))  # the hole, before the fix
        with pytest.raises(CliError) as failure:
            migrator.apply(report=quiet)
        assert "202511131405_validate_integrity_constraints" in str(failure.value)
        assert FK_VIOLATION in str(failure.value) and ALLOCATION_FK in str(failure.value)
        still_pending = migrator.status().pending
        assert still_pending[0] == "202511131405_validate_integrity_constraints", still_pending
        with psycopg.connect(url) as conn:  # new rows are checked all the same
            throws_ok(conn, *_allocation(conn, a["tenants"], b["attribution_events"]), FK_VIOLATION, ALLOCATION_FK)
    finally:
        migrator.backend.connection.close()

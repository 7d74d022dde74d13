"""Issue 14: no single row, no application role and no lock can stop the read models' refresh.

- finite timestamps: every timestamptz column an application role can write rejects
  'infinity' and '-infinity' (23514, ck_<table>_<column>_finite);
- freshness cannot make a refresh fail, whatever max(updated_at) holds; money stays exact
  numeric beyond float precision;
- single flight rests on a row lock of read_model_refreshes, a table the application roles
  cannot touch; an advisory lock of any key held by an app_ro login changes nothing;
- refresh_read_models() isolates a failing view; both refresh functions pin search_path;
- the sidecar retries with backoff, stops on SIGTERM while blocked, warns when a view is stale.
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from checks import pgtap, rows
from checks.additions import FINITE_TIMESTAMPS
from checks.cli import run_cli
from checks.contract import APP_ROLES, MATERIALIZED_VIEWS
from checks.pgtap import throws_ok

VIEWS = ("mv_realtime_revenue", "mv_reconciliation_status")
REFRESH_ALL = "SELECT view_name, refreshed, refresh_mode, detail FROM refresh_read_models(force => true)"
BOTH_REFRESHED = [("mv_realtime_revenue", True, "concurrent", "refreshed"),
                  ("mv_reconciliation_status", True, "concurrent", "refreshed")]  # fmt: skip
FUNCTIONS = ("refresh_read_model(text, interval, boolean)", "refresh_read_models(interval, boolean)")
FINITE = [(table, column) for table, columns in FINITE_TIMESTAMPS.items() for column in columns]


def as_role(conn, role: str, tenant=None) -> None:
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    if tenant is not None:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant)])


def freshness(conn, tenant) -> int:
    return conn.execute("SELECT data_freshness_seconds FROM mv_realtime_revenue WHERE tenant_id = %s",
                        [tenant]).fetchone()[0]  # fmt: skip


def as_if_written_before_the_finite_checks(conn, table: str, column: str) -> None:
    """The honest way to hold an infinite value now: drop the check in this (rolled-back)
    transaction, i.e. the state of a database whose rows were written before 202611281500
    (or by the owner): the read models must survive such rows too."""
    conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
        sql.Identifier(table), sql.Identifier(f"ck_{table}_{column}_finite")))  # fmt: skip


# == finite timestamps ===========================================================================
def test_every_app_writable_timestamptz_column_has_a_finite_check(catalog):
    """Schema-wide rule: a future timestamptz column an application role can write is caught."""
    writable = catalog.execute(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
        "AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'timestamptz'::regtype "
        "AND (has_column_privilege('app_rw', c.oid, a.attname, 'INSERT') "
        "  OR has_column_privilege('app_rw', c.oid, a.attname, 'UPDATE') "
        "  OR has_column_privilege('app_ro', c.oid, a.attname, 'INSERT') "
        "  OR has_column_privilege('app_ro', c.oid, a.attname, 'UPDATE'))"
    ).fetchall()
    assert sorted(writable) == sorted(FINITE), "update FINITE_TIMESTAMPS and add a ck_<table>_<column>_finite check"


@pytest.mark.parametrize(("table", "column"), FINITE)
def test_finite_check_is_defined_and_validated(catalog, table, column):
    row = catalog.execute(
        "SELECT pg_get_constraintdef(oid), convalidated FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND conname = %s", [table, f"ck_{table}_{column}_finite"]).fetchone()  # fmt: skip
    assert row == (f"CHECK (isfinite({column}))", True), f"{table}.{column}: {row}"


@pytest.mark.parametrize("value", ["infinity", "-infinity"])
@pytest.mark.parametrize(("table", "column"), FINITE)
def test_app_rw_cannot_write_an_infinite_timestamp(db, table, column, value):
    owned = rows.full_tenant(db, "Finite")
    values = {**rows.values_for(table, owned), column: value}
    as_role(db, "app_rw", owned["tenants"])
    throws_ok(db, rows.insert_sql(table, values), list(values.values()), "23514", f"ck_{table}_{column}_finite")
    finite = {**values, column: "2025-11-01T12:00:00Z"}
    if table == "attribution_events":
        finite["external_event_id"] = f"ext-{uuid.uuid4()}"
    db.execute(rows.insert_sql(table, finite), list(finite.values()))  # a finite time is accepted


# == values: no single row can break a refresh ==================================================
@pytest.fixture
def tenant(db):
    return rows.tenant(db)


@pytest.mark.parametrize(("updated_at", "expected"), [
    ("1950-01-01T00:00:00Z", 2_147_483_647),   # older than 2^31 s: was 22003 (integer out of range)
    ("4713-01-01 00:00:00+00 BC", 2_147_483_647),
    ("-infinity", 2_147_483_647),              # was 22008
    ("infinity", 0),                           # was 22008
    ("294276-12-31T00:00:00Z", 0),
])  # fmt: skip
def test_no_updated_at_can_make_the_refresh_fail(db, tenant, updated_at, expected):
    victim = rows.tenant(db, "Victim")
    rows.insert(db, "revenue_ledger", tenant_id=victim, revenue_cents=700)
    as_if_written_before_the_finite_checks(db, "revenue_ledger", "updated_at")
    rows.insert(db, "revenue_ledger", tenant_id=tenant, updated_at=updated_at)
    assert db.execute(REFRESH_ALL).fetchall() == BOTH_REFRESHED
    assert freshness(db, tenant) == expected
    assert db.execute("SELECT total_revenue FROM mv_realtime_revenue WHERE tenant_id = %s",
                      [victim]).fetchone() == (Decimal("7.00"),), "every other tenant is served"  # fmt: skip


def test_freshness_just_below_the_integer_limit_is_exact(db, tenant):
    at = db.execute("SELECT now() - make_interval(secs => 2147483000)").fetchone()[0]
    rows.insert(db, "revenue_ledger", tenant_id=tenant, updated_at=at)
    assert db.execute(REFRESH_ALL).fetchall() == BOTH_REFRESHED
    assert freshness(db, tenant) == 2_147_483_000


@pytest.mark.parametrize("last_run_at", ["infinity", "-infinity", "1900-01-01T00:00:00Z"])
def test_no_last_run_at_can_make_the_status_refresh_fail(db, tenant, last_run_at):
    as_if_written_before_the_finite_checks(db, "reconciliation_runs", "last_run_at")
    rows.insert(db, "reconciliation_runs", tenant_id=tenant, last_run_at=last_run_at)
    rows.insert(db, "reconciliation_runs", tenant_id=tenant, last_run_at="2025-11-01T00:00:00Z")
    assert db.execute(REFRESH_ALL).fetchall() == BOTH_REFRESHED


def test_total_is_exact_money_beyond_float_precision(db, tenant):
    """466,000 rows of 2^31-1 cents and one of 1 cent: 10,007,273,795,020.01 dollars has 16
    significant digits; through float8 (15 digits kept by ::numeric) it would end in .00."""
    db.execute(
        "INSERT INTO revenue_ledger (tenant_id, revenue_cents) "
        "SELECT %s, 2147483647 FROM generate_series(1, 466000)", [tenant])  # fmt: skip
    rows.insert(db, "revenue_ledger", tenant_id=tenant, revenue_cents=1)
    assert db.execute(REFRESH_ALL).fetchall() == BOTH_REFRESHED
    total = db.execute("SELECT total_revenue FROM mv_realtime_revenue WHERE tenant_id = %s", [tenant]).fetchone()[0]
    assert total == Decimal("10007273795020.01") and str(total) == "10007273795020.01"


@pytest.mark.parametrize(("view", "columns"), [
    ("v_realtime_revenue_current_tenant", MATERIALIZED_VIEWS["mv_realtime_revenue"]["columns"]),
    ("v_reconciliation_status_current_tenant",
     [c for c in MATERIALIZED_VIEWS["mv_reconciliation_status"]["columns"] if c[0] != "reconciliation_run_id"]),
])  # fmt: skip
def test_current_tenant_view_exposes_exactly_the_response_columns(catalog, view, columns):
    pgtap.columns_typed(catalog, view, columns)


# == the refresh functions ======================================================================
@pytest.mark.parametrize("function", FUNCTIONS)
def test_refresh_function_pins_its_search_path(catalog, function):
    config = catalog.execute("SELECT proconfig FROM pg_proc WHERE oid = %s::regprocedure", [function]).fetchone()[0]
    assert config == ["search_path=pg_catalog, public"], f"{function} runs with {config}"


def shadowing_schema(db) -> None:
    """A caller's search_path that puts its own read_model_refreshes and refresh_read_model first."""
    db.execute("CREATE SCHEMA shadow")
    db.execute("CREATE TABLE shadow.read_model_refreshes (LIKE public.read_model_refreshes INCLUDING ALL)")
    db.execute("""CREATE FUNCTION shadow.refresh_read_model(target text, ttl interval, force boolean)
        RETURNS TABLE (view_name text, refreshed boolean, refresh_mode text, duration_ms numeric, detail text)
        LANGUAGE sql AS $$ SELECT target, true, 'concurrent', 0::numeric, 'refreshed' $$""")
    db.execute("SET LOCAL search_path = shadow, public")


def refresh_counts(db) -> dict:
    return dict(db.execute("SELECT view_name, refresh_count FROM public.read_model_refreshes").fetchall())


@pytest.mark.parametrize("call", [
    "SELECT view_name, refreshed, refresh_mode, detail FROM public.refresh_read_model('mv_realtime_revenue', '0 s', true)",
    "SELECT view_name, refreshed, refresh_mode, detail FROM public.refresh_read_models(force => true)",
])  # fmt: skip
def test_a_shadowing_search_path_cannot_divert_the_refresh(db, call):
    before = refresh_counts(db)
    shadowing_schema(db)
    got = db.execute(call).fetchall()
    assert all(r[1] for r in got), got
    after = refresh_counts(db)
    assert all(after[r[0]] == before[r[0]] + 1 for r in got), f"public bookkeeping not updated: {before} -> {after}"
    assert db.execute("SELECT count(*) FROM shadow.read_model_refreshes").fetchone() == (0,)


@pytest.mark.parametrize("failing", VIEWS)
def test_one_failing_view_never_stops_the_other(db, failing):
    db.execute("CREATE ROLE read_model_owner_bound_by_rls NOLOGIN")
    db.execute(sql.SQL("ALTER MATERIALIZED VIEW {} OWNER TO read_model_owner_bound_by_rls").format(sql.Identifier(failing)))
    before = refresh_counts(db)
    got = {r[0]: r for r in db.execute(REFRESH_ALL).fetchall()}
    assert list(got) == list(VIEWS), "one row per view, in order"
    name, refreshed, mode, detail = got[failing]
    assert (refreshed, mode) == (False, None)
    assert detail.startswith("failed: 42501 refusing to refresh"), detail
    other = next(v for v in VIEWS if v != failing)
    assert got[other][1:] == (True, "concurrent", "refreshed")
    after = refresh_counts(db)
    assert (after[failing], after[other]) == (before[failing], before[other] + 1)


@pytest.mark.parametrize("ttl", ["-1 s", None])
def test_refresh_all_rejects_a_bad_ttl(db, ttl):
    throws_ok(db, "SELECT * FROM refresh_read_models(%s::interval)", [ttl], "22023")


def test_a_future_last_refreshed_at_never_postpones_a_refresh(db):
    db.execute("UPDATE read_model_refreshes SET last_refreshed_at = '2999-01-01', last_duration_ms = 0, "
               "last_mode = 'concurrent'")  # fmt: skip
    got = db.execute("SELECT view_name, refreshed FROM refresh_read_models(ttl => '1 hour')").fetchall()
    assert got == [("mv_realtime_revenue", True), ("mv_reconciliation_status", True)]


def test_every_view_has_its_bookkeeping_row(catalog):
    assert {r[0] for r in catalog.execute("SELECT view_name FROM read_model_refreshes")} == set(VIEWS)


def test_a_deleted_bookkeeping_row_is_recreated(db):
    db.execute("DELETE FROM read_model_refreshes WHERE view_name = 'mv_realtime_revenue'")
    assert db.execute("SELECT refreshed FROM refresh_read_model('mv_realtime_revenue', '0 s', true)").fetchone() == (True,)
    assert db.execute("SELECT refresh_count FROM read_model_refreshes WHERE view_name = 'mv_realtime_revenue'"
                      ).fetchone() == (1,)  # fmt: skip


@pytest.mark.parametrize("assignment", ["last_refreshed_at = now()", "last_mode = 'plain'",
                                        "last_refreshed_at = now(), last_duration_ms = 1"])
def test_a_refresh_is_recorded_whole_or_not_at_all(db, assignment):
    db.execute("UPDATE read_model_refreshes SET last_refreshed_at = NULL, last_duration_ms = NULL, last_mode = NULL")
    throws_ok(db, f"UPDATE read_model_refreshes SET {assignment}", (), "23514",
              "ck_read_model_refreshes_recorded_together")  # fmt: skip


# == read_model_refreshes: checked like the five tables =========================================
def test_read_model_refreshes_rls_is_enabled_and_forced(catalog):
    pgtap.rls_enabled(catalog, "read_model_refreshes", forced=True)


@pytest.mark.parametrize("role", [*APP_ROLES, "PUBLIC"])
def test_read_model_refreshes_grants_nothing(catalog, role):
    pgtap.table_privs_are(catalog, "read_model_refreshes", role, [])
    if role != "PUBLIC":
        effective = [p for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
                     if catalog.execute("SELECT has_table_privilege(%s, 'read_model_refreshes', %s)", [role, p]).fetchone()[0]]  # fmt: skip
        assert effective == [], f"{role} may {effective} on read_model_refreshes"


TAMPERING = [
    "SELECT * FROM read_model_refreshes",
    "SELECT * FROM read_model_refreshes WHERE view_name = 'mv_realtime_revenue' FOR UPDATE",
    "SELECT * FROM read_model_refreshes FOR KEY SHARE NOWAIT",
    "UPDATE read_model_refreshes SET last_refreshed_at = '2999-01-01'",
    "INSERT INTO read_model_refreshes (view_name, last_refreshed_at, last_duration_ms, last_mode) "
    "VALUES ('mv_x', '2999-01-01', 0, 'plain')",
    "DELETE FROM read_model_refreshes",
    "TRUNCATE read_model_refreshes",
    "LOCK TABLE read_model_refreshes IN ACCESS SHARE MODE",
    "LOCK TABLE read_model_refreshes IN ACCESS EXCLUSIVE MODE",
    "SELECT * FROM refresh_read_models(force => true)",
    "SELECT * FROM refresh_read_model('mv_realtime_revenue', '0 s', true)",
]


@pytest.mark.parametrize("statement", TAMPERING)
@pytest.mark.parametrize("role", APP_ROLES)
def test_app_roles_cannot_tamper_with_the_refresh_bookkeeping(db, role, statement):
    tenant = rows.tenant(db)
    as_role(db, role, tenant)
    throws_ok(db, statement, (), "42501")


@pytest.fixture
def app_ro_login(catalog, migrated_url):
    """A LOGIN member of app_ro, as a service reading the API would be."""
    name, password = f"api_reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    catalog.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE app_ro").format(
        sql.Identifier(name), sql.Literal(password)))
    conn = psycopg.connect(migrated_url, user=name, password=password, autocommit=True)
    yield conn
    conn.close()
    catalog.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_advisory_locks_held_by_an_app_ro_login_cannot_stop_a_refresh(app_ro_login, db):
    """The attack of issue 14: an app_ro login holds the old single-flight keys (and others)."""
    for view in VIEWS:
        app_ro_login.execute("SELECT pg_advisory_lock(hashtext('refresh_read_model'), hashtext(%s))", [view])
        app_ro_login.execute("SELECT pg_advisory_lock_shared(hashtext(%s))", [view])
    app_ro_login.execute("SELECT pg_advisory_lock(hashtext('refresh_read_models'))")
    app_ro_login.execute("SELECT pg_advisory_lock(k) FROM generate_series(0, 99) AS k")
    held = app_ro_login.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                                ).fetchone()[0]  # fmt: skip
    assert held >= 103
    db.execute("SET LOCAL lock_timeout = '2s'")
    assert db.execute(REFRESH_ALL).fetchall() == BOTH_REFRESHED


def test_an_app_ro_login_cannot_lock_the_bookkeeping_row(app_ro_login):
    for statement in TAMPERING[:3]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_ro_login.execute(statement)


# == the sidecar ================================================================================
class Sidecar:
    """`attribution-db refresh --every ...` as a subprocess; its output read line by line."""

    def __init__(self, url: str, *args: str) -> None:
        env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "attribution_db", "refresh", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, predicate, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.lines):
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out; sidecar said:\n{''.join(self.lines)}") from None
            assert line is not None, f"sidecar ended early:\n{''.join(self.lines)}"
            self.lines.append(line)

    def stop(self, timeout: float) -> float:
        """SIGTERM; the seconds it took to exit (fails beyond ``timeout``)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"sidecar still running {timeout} s after SIGTERM:\n{''.join(self.lines)}") from None
        took = time.monotonic() - started
        self.wait_for(lambda lines: any("refresh sidecar stopped" in line for line in lines), timeout=5)
        assert self.proc.returncode == 0, "".join(self.lines)
        return took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def count(lines: list[str], text: str) -> int:
    return sum(text in line for line in lines)


@pytest.fixture(scope="module")
def sidecar_db(make_database):
    url = make_database("sidecar")
    run_cli("migrate", url=url)
    with psycopg.connect(url) as conn:
        t = rows.tenant(conn, "S")
        rows.insert(conn, "revenue_ledger", tenant_id=t, revenue_cents=500)
        rows.insert(conn, "reconciliation_runs", tenant_id=t)
    return url


def test_sidecar_keeps_going_when_a_refresh_fails_and_backs_off(sidecar_db):
    with psycopg.connect(sidecar_db, autocommit=True) as owner:
        owner.execute("CREATE ROLE sidecar_owner_bound_by_rls NOLOGIN")
        owner.execute("ALTER MATERIALIZED VIEW mv_realtime_revenue OWNER TO sidecar_owner_bound_by_rls")
        sidecar = Sidecar(sidecar_db, "--every", "0.2", "--ttl", "0", "--max-backoff", "0.5")
        try:
            sidecar.wait_for(lambda lines: count(lines, "mv_realtime_revenue: error: 42501") >= 4
                             and count(lines, "mv_reconciliation_status: refreshed (concurrent)") >= 4)
            sidecar.stop(timeout=10)
        finally:
            sidecar.kill()
            owner.execute("ALTER MATERIALIZED VIEW mv_realtime_revenue OWNER TO CURRENT_USER")
            owner.execute("DROP ROLE sidecar_owner_bound_by_rls")
    out = "".join(sidecar.lines)
    assert count(sidecar.lines, "mv_reconciliation_status: refreshed (concurrent)") >= 4, out
    delays = [line.rsplit("retrying in ", 1)[1].strip() for line in sidecar.lines if "retrying in " in line]
    assert delays[:4] == ["0.2 s", "0.4 s", "0.5 s", "0.5 s"], out
    assert "Traceback" not in out


def test_sidecar_survives_an_unreachable_server(sidecar_db):
    url = re.sub(r"port=\d+", "port=1", sidecar_db) if "port=" in sidecar_db else re.sub(r":\d+/", ":1/", sidecar_db)
    assert url != sidecar_db
    sidecar = Sidecar(url, "--every", "0.2", "--max-backoff", "0.4")
    try:
        sidecar.wait_for(lambda lines: count(lines, "error: cannot connect") >= 3)
        sidecar.stop(timeout=10)
    finally:
        sidecar.kill()
    assert "Traceback" not in "".join(sidecar.lines)


@pytest.fixture
def ledger_locked(sidecar_db):
    """Another session (the owner) holds ACCESS EXCLUSIVE on revenue_ledger until the check ends."""
    locker = psycopg.connect(sidecar_db)
    locker.execute("LOCK TABLE revenue_ledger IN ACCESS EXCLUSIVE MODE")
    yield locker
    locker.rollback()
    locker.close()


def test_sidecar_stops_on_sigterm_while_its_refresh_waits_on_a_lock(sidecar_db, ledger_locked):
    sidecar = Sidecar(sidecar_db, "--every", "0.2", "--ttl", "0", "--lock-timeout", "120")
    try:
        sidecar.wait_for(lambda lines: count(lines, "refresh sidecar: every") >= 1)
        deadline = time.monotonic() + 20
        with psycopg.connect(sidecar_db, autocommit=True) as watcher:
            while not watcher.execute(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'attribution-db refresh' "
                "AND wait_event_type = 'Lock'").fetchone()[0]:  # fmt: skip
                assert time.monotonic() < deadline, "the sidecar's refresh never waited on the lock"
                time.sleep(0.1)
        took = sidecar.stop(timeout=5)
    finally:
        sidecar.kill()
    assert took < 5


def test_sidecar_times_out_on_a_held_lock_and_warns_when_stale(sidecar_db, ledger_locked):
    sidecar = Sidecar(sidecar_db, "--every", "0.2", "--ttl", "0", "--lock-timeout", "0.3", "--max-backoff", "0.3",
                      "--stale-after", "1")  # fmt: skip
    try:
        sidecar.wait_for(lambda lines: count(lines, "warning: mv_realtime_revenue is stale") >= 1)
        sidecar.stop(timeout=10)
    finally:
        sidecar.kill()
    out = "".join(sidecar.lines)
    assert count(sidecar.lines, "mv_realtime_revenue: error: 55P03") >= 1, out
    assert count(sidecar.lines, "mv_reconciliation_status: refreshed") >= 1, out
    assert count(sidecar.lines, "warning: mv_reconciliation_status is stale") == 0, out

"""The two materialized views, their tenant-scoped read path, and the TTL refresh."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import psycopg
import pytest

from checks import pgtap, rows
from checks.cli import run_cli
from checks.contract import APP_ROLES, CURRENT_TENANT_VIEWS, MATERIALIZED_VIEWS, ROLLUP_VIEWS, VIEW_GRANTS
from checks.pgtap import throws_ok

REFRESH_ALL = "SELECT view_name, refreshed, refresh_mode FROM refresh_read_models(force => true)"


def refresh(conn, view: str = "mv_realtime_revenue", ttl: str = "0 seconds", force: bool = False) -> tuple:
    return conn.execute(
        "SELECT refreshed, refresh_mode, detail FROM refresh_read_model(%s, %s::interval, %s)", [view, ttl, force]
    ).fetchone()


def revenue_row(conn, tenant) -> tuple | None:
    return conn.execute(
        "SELECT total_revenue, verified, data_freshness_seconds FROM mv_realtime_revenue WHERE tenant_id = %s",
        [tenant],
    ).fetchone()


def status_row(conn, tenant) -> tuple | None:
    return conn.execute(
        "SELECT state, last_run_at, reconciliation_run_id FROM mv_reconciliation_status WHERE tenant_id = %s",
        [tenant],
    ).fetchone()


def as_role(conn, role: str, tenant) -> None:
    conn.execute(f"SET LOCAL ROLE {role}")
    if tenant is not None:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant)])


# -- contract -----------------------------------------------------------------------------
def test_materialized_views_are(catalog):
    pgtap.relations_are(catalog, "m", MATERIALIZED_VIEWS)


@pytest.mark.parametrize("view", MATERIALIZED_VIEWS)
def test_materialized_view_columns_and_types(catalog, view):
    pgtap.columns_typed(catalog, view, MATERIALIZED_VIEWS[view]["columns"])


@pytest.mark.parametrize("view", MATERIALIZED_VIEWS)
def test_materialized_view_unique_index_on_tenant_id(catalog, view):
    pgtap.indexes_are(catalog, view, [MATERIALIZED_VIEWS[view]["index"]])
    pgtap.has_index(catalog, view, MATERIALIZED_VIEWS[view]["index"], ["tenant_id"], unique=True)


@pytest.mark.parametrize("view", [*MATERIALIZED_VIEWS, *CURRENT_TENANT_VIEWS])
@pytest.mark.parametrize("role", [*APP_ROLES, "PUBLIC"])
def test_view_grants(catalog, view, role):
    pgtap.table_privs_are(catalog, view, role, VIEW_GRANTS.get(role, set()))


@pytest.mark.parametrize("view", MATERIALIZED_VIEWS)
def test_materialized_view_owner_bypasses_rls(catalog, view):
    """Refresh runs as the owner: it must be the tables' owner and exempt from RLS."""
    owner = pgtap.owner_of(catalog, view)
    assert owner == pgtap.owner_of(catalog, "revenue_ledger"), f"{view} is owned by {owner}"
    attrs = pgtap.has_role(catalog, owner)
    assert attrs["superuser"] or attrs["bypassrls"], f"owner {owner} of {view} is subject to RLS"


def test_current_tenant_views_are(catalog):
    pgtap.relations_are(catalog, "v", [*CURRENT_TENANT_VIEWS, *ROLLUP_VIEWS])


@pytest.mark.parametrize("view", CURRENT_TENANT_VIEWS)
def test_current_tenant_view_is_a_security_barrier(catalog, view):
    options = catalog.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [view]).fetchone()[0]
    assert options and "security_barrier=true" in options, f"{view} options {options}"


@pytest.mark.parametrize("role", [*APP_ROLES, "public"])
@pytest.mark.parametrize("function", ["refresh_read_models(interval, boolean)", "refresh_read_model(text, interval, boolean)"])
def test_refresh_is_not_executable_by_app_roles(catalog, role, function):
    granted = catalog.execute(
        "SELECT has_function_privilege(%s, %s, 'EXECUTE')", [role, function]
    ).fetchone()[0] if role != "public" else catalog.execute(
        "SELECT count(*) > 0 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
        "WHERE p.oid = %s::regprocedure AND a.grantee = 0", [function]).fetchone()[0]  # fmt: skip
    assert not granted, f"{role} may execute {function}"


# -- values -------------------------------------------------------------------------------
@pytest.fixture
def tenant(db):
    return rows.tenant(db)


def test_cents_become_exact_dollars(db, tenant):
    for cents in (1, 2, 1999):
        rows.insert(db, "revenue_ledger", tenant_id=tenant, revenue_cents=cents)
    refresh(db, force=True)
    total = revenue_row(db, tenant)[0]
    assert total == Decimal("20.02") and str(total) == "20.02"


def test_sums_beyond_32_bits_stay_exact(db, tenant):
    for _ in range(3):
        rows.insert(db, "revenue_ledger", tenant_id=tenant, revenue_cents=2_147_483_647)
    refresh(db, force=True)
    assert revenue_row(db, tenant)[0] == Decimal("64424509.41")


@pytest.mark.parametrize(
    ("flags", "expected"), [((True, True), True), ((True, False), False), ((False, False), False), ((True,), True)]
)
def test_verified_only_when_every_row_is(db, tenant, flags, expected):
    for flag in flags:
        rows.insert(db, "revenue_ledger", tenant_id=tenant, is_verified=flag, verified_at="2025-11-01" if flag else None)
    refresh(db, force=True)
    assert revenue_row(db, tenant)[1] is expected


def test_freshness_counts_seconds_since_newest_update(db, tenant):
    # updated_at is set by trigger on UPDATE (202511131402); an INSERT may still date it.
    updated_at = db.execute("SELECT now() - interval '90.7 seconds'").fetchone()[0]
    rows.insert(db, "revenue_ledger", tenant_id=tenant, updated_at=updated_at)
    refresh(db, force=True)
    assert revenue_row(db, tenant)[2] == 90


def test_freshness_is_never_negative(db, tenant):
    updated_at = db.execute("SELECT now() + interval '1 hour'").fetchone()[0]
    rows.insert(db, "revenue_ledger", tenant_id=tenant, updated_at=updated_at)
    refresh(db, force=True)
    assert revenue_row(db, tenant)[2] == 0


def test_tenant_without_ledger_rows_has_no_revenue_row(db, tenant):
    refresh(db, force=True)
    assert revenue_row(db, tenant) is None


def test_latest_run_wins(db, tenant):
    rows.insert(db, "reconciliation_runs", tenant_id=tenant, last_run_at="2025-11-01T10:00Z", state="failed")
    latest = rows.insert(db, "reconciliation_runs", tenant_id=tenant, last_run_at="2025-11-02T10:00Z", state="running")
    rows.insert(db, "reconciliation_runs", tenant_id=tenant, last_run_at="2025-10-01T10:00Z", state="completed")
    refresh(db, "mv_reconciliation_status", force=True)
    state, _at, run_id = status_row(db, tenant)
    assert (state, run_id) == ("running", latest)


def test_tied_last_run_at_is_broken_by_created_at_then_id(db, tenant):
    at = "2025-11-02T10:00Z"
    # created_at cannot change after INSERT (202511131402), so each case inserts its rows.
    low, high = sorted([uuid.uuid4(), uuid.uuid4()])  # Python orders UUIDs as PostgreSQL does
    for run_id, state in ((low, "failed"), (high, "completed")):
        rows.insert(db, "reconciliation_runs", id=run_id, tenant_id=tenant, last_run_at=at, state=state, created_at=at)
    refresh(db, "mv_reconciliation_status", force=True)
    assert status_row(db, tenant)[2] == high, "equal last_run_at and created_at: the greatest id wins"
    db.execute("DELETE FROM reconciliation_runs WHERE id = %s", [low])
    rows.insert(db, "reconciliation_runs", id=low, tenant_id=tenant, last_run_at=at, state="failed",
                created_at="2025-11-02T10:00:01Z")  # fmt: skip
    refresh(db, "mv_reconciliation_status", force=True)
    assert status_row(db, tenant)[2] == low, "equal last_run_at: the later created_at wins"


# -- refresh ------------------------------------------------------------------------------
def test_refresh_picks_up_new_rows(db, tenant):
    rows.insert(db, "revenue_ledger", tenant_id=tenant, revenue_cents=100)
    refresh(db, force=True)
    rows.insert(db, "revenue_ledger", tenant_id=tenant, revenue_cents=250)
    assert revenue_row(db, tenant)[0] == Decimal("1.00"), "a materialized view changes only on refresh"
    refresh(db, force=True)
    assert revenue_row(db, tenant)[0] == Decimal("3.50")


def test_refresh_all_returns_one_row_per_view(db):
    got = db.execute(REFRESH_ALL).fetchall()
    assert got == [("mv_realtime_revenue", True, "concurrent"), ("mv_reconciliation_status", True, "concurrent")]


def test_ttl_is_honoured(db, tenant):
    assert refresh(db, force=True)[0] is True
    rows.insert(db, "revenue_ledger", tenant_id=tenant, revenue_cents=100)
    refreshed, mode, detail = refresh(db, ttl="1 hour")
    assert (refreshed, mode) == (False, None) and "within ttl" in detail
    assert revenue_row(db, tenant) is None, "a skipped refresh leaves the view as it was"
    assert refresh(db, ttl="0 seconds")[0] is True
    assert revenue_row(db, tenant) is not None
    assert refresh(db, ttl="1 hour", force=True)[0] is True


def test_refresh_records_time_duration_and_count(db):
    before = db.execute("SELECT coalesce(max(refresh_count), 0) FROM read_model_refreshes "
                        "WHERE view_name = 'mv_realtime_revenue'").fetchone()[0]  # fmt: skip
    refresh(db, force=True)
    at, duration, mode, count = db.execute(
        "SELECT last_refreshed_at, last_duration_ms, last_mode, refresh_count FROM read_model_refreshes "
        "WHERE view_name = 'mv_realtime_revenue'"
    ).fetchone()
    assert count == before + 1 and mode == "concurrent" and duration >= 0
    assert db.execute("SELECT %s::timestamptz <= clock_timestamp()", [at]).fetchone()[0]


def test_refresh_populates_a_never_populated_view_plainly(db):
    db.execute("REFRESH MATERIALIZED VIEW mv_realtime_revenue WITH NO DATA")
    assert refresh(db, ttl="1 hour")[:2] == (True, "plain"), "an unpopulated view is refreshed whatever the TTL"


@pytest.mark.parametrize(("args", "sqlstate"), [(("pg_class", "0 s"), "22023"), (("mv_realtime_revenue", "-1 s"), "22023")])
def test_refresh_rejects_bad_arguments(db, args, sqlstate):
    throws_ok(db, "SELECT * FROM refresh_read_model(%s, %s::interval)", list(args), sqlstate)


def test_refresh_refuses_an_owner_subject_to_rls(db):
    db.execute("CREATE ROLE read_model_owner_bound_by_rls NOLOGIN")
    db.execute("ALTER MATERIALIZED VIEW mv_realtime_revenue OWNER TO read_model_owner_bound_by_rls")
    throws_ok(
        db, "SELECT * FROM refresh_read_model('mv_realtime_revenue', '0 s', true)", (),
        "42501", "is subject to row-level security",
    )  # fmt: skip


def test_why_the_refusal_matters_an_rls_bound_owner_sees_one_tenant(db):
    """What the guard prevents: refreshed by an RLS-bound owner, the view holds one tenant."""
    a, b = rows.tenant(db, "A"), rows.tenant(db, "B")
    for t in (a, b):
        rows.insert(db, "revenue_ledger", tenant_id=t)
    db.execute("CREATE ROLE read_model_owner_bound_by_rls NOLOGIN")
    db.execute("GRANT SELECT ON revenue_ledger, rollup_ledger_daily, rollup_ledger_daily_delta "
               "TO read_model_owner_bound_by_rls")
    db.execute("ALTER MATERIALIZED VIEW mv_realtime_revenue OWNER TO read_model_owner_bound_by_rls")
    db.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(a)])
    db.execute("REFRESH MATERIALIZED VIEW mv_realtime_revenue")
    assert revenue_row(db, a) is not None and revenue_row(db, b) is None


def test_refresh_accepts_a_bypassrls_owner(db, tenant):
    rows.insert(db, "revenue_ledger", tenant_id=tenant)
    db.execute("CREATE ROLE read_model_owner_bypassing_rls NOLOGIN BYPASSRLS")
    db.execute("GRANT SELECT ON revenue_ledger, rollup_ledger_daily, rollup_ledger_daily_delta "
               "TO read_model_owner_bypassing_rls")
    db.execute("ALTER MATERIALIZED VIEW mv_realtime_revenue OWNER TO read_model_owner_bypassing_rls")
    # REFRESH ... CONCURRENTLY builds its diff in a temp table, as the view's owner, and TEMP
    # is no longer PUBLIC's (202611281400): an owner of the views that does not own the
    # database needs it granted (docs/database-privileges.md)
    pgtap.throws_ok(db, "SELECT refresh_read_model('mv_realtime_revenue', force => true)", (), "42501", "temporary tables")
    db.execute("DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO read_model_owner_bypassing_rls', current_database()); END $$")
    assert refresh(db, force=True)[0] is True
    assert revenue_row(db, tenant) is not None


# -- concurrency (committed data in a database of its own) --------------------------------
@pytest.fixture(scope="module")
def world(make_database):
    url = make_database("read_models")
    run_cli("migrate", url=url)
    with psycopg.connect(url) as conn:
        tenants = [rows.tenant(conn, f"T{i}") for i in range(3)]
        for t in tenants:
            rows.insert(conn, "revenue_ledger", tenant_id=t, revenue_cents=500)
            rows.insert(conn, "reconciliation_runs", tenant_id=t)
        conn.execute(REFRESH_ALL)
    return {"url": url, "tenants": tenants}


@pytest.fixture
def connect(world):
    opened = []

    def open_(**kwargs) -> psycopg.Connection:
        conn = psycopg.connect(world["url"], **kwargs)
        opened.append(conn)
        return conn

    yield open_
    for conn in opened:
        conn.rollback() if not conn.autocommit else None
        conn.close()


def test_second_refresh_caller_returns_at_once(connect):
    first = connect()
    assert refresh(first, force=True)[0] is True  # holds the view's refresh lock until commit
    second = connect(autocommit=True)
    second.execute("SET statement_timeout = '5s'")
    started = time.monotonic()
    refreshed, _mode, detail = refresh(second, force=True)
    assert refreshed is False and "another refresh" in detail
    assert time.monotonic() - started < 4, "the second caller must not queue behind the first"
    assert refresh(second, "mv_reconciliation_status", force=True)[0] is True, "the lock is per view"
    first.commit()
    assert refresh(second, force=True)[0] is True, "once the first is done, refreshing works again"


def test_readers_keep_reading_during_a_refresh(world, connect):
    refresher = connect()
    refresh(refresher, force=True)  # REFRESH ... CONCURRENTLY, transaction left open
    reader = connect()
    reader.execute("SET statement_timeout = '3s'")
    assert reader.execute("SELECT count(*) FROM mv_realtime_revenue").fetchone() == (len(world["tenants"]),)
    as_role(reader, "app_ro", world["tenants"][0])
    assert reader.execute("SELECT tenant_id FROM v_realtime_revenue_current_tenant").fetchall() == [
        (world["tenants"][0],)
    ]


def test_a_plain_refresh_would_block_readers(connect):
    """The control case: without CONCURRENTLY, readers wait (here: time out)."""
    refresher = connect()
    refresher.execute("REFRESH MATERIALIZED VIEW mv_realtime_revenue")
    reader = connect()
    reader.execute("SET statement_timeout = '300ms'")
    throws_ok(reader, "SELECT count(*) FROM mv_realtime_revenue", (), "57014")


# -- the tenant-scoped read path ------------------------------------------------------------
@pytest.mark.parametrize("view", CURRENT_TENANT_VIEWS)
@pytest.mark.parametrize("role", APP_ROLES)
def test_current_tenant_view_returns_only_the_current_tenant(world, connect, view, role):
    for tenant in world["tenants"]:
        conn = connect()
        as_role(conn, role, tenant)
        assert conn.execute(f"SELECT tenant_id FROM {view}").fetchall() == [(tenant,)]
        conn.rollback()


@pytest.mark.parametrize("view", CURRENT_TENANT_VIEWS)
@pytest.mark.parametrize("role", APP_ROLES)
@pytest.mark.parametrize(("setting", "sqlstate"), [(None, "42704"), ("", "22P02"), ("not-a-uuid", "22P02")])
def test_current_tenant_view_fails_closed(connect, view, role, setting, sqlstate):
    conn = connect()
    as_role(conn, role, setting)
    throws_ok(conn, f"SELECT * FROM {view}", (), sqlstate)


@pytest.mark.parametrize("view", CURRENT_TENANT_VIEWS)
def test_current_tenant_view_of_unknown_tenant_is_empty(connect, view):
    conn = connect()
    as_role(conn, "app_ro", uuid.uuid4())
    assert conn.execute(f"SELECT * FROM {view}").fetchall() == []


@pytest.mark.parametrize("view", MATERIALIZED_VIEWS)
@pytest.mark.parametrize("role", APP_ROLES)
def test_documented_exposure_direct_read_shows_every_tenant(world, connect, view, role):
    """Decision record 0001: the documented grants let a direct read see all tenants."""
    conn = connect()
    as_role(conn, role, world["tenants"][0])
    assert {r[0] for r in conn.execute(f"SELECT tenant_id FROM {view}")} == set(world["tenants"])


# -- the command line -----------------------------------------------------------------------
def test_refresh_command_once(world):
    """The refresh folds the rollups first (docs/rollups.md). Kills: refresh-does-not-fold."""
    out = run_cli("refresh", "--force", url=world["url"]).stdout
    assert out.index("rollup_channel_daily: folded") < out.index("mv_realtime_revenue: refreshed")
    assert "rollup_ledger_daily: folded" in out
    assert "mv_realtime_revenue: refreshed (concurrent)" in out
    assert "mv_reconciliation_status: refreshed (concurrent)" in out
    assert "within ttl" in run_cli("refresh", "--ttl", "3600", url=world["url"]).stdout


def test_refresh_sidecar_logs_and_stops_on_sigterm(world):
    """Kills: sidecar-does-not-fold."""
    env = {"DATABASE_URL": world["url"], "PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:  # make mutate runs the mutated copy's package
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "attribution_db", "refresh", "--every", "0.2", "--ttl", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    lines = []
    try:
        while sum("refreshed (concurrent)" in line for line in lines) < 4:
            line = proc.stdout.readline()
            assert line, f"sidecar ended early: {''.join(lines)}"
            lines.append(line)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=10)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, rest
    assert "received SIGTERM, refresh sidecar stopped" in rest
    # each round folds the rollups before refreshing (kills: sidecar-does-not-fold)
    assert sum("rollup_ledger_daily: folded" in line for line in lines) >= 2, "".join(lines)


def test_refresh_command_refuses_without_migrations(make_database):
    proc = run_cli("refresh", url=make_database("empty"), check=False)
    assert proc.returncode == 1 and "run `make migrate` first" in proc.stderr

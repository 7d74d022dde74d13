"""The dashboard rollups (issue 11, docs/rollups.md, decision 0005).

- contract: the four tables are tenant-scoped like the five (forced RLS, the documented
  policy, app_ro SELECT on the rollups only, nothing on the deltas, nothing to app_rw);
  maintenance functions are SECURITY DEFINER with a pinned search_path; fold_rollups() is
  the owner's alone; the reader views are security barriers;
- exactness: after any interleaving of inserts, updates, deletes and replays from several
  connections (some transactions committed, some rolled back, some aborted on a lock), the
  reader views, rollup + delta, and the rollups after a fold all equal the aggregate of the
  raw rows (a hypothesis property with bounded examples); tenant deletion, late rows,
  far-past and infinite timestamps, a writer in another time zone, and the backfill;
- writers of one tenant never wait on each other for a rollup row;
- attacks: app_rw cannot write the rollups or the deltas nor fold; app_ro cannot read the
  deltas nor another tenant's rollup rows.

Mutations killed: checks/mutations/rollups.yaml (each test names its own below).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import pgtap, rows
from checks.cli import run_cli
from checks.contract import APP_ROLES, ROLLUP_TABLES, ROLLUP_VIEWS
from checks.pgtap import throws_ok

ROOT = Path(__file__).resolve().parent.parent
ALL_TABLES = [*ROLLUP_TABLES, *ROLLUP_TABLES.values()]
POLICY = "(tenant_id = (current_setting('app.current_tenant_id'::text))::uuid)"
CHANNELS = ("google_search", "facebook_ads", "email")
BASE = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)  # near a UTC midnight on purpose

RAW_CHANNEL = (
    "SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date::text, channel, count(*), "
    "sum(allocated_revenue_cents) FROM attribution_allocations WHERE tenant_id = ANY(%(t)s) "
    "GROUP BY 1, 2, 3"
)
RAW_LEDGER = (
    "SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date::text, count(*), "
    "count(*) FILTER (WHERE is_verified), "
    "coalesce(sum(revenue_cents) FILTER (WHERE is_verified), 0), "
    "coalesce(sum(revenue_cents) FILTER (WHERE NOT is_verified), 0) "
    "FROM revenue_ledger WHERE tenant_id = ANY(%(t)s) GROUP BY 1, 2"
)
SUMMED_CHANNEL = (
    "SELECT tenant_id, utc_day::text, channel, sum(allocations), sum(allocated_revenue_cents) FROM ("
    "SELECT tenant_id, utc_day, channel, allocations, allocated_revenue_cents FROM {rollup} "
    "{delta}) AS u WHERE tenant_id = ANY(%(t)s) AND EXISTS (SELECT FROM tenants WHERE id = tenant_id) "
    "GROUP BY 1, 2, 3 HAVING sum(allocations) <> 0"
)
SUMMED_LEDGER = (
    "SELECT tenant_id, utc_day::text, sum(ledger_rows), sum(verified_rows), sum(verified_revenue_cents), "
    "sum(unverified_revenue_cents) FROM (SELECT tenant_id, utc_day, ledger_rows, verified_rows, "
    "verified_revenue_cents, unverified_revenue_cents FROM {rollup} {delta}) AS u "
    "WHERE tenant_id = ANY(%(t)s) AND EXISTS (SELECT FROM tenants WHERE id = tenant_id) "
    "GROUP BY 1, 2 HAVING sum(ledger_rows) <> 0"
)


def _as_set(rows_) -> set[tuple]:
    """Rows as a set, sums (numeric) as int."""
    return {tuple(int(x) if isinstance(x, Decimal) else x for x in r) for r in rows_}


def raw(conn, tenants) -> tuple[set, set]:
    p = {"t": list(tenants)}
    return _as_set(conn.execute(RAW_CHANNEL, p)), _as_set(conn.execute(RAW_LEDGER, p))


def summed(conn, tenants, with_delta: bool = True) -> tuple[set, set]:
    """Rollup (+ its delta) of ``tenants``, as the owner."""
    p = {"t": list(tenants)}
    ch = SUMMED_CHANNEL.format(rollup="rollup_channel_daily", delta=(
        "UNION ALL SELECT tenant_id, utc_day, channel, allocations, allocated_revenue_cents "
        "FROM rollup_channel_daily_delta") if with_delta else "")  # fmt: skip
    le = SUMMED_LEDGER.format(rollup="rollup_ledger_daily", delta=(
        "UNION ALL SELECT tenant_id, utc_day, ledger_rows, verified_rows, verified_revenue_cents, "
        "unverified_revenue_cents FROM rollup_ledger_daily_delta") if with_delta else "")  # fmt: skip
    return _as_set(conn.execute(ch, p)), _as_set(conn.execute(le, p))


def through_views(conn, tenants) -> tuple[set, set]:
    """What each tenant's app_ro reader sees in the two reader views."""
    ch, le = set(), set()
    for t in tenants:
        with conn.transaction(force_rollback=True):  # a savepoint inside a test's transaction
            rows.begin_as(conn, "app_ro", t)
            ch |= _as_set(conn.execute(
                "SELECT tenant_id, utc_day::text, channel, allocations, allocated_revenue_cents FROM v_rollup_channel_daily"))
            le |= _as_set(conn.execute(
                "SELECT tenant_id, utc_day::text, ledger_rows, verified_rows, verified_revenue_cents, "
                "unverified_revenue_cents FROM v_rollup_ledger_daily"))  # fmt: skip
    return ch, le


def assert_exact(owner: psycopg.Connection, tenants, *, fold: bool = True) -> None:
    """Views, rollup + delta, and (after a fold) the rollup alone equal the raw aggregate."""
    expected = raw(owner, tenants)
    assert summed(owner, tenants) == expected, "rollup + delta differs from the raw rows"
    assert through_views(owner, tenants) == expected, "the reader views differ from the raw rows"
    if fold:
        owner.execute("SELECT * FROM fold_rollups()").fetchall()
        assert summed(owner, tenants, with_delta=False) == expected, "the folded rollup differs from the raw rows"
        assert through_views(owner, tenants) == expected


# == contract ===================================================================================
@pytest.mark.parametrize("table", ALL_TABLES)
def test_rollup_tables_have_forced_rls_and_the_documented_policy(catalog, table):
    """Kills: rollup-rls-not-forced."""
    pgtap.rls_enabled(catalog, table, forced=True)
    pgtap.policies_are(catalog, table, ["tenant_isolation_policy"])
    pgtap.policy_cmd_is(catalog, table, "tenant_isolation_policy", "ALL")
    pgtap.policy_exprs_are(catalog, table, "tenant_isolation_policy", POLICY, POLICY)


@pytest.mark.parametrize("table", ALL_TABLES)
@pytest.mark.parametrize("role", [*APP_ROLES, "PUBLIC"])
def test_rollup_privileges_are_app_ro_select_on_the_rollups_only(catalog, table, role):
    """Kills: delta-readable-by-app-ro, rollup-writable-by-app-rw."""
    want = ["SELECT"] if role == "app_ro" and table in ROLLUP_TABLES else []
    pgtap.table_privs_are(catalog, table, role, want)


@pytest.mark.parametrize("function", ["rollup_allocations_delta()", "rollup_ledger_delta()"])
def test_maintenance_functions_are_definer_with_a_pinned_search_path(catalog, function):
    """Kills: delta-trigger-without-search-path, delta-trigger-not-definer."""
    definer, config = catalog.execute(
        "SELECT prosecdef, proconfig FROM pg_proc WHERE oid = %s::regprocedure", [function]
    ).fetchone()
    assert definer, f"{function} is not SECURITY DEFINER"
    assert config and "search_path=pg_catalog, public" in config, f"{function} config {config}"


@pytest.mark.parametrize("function", ["fold_rollups()", "fold_rollup(text, uuid)", "rollup_fold_batch_rows()"])
@pytest.mark.parametrize("role", [*APP_ROLES, "public"])
def test_fold_is_not_executable_by_app_roles(catalog, role, function):
    """Kills: fold-executable-by-public, fold-rollup-executable-by-public, fold-batch-executable-by-public."""
    if role == "public":
        granted = catalog.execute(
            "SELECT count(*) > 0 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
            "WHERE p.oid = %s::regprocedure AND a.grantee = 0", [function]).fetchone()[0]  # fmt: skip
    else:
        granted = catalog.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", [role, function]).fetchone()[0]
    assert not granted, f"{role} may execute {function}"


@pytest.mark.parametrize("view", ROLLUP_VIEWS)
def test_reader_views_are_security_barriers(catalog, view):
    options = catalog.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [view]).fetchone()[0]
    assert options and "security_barrier=true" in options, f"{view} options {options}"


# == behaviour, in one rolled-back transaction ====================================================
@pytest.fixture
def two(db):
    a, b = rows.tenant(db, "A"), rows.tenant(db, "B")
    return {t: rows.event(db, t) for t in (a, b)}


def alloc(conn, tenant, event, **values) -> uuid.UUID:
    return rows.insert(conn, "attribution_allocations", tenant_id=tenant, event_id=event, **values)


def test_a_committed_write_is_in_the_next_read_before_any_fold(db, two):
    """Freshness 0 s: the reader view adds the unfolded deltas. Kills: view-without-deltas."""
    (a, ea), (b, eb) = two.items()
    alloc(db, a, ea, channel="email", allocated_revenue_cents=250)
    rows.insert(db, "revenue_ledger", tenant_id=a, revenue_cents=70)
    ch, le = through_views(db, [a])
    assert {(r[2], r[3], r[4]) for r in ch} == {("email", 1, 250)}
    assert {(r[2], r[4] + r[5]) for r in le} == {(1, 70)}
    assert_exact(db, [a, b])


def test_updates_deletes_and_moves_between_days_and_channels_stay_exact(db, two):
    """Kills: delete-delta-not-negated, update-delta-ignores-old-rows, ledger-update-ignores-old-rows."""
    (a, ea), (b, eb) = two.items()
    ids = [alloc(db, a, ea, channel=CHANNELS[i % 3], allocated_revenue_cents=100 + i,
                 created_at=BASE - timedelta(days=i % 4)) for i in range(12)]  # fmt: skip
    ledger = [rows.insert(db, "revenue_ledger", tenant_id=a, revenue_cents=10 * i,
                          created_at=BASE - timedelta(days=i)) for i in range(5)]  # fmt: skip
    assert_exact(db, [a, b])
    db.execute("UPDATE attribution_allocations SET channel = 'moved', allocated_revenue_cents = 1 WHERE id = ANY(%s)", [ids[:4]])
    db.execute("DELETE FROM attribution_allocations WHERE id = ANY(%s)", [ids[4:7]])
    db.execute("UPDATE revenue_ledger SET is_verified = true, verified_at = now(), revenue_cents = revenue_cents + 5 "
               "WHERE id = ANY(%s)", [ledger[:3]])  # fmt: skip
    db.execute("DELETE FROM revenue_ledger WHERE id = %s", [ledger[4]])
    assert_exact(db, [a, b])
    db.execute("DELETE FROM attribution_events WHERE id = %s", [ea])  # cascades to the allocations
    assert_exact(db, [a, b])


def test_tenant_deletion_cascades_and_the_fold_discards_its_deltas(db, two):
    """Kills: fold-keeps-deltas-of-deleted-tenants."""
    (a, ea), (b, eb) = two.items()
    alloc(db, a, ea)
    alloc(db, b, eb)
    rows.insert(db, "revenue_ledger", tenant_id=a)
    db.execute("SELECT * FROM fold_rollups()").fetchall()
    alloc(db, a, ea, channel="late")  # unfolded when the tenant goes
    db.execute("DELETE FROM tenants WHERE id = %s", [a])
    assert_exact(db, [a, b])
    left = db.execute(
        "SELECT (SELECT count(*) FROM rollup_channel_daily WHERE tenant_id = %(a)s) "
        "+ (SELECT count(*) FROM rollup_ledger_daily WHERE tenant_id = %(a)s) "
        "+ (SELECT count(*) FROM rollup_channel_daily_delta WHERE tenant_id = %(a)s) "
        "+ (SELECT count(*) FROM rollup_ledger_daily_delta WHERE tenant_id = %(a)s)", {"a": a}).fetchone()[0]  # fmt: skip
    assert left == 0


def test_late_far_past_and_infinite_timestamps_do_not_break_the_fold(db, two):
    """Rows dated long ago or (finite checks dropped, as an owner could) at +-infinity."""
    (a, ea), _ = two.items()
    alloc(db, a, ea, created_at=BASE - timedelta(days=40))  # last month's
    alloc(db, a, ea, created_at="0001-01-01 00:00:00+00")
    alloc(db, a, ea, created_at="4713-01-01 00:00:00+00 BC")
    rows.insert(db, "revenue_ledger", tenant_id=a, created_at="1900-01-01T00:00:00Z")
    db.execute("ALTER TABLE attribution_allocations DROP CONSTRAINT ck_attribution_allocations_created_at_finite")
    db.execute("ALTER TABLE revenue_ledger DROP CONSTRAINT ck_revenue_ledger_created_at_finite")
    for stamp in ("infinity", "-infinity"):
        alloc(db, a, ea, created_at=stamp)
        rows.insert(db, "revenue_ledger", tenant_id=a, created_at=stamp)
    assert_exact(db, [a])


def test_the_day_is_the_utc_day_whatever_the_writer_time_zone(db, two):
    """Kills: rollup-day-in-session-time-zone."""
    (a, ea), _ = two.items()
    db.execute("SET LOCAL TimeZone = 'Pacific/Kiritimati'")  # UTC+14
    alloc(db, a, ea, created_at=BASE)  # 23:30 UTC: the next day in Kiritimati
    rows.insert(db, "revenue_ledger", tenant_id=a, created_at=BASE)
    days = db.execute("SELECT utc_day FROM rollup_channel_daily_delta WHERE tenant_id = %s "
                      "UNION ALL SELECT utc_day FROM rollup_ledger_daily_delta WHERE tenant_id = %s", [a, a]).fetchall()  # fmt: skip
    assert {d for (d,) in days} == {BASE.date()}
    assert_exact(db, [a])


def random_text(n: int, low: int, high: int, seed: int = 5) -> str:
    """``n`` characters drawn from code points [low, high): incompressible, unlike a repeat."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(low, high)) for _ in range(n))


def test_a_channel_over_255_characters_is_refused_and_the_longest_allowed_folds(db, two):
    """A 2,680-byte channel used to fit the channel index but not the rollup's key, and stopped
    the fold of every tenant (54000). Kills: no-channel-length-limit."""
    (a, ea), _ = two.items()
    with db.transaction():
        rows.begin_as(db, "app_rw", a)
        throws_ok(db, "INSERT INTO attribution_allocations (tenant_id, event_id, channel) VALUES (%s, %s, %s)",
                  [a, ea, random_text(2680, 33, 127)], "23514", "ck_attribution_allocations_channel_length")  # fmt: skip
        throws_ok(db, "INSERT INTO attribution_allocations (tenant_id, event_id, channel) VALUES (%s, %s, %s)",
                  [a, ea, "x" * 256], "23514", "ck_attribution_allocations_channel_length")  # fmt: skip
        widest = random_text(255, 0x10000, 0x10FFFF)  # 4 bytes each: 1,020 bytes, the largest key
        db.execute("INSERT INTO attribution_allocations (tenant_id, event_id, channel) VALUES (%s, %s, %s)",
                   [a, ea, widest])  # fmt: skip
        db.execute("RESET ROLE")
    folded = {r[0]: r[1] for r in db.execute("SELECT rollup_name, detail FROM fold_rollups()")}
    assert folded == {"rollup_channel_daily": "folded", "rollup_ledger_daily": "folded"}
    assert db.execute("SELECT count(*) FROM rollup_channel_daily WHERE channel = %s", [widest]).fetchone()[0] == 1
    assert_exact(db, [a])


def test_deltas_that_cannot_fold_hold_back_only_their_tenant(db, two):
    """A delta whose key no longer fits (written before the length check, say) is left unfolded
    with its tenant's other deltas, named in the detail; every other tenant folds and readers
    still add the unfolded deltas. Kills: fold-stops-at-one-bad-tenant, fold-fallback-folds-nothing."""
    (a, ea), (b, eb) = two.items()
    alloc(db, a, ea, channel="email", allocated_revenue_cents=10)
    alloc(db, b, eb, channel="email", allocated_revenue_cents=20)
    rows.insert(db, "revenue_ledger", tenant_id=b, revenue_cents=30)
    db.execute("INSERT INTO rollup_channel_daily_delta VALUES (%s, %s, %s, 1, 5)", [b, BASE.date(), random_text(2680, 33, 127)])
    for _ in range(2):  # and again: the held-back deltas do not stop the next fold either
        got = {r[0]: r[1:] for r in db.execute("SELECT rollup_name, folded, detail FROM fold_rollups()")}
        folded, detail = got["rollup_channel_daily"]
        assert folded and detail.startswith("folded tenant by tenant after 54000"), detail
        assert f"1 tenant(s) left unfolded (their deltas are still read): {b}" in detail, detail
        assert got["rollup_ledger_daily"] == (True, "folded")
    left = dict(db.execute("SELECT tenant_id, count(*) FROM rollup_channel_daily_delta GROUP BY 1").fetchall())
    assert left == {b: 2}, left
    assert db.execute("SELECT count(*) FROM rollup_ledger_daily_delta").fetchone()[0] == 0
    channel, _ = through_views(db, [a, b])
    assert {(r[0], r[2], r[4]) for r in channel if r[2] == "email"} == {(a, "email", 10), (b, "email", 20)}


def test_a_failing_fold_does_not_stop_the_refresh_of_the_views(make_database):
    """make refresh refreshes both views (they read the unfolded deltas too) when the fold
    fails, then exits non-zero naming the fold. Kills: refresh-stops-at-a-failing-fold."""
    url = make_database("fold_fails")
    run_cli("migrate", url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION fold_rollups() RETURNS TABLE (rollup_name text, folded boolean, "
                     "delta_rows bigint, duration_ms numeric, detail text) LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'fold broken for this check' USING ERRCODE = 'XX000'; END $$")  # fmt: skip
    proc = run_cli("refresh", "--force", url=url, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "mv_realtime_revenue: refreshed" in out and "mv_reconciliation_status: refreshed" in out, out
    assert "fold_rollups(): XX000 fold broken for this check (the views were refreshed)" in proc.stderr, out


SMALL_BATCH = ("CREATE OR REPLACE FUNCTION rollup_fold_batch_rows() RETURNS bigint LANGUAGE sql STABLE "
               "SET search_path = pg_catalog AS $$ SELECT {}::bigint $$")


def test_a_fold_moves_at_most_a_batch_and_says_when_more_remain(db, two):
    """One call stays bounded however many deltas piled up (a whole fold of ~15M once outran the
    sidecar's timeout at every round). Kills: fold-unbounded, fold-hides-more."""
    (a, ea), (b, _) = two.items()
    db.execute(SMALL_BATCH.format(3))  # rolled back with the test
    for i in range(5):  # five statements: five channel delta rows
        alloc(db, a, ea, channel=f"c{i}", allocated_revenue_cents=i)
    rows.insert(db, "revenue_ledger", tenant_id=b)
    fold_sql = "SELECT rollup_name, delta_rows, detail FROM fold_rollups()"
    got = {r[0]: r[1:] for r in db.execute(fold_sql)}
    assert got == {"rollup_channel_daily": (3, "folded; more deltas remain: call again"),
                   "rollup_ledger_daily": (1, "folded")}, got  # fmt: skip
    assert_exact(db, [a, b], fold=False)  # the unfolded rest is still read
    got = {r[0]: r[1:] for r in db.execute(fold_sql)}
    assert got["rollup_channel_daily"] == (2, "folded"), got
    assert_exact(db, [a, b])


def test_make_refresh_folds_batch_after_batch_until_none_is_left(make_database):
    """Kills: refresh-folds-one-batch, fold-hides-more."""
    url = make_database("fold_batches")
    run_cli("migrate", url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SMALL_BATCH.format(2))
        tenant = rows.tenant(conn, "Batches")
        event = rows.event(conn, tenant)
        for i in range(5):
            alloc(conn, tenant, event, channel=f"c{i}")
    out = run_cli("refresh", "--force", url=url).stdout
    assert out.count("rollup_channel_daily: folded 2 delta rows") == 2 and out.count("; more remain") == 2, out
    assert "rollup_channel_daily: folded 1 delta rows" in out, out
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM rollup_channel_daily_delta").fetchone()[0] == 0


MIGRATIONS = ROOT / "sql" / "migrations"
TRIGGERS = "202612071602_maintain_rollups_with_statement_triggers"
BACKFILL = "202612071603_backfill_rollups"


def sql_of(name: str, rollback: bool = False) -> str:
    return (MIGRATIONS / f"{name}{'.rollback' if rollback else ''}.sql").read_text()


def test_backfill_counts_rows_written_before_the_triggers(db, two):
    """Triggers re-created on tables with rows, then the backfill: exact. Kills: no-backfill."""
    (a, ea), (b, eb) = two.items()
    db.execute(sql_of(TRIGGERS, rollback=True))
    for i in range(5):
        alloc(db, a if i % 2 else b, ea if i % 2 else eb, allocated_revenue_cents=i, created_at=BASE - timedelta(days=i))
        rows.insert(db, "revenue_ledger", tenant_id=a, revenue_cents=i, is_verified=bool(i % 2),
                    verified_at=BASE if i % 2 else None)  # fmt: skip
    db.execute(sql_of(TRIGGERS))
    alloc(db, b, eb, allocated_revenue_cents=7, created_at=BASE)  # captured by the new trigger
    db.execute(sql_of(BACKFILL))
    assert_exact(db, [a, b])


def test_backfill_holds_no_writer_and_counts_a_concurrent_write_once(make_database):
    """While the backfill's transaction is open, an app_rw writer of the same tenant and day
    commits without waiting (lock_timeout 1 s); after both commit the rollups are exact, and
    running the backfill again appends nothing. Kills: backfill-locks-writers,
    backfill-ignores-captured-deltas."""
    url = make_database("rollups_backfill")
    run_cli("migrate", url=url)
    with psycopg.connect(url, autocommit=True) as owner, psycopg.connect(url) as backfill:
        ids = rows.full_tenant(owner, "Early")
        t, e = ids["tenants"], ids["attribution_events"]
        owner.execute(sql_of(BACKFILL, rollback=True))
        with owner.transaction():
            owner.execute(sql_of(TRIGGERS, rollback=True))
            for i in range(3):
                alloc(owner, t, e, channel="email", allocated_revenue_cents=10 + i, created_at=BASE)
                rows.insert(owner, "revenue_ledger", tenant_id=t, revenue_cents=100 + i, created_at=BASE)
            owner.execute(sql_of(TRIGGERS))
        backfill.execute(sql_of(BACKFILL))  # its transaction stays open
        late = writer(url, t)
        try:
            alloc(late, t, e, channel="email", allocated_revenue_cents=5, created_at=BASE)
            rows.insert(late, "revenue_ledger", tenant_id=t, revenue_cents=50, created_at=BASE)
            late.commit()
        finally:
            late.close()
        backfill.commit()
        with owner.transaction():
            assert_exact(owner, [t], fold=False)
        deltas = "SELECT (SELECT count(*) FROM rollup_channel_daily_delta) + (SELECT count(*) FROM rollup_ledger_daily_delta)"
        before = owner.execute(deltas).fetchone()
        owner.execute(sql_of(BACKFILL))
        assert owner.execute(deltas).fetchone() == before, "a second backfill appended rows"
        with owner.transaction():
            assert_exact(owner, [t])


def test_a_second_fold_returns_at_once_while_one_runs(migrated_url):
    """Single flight on the rollup_folds row lock. Kills: fold-without-single-flight."""
    with psycopg.connect(migrated_url) as first, psycopg.connect(migrated_url) as second:
        first.execute("SELECT * FROM fold_rollups()").fetchall()  # holds both rows until rollback
        second.execute("SET lock_timeout = '2s'")
        got = second.execute("SELECT rollup_name, folded, detail FROM fold_rollups()").fetchall()
        assert [(r, f) for r, f, _ in got] == [("rollup_channel_daily", False), ("rollup_ledger_daily", False)]
        assert all(d.startswith("skipped") for *_, d in got)
        first.rollback()
        second.rollback()


# == committed data, several connections ===========================================================
# `world` (checks/conftest.py, module scope): this module's own migrated database with
# tenants A and B.


def writer(url: str, tenant, lock_timeout: str = "1s") -> psycopg.Connection:
    conn = psycopg.connect(url)
    conn.execute(f"SET lock_timeout = '{lock_timeout}'")
    rows.begin_as(conn, "app_rw", tenant)
    return conn


def test_writers_of_one_tenant_never_wait_on_each_other(world):
    """Two open ingest transactions of one tenant, same day and channel, both commit without
    waiting: no hot rollup row. Kills: direct-upsert-into-rollup."""
    t, e = world["A"]["tenants"], world["A"]["attribution_events"]
    first, second = writer(world["url"], t), writer(world["url"], t)
    try:
        for conn in (first, second):
            alloc(conn, t, e, channel="hot", created_at=BASE)
            rows.insert(conn, "revenue_ledger", tenant_id=t, created_at=BASE)
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    with psycopg.connect(world["url"], autocommit=True) as owner:
        assert_exact(owner, [world["A"]["tenants"], world["B"]["tenants"]])


# == attacks ========================================================================================
WRITES = {
    "insert": "INSERT INTO {t} SELECT * FROM {t} LIMIT 0",
    "update": "UPDATE {t} SET tenant_id = tenant_id",
    "delete": "DELETE FROM {t}",
}


@pytest.mark.parametrize("table", ALL_TABLES)
@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("role", APP_ROLES)
def test_app_roles_cannot_write_rollups_or_deltas(attacker, table, write, role):
    throws_ok(attacker(role), WRITES[write].format(t=table), (), "42501")


@pytest.mark.parametrize("role", APP_ROLES)
def test_app_roles_cannot_fold(attacker, role):
    throws_ok(attacker(role), "SELECT * FROM fold_rollups()", (), "42501")


@pytest.mark.parametrize("table", ROLLUP_TABLES.values())
def test_app_ro_cannot_read_the_deltas(attacker, table):
    throws_ok(attacker("app_ro"), f"SELECT * FROM {table}", (), "42501")


def test_app_ro_sees_only_its_tenants_rollup_rows(world, connect):
    """Kills: rollup-policy-open, reader-view-without-tenant-filter."""
    with psycopg.connect(world["url"], autocommit=True) as owner:
        owner.execute("SELECT * FROM fold_rollups()").fetchall()
    a, b = world["A"]["tenants"], world["B"]["tenants"]
    conn = connect()
    rows.begin_as(conn, "app_ro", a)
    for rel in [*ROLLUP_TABLES, *ROLLUP_VIEWS]:
        seen = {r[0] for r in conn.execute(f"SELECT tenant_id FROM {rel}")}
        assert seen == {a}, f"{rel} shows {seen}"


@pytest.mark.parametrize("view", ROLLUP_VIEWS)
@pytest.mark.parametrize(("setting", "sqlstate"), [(None, "42704"), ("", "22P02")])
def test_reader_views_fail_closed(connect, view, setting, sqlstate):
    conn = connect()
    rows.begin_as(conn, "app_ro", setting)
    throws_ok(conn, f"SELECT * FROM {view}", (), sqlstate)


# == the property ===================================================================================
OP = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 2), st.integers(0, 1), st.sampled_from(CHANNELS),
              st.integers(0, 10_000), st.integers(-45, 1), st.integers(1, 3)),
    st.tuples(st.just("ledger"), st.integers(0, 2), st.integers(0, 1), st.booleans(),
              st.integers(0, 10_000), st.integers(-45, 1)),
    st.tuples(st.just("update"), st.integers(0, 2), st.integers(0, 50), st.sampled_from(CHANNELS),
              st.integers(0, 10_000)),
    st.tuples(st.just("verify"), st.integers(0, 2), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 2), st.integers(0, 50)),
    st.tuples(st.just("replay"), st.integers(0, 2), st.integers(0, 50), st.integers(0, 10_000)),
    st.tuples(st.just("commit"), st.integers(0, 2)),
    st.tuples(st.just("rollback"), st.integers(0, 2)),
    st.tuples(st.just("fold"),),
    st.tuples(st.just("drop_tenant"), st.integers(0, 1)),
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])  # fmt: skip
@given(ops=st.lists(OP, min_size=1, max_size=30))
def test_property_rollups_equal_the_raw_aggregate_after_any_interleaving(world, ops):
    """Several connections as app_rw (one in another time zone) interleave inserts, updates,
    deletes and replays (INSERT ... ON CONFLICT DO UPDATE of an existing id), commit, roll back
    or abort on a lock; the owner folds and deletes tenants in between. Afterwards every rollup
    (views, rollup + delta, and the rollup after a fold) equals the raw aggregate.
    Kills: delete-delta-not-negated, update-delta-ignores-old-rows, view-without-deltas."""
    url = world["url"]
    owner = psycopg.connect(url, autocommit=True)
    tenants, events = [], []
    for i in range(2):
        t = rows.tenant(owner, f"P{i}")
        tenants.append(t)
        events.append(rows.event(owner, t))
    known: list[tuple[str, uuid.UUID, uuid.UUID]] = []  # (table, id, tenant)
    conns: list[psycopg.Connection | None] = [None, None, None]
    tenant_of: list = [None, None, None]

    def open_(i: int, t) -> psycopg.Connection:
        if conns[i] is None:
            conn = psycopg.connect(url)
            conn.execute("SET lock_timeout = '100ms'")
            if i == 2:
                conn.execute("SET TimeZone = 'America/Los_Angeles'")
            rows.begin_as(conn, "app_rw", t)
            conns[i], tenant_of[i] = conn, t
        return conns[i]

    def end(i: int, commit: bool) -> None:
        conn = conns[i]
        if conn is None:
            return
        try:
            conn.commit() if commit else conn.rollback()
        except psycopg.Error:
            conn.rollback()
        conn.close()
        conns[i] = None

    def run(i: int, sql: str, params) -> list:
        conn = conns[i]
        try:
            with conn.transaction():
                cur = conn.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except (psycopg.errors.LockNotAvailable, psycopg.errors.ForeignKeyViolation, psycopg.errors.DeadlockDetected):
            end(i, False)  # the transaction is aborted, as a real writer's would be
            return []

    try:
        for op in ops:
            kind = op[0]
            if kind in ("insert", "ledger"):
                i, ti = op[1], op[2]
                t = tenant_of[i] if conns[i] is not None else tenants[ti]
                open_(i, t)
                when = BASE + timedelta(days=op[5], hours=op[5] % 3)
                if kind == "insert":
                    e = events[tenants.index(t)]
                    got = run(i, "INSERT INTO attribution_allocations (tenant_id, event_id, channel, "
                              "allocated_revenue_cents, created_at) SELECT %s, %s, %s, %s, %s "
                              "FROM generate_series(1, %s) RETURNING id",
                              [t, e, op[3], op[4], when, op[6]])  # fmt: skip
                    known += [("attribution_allocations", r[0], t) for r in got]
                else:
                    got = run(i, "INSERT INTO revenue_ledger (tenant_id, revenue_cents, is_verified, verified_at, "
                              "created_at) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                              [t, op[4], op[3], when if op[3] else None, when])  # fmt: skip
                    known += [("revenue_ledger", r[0], t) for r in got]
            elif kind in ("update", "verify", "delete", "replay"):
                if not known:
                    continue
                table, rid, t = known[op[2] % len(known)]
                if kind in ("update", "verify", "replay") and (table == "revenue_ledger") != (kind == "verify"):
                    continue
                i = op[1]
                if conns[i] is not None and tenant_of[i] != t:
                    continue
                open_(i, t)
                if kind == "update":
                    run(i, "UPDATE attribution_allocations SET channel = %s, allocated_revenue_cents = %s WHERE id = %s",
                        [op[3], op[4], rid])  # fmt: skip
                elif kind == "verify":
                    run(i, "UPDATE revenue_ledger SET is_verified = %s, verified_at = CASE WHEN %s THEN now() END, "
                        "revenue_cents = revenue_cents + 1 WHERE id = %s", [op[3], op[3], rid])  # fmt: skip
                elif kind == "delete":
                    run(i, f"DELETE FROM {table} WHERE id = %s", [rid])
                else:  # a replayed delivery of the same allocation
                    run(i, "INSERT INTO attribution_allocations (id, tenant_id, event_id, channel, allocated_revenue_cents) "
                        "VALUES (%s, %s, %s, 'replayed', %s) ON CONFLICT (id) DO UPDATE "
                        "SET allocated_revenue_cents = excluded.allocated_revenue_cents",
                        [rid, t, events[tenants.index(t)], op[3]])  # fmt: skip
            elif kind == "commit":
                end(op[1], True)
            elif kind == "rollback":
                end(op[1], False)
            elif kind == "fold":
                owner.execute("SELECT * FROM fold_rollups()").fetchall()
            elif kind == "drop_tenant":
                try:
                    owner.execute("SET lock_timeout = '100ms'")
                    owner.execute("DELETE FROM tenants WHERE id = %s", [tenants[op[1]]])
                except psycopg.errors.LockNotAvailable:
                    pass
        for i in range(3):
            end(i, True)
        owner.execute("SET lock_timeout = 0")
        assert_exact(owner, tenants)
    finally:
        for i in range(3):
            end(i, False)
        owner.execute("DELETE FROM tenants WHERE id = ANY(%s)", [tenants])
        owner.close()


# == make verify ====================================================================================
def test_verify_reports_rollup_drift_by_group(db, two):
    """make verify compares rollup + delta with the raw aggregate. Kills: verify-ignores-rollup-drift."""
    from attribution_db import verify

    (a, ea), _ = two.items()
    alloc(db, a, ea, channel="email", allocated_revenue_cents=5, created_at=BASE)
    rows.insert(db, "revenue_ledger", tenant_id=a, revenue_cents=7, created_at=BASE)
    notes: list[str] = []
    assert verify.rollups(db, notes) == [], notes
    db.execute("UPDATE rollup_channel_daily_delta SET allocated_revenue_cents = 6 WHERE tenant_id = %s", [a])
    db.execute("INSERT INTO rollup_ledger_daily VALUES (%s, '2020-01-01', 1, 0, 0, 3)", [a])
    found = verify.rollups(db, notes)
    assert [(f.kind, f.object) for f in found] == [
        ("rollups", f"rollup_channel_daily {a} {BASE.date()} email"),
        ("rollups", f"rollup_ledger_daily {a} 2020-01-01"),
    ]
    assert "allocated_revenue_cents 6 (rollup + delta) != 5 (raw rows)" in found[0].message

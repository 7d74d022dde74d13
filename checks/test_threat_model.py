"""The threat model (docs/security.md) made true: what it says an application role CAN do.

docs/security.md states residual channels as measured facts. These checks pin them, so a
change that closes (or widens) one fails here and the document is corrected with it:
the tenant setting is no boundary for a session that runs SQL (the materialized views list
every tenant id), EXPLAIN ANALYZE counts other tenants' rows through a documented global
index, a login sets its own defaults but cannot plant a default tenant, NOTIFY crosses
roles, and pg_dump/pg_restore need an owner that bypasses row-level security.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import psycopg
import pytest
from psycopg import sql

from attribution_db import dburl
from attribution_db.cluster import find_bindir
from checks import rows
from checks.cli import BOOTSTRAP_ROLES, run_cli
from checks.contract import APP_ROLES

VICTIM_TIMEOUTS = 3  # dead events of tenant B with error_code 'timeout'


@pytest.fixture(scope="module")
def world(make_database):
    """Tenants A and B with a row in every table, B with extra dead events; views refreshed."""
    url = make_database("threat")
    run_cli("migrate", url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        a = rows.full_tenant(conn, "Tenant A")
        b = rows.full_tenant(conn, "Tenant B")
        for _ in range(VICTIM_TIMEOUTS):
            rows.insert(conn, "dead_events", tenant_id=b["tenants"], error_code="timeout")
        conn.execute("SELECT * FROM refresh_read_models(force => true)")
        conn.execute("ANALYZE")
    return {"url": url, "A": a, "B": b}


@pytest.fixture
def as_role(world):
    """factory(role, tenant) -> a connection in a transaction acting as ``role``; rolled back."""
    opened = []

    def make(role: str, tenant=None) -> psycopg.Connection:
        conn = psycopg.connect(world["url"])
        opened.append(conn)
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        if tenant is not None:
            conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant)])
        return conn

    yield make
    for conn in opened:
        conn.rollback()
        conn.close()


@pytest.mark.parametrize("role", APP_ROLES)
def test_the_tenant_setting_is_no_boundary_for_a_session_running_sql(world, as_role, role):
    """security.md layer 1: the views list every tenant id; set_config then reads each one."""
    conn = as_role(role)
    listed = [r[0] for r in conn.execute("SELECT tenant_id FROM mv_reconciliation_status")]
    assert set(listed) == {world["A"]["tenants"], world["B"]["tenants"]}
    read = set()
    for tenant in listed:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant)])
        read |= {r[0] for r in conn.execute("SELECT id FROM attribution_events")}
    assert read == {world["A"]["attribution_events"], world["B"]["attribution_events"]}


def rows_removed_by_filter(conn, query: str) -> tuple[str, int]:
    """(index used, Rows Removed by Filter) of the scan under EXPLAIN ANALYZE."""
    conn.execute("SET LOCAL enable_sort = off")
    plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query).fetchone()[0]
    node = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    while "Index Name" not in node and node.get("Plans"):
        node = node["Plans"][0]
    return node.get("Index Name"), node.get("Rows Removed by Filter", 0)


@pytest.mark.parametrize("role", APP_ROLES)
def test_explain_analyze_counts_other_tenants_rows(world, as_role, role):
    """security.md "EXPLAIN ANALYZE": the exact count of tenant B's rows with a value, seen by A."""
    conn = as_role(role, world["A"]["tenants"])
    got = rows_removed_by_filter(
        conn, "SELECT id FROM dead_events WHERE error_code BETWEEN 'timeout' AND 'timeout' ORDER BY error_code"
    )
    assert got == ("idx_dead_events_error_code", VICTIM_TIMEOUTS)


@pytest.fixture
def app_login(server, world):
    """A LOGIN member of app_ro (what a service logs in as); dropped after the check."""
    name = f"threat_login_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(server.url, autocommit=True) as su:
        su.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE app_ro").format(
            sql.Identifier(name), sql.Literal(password)))  # fmt: skip
        try:
            yield dburl.to_uri(dict(dburl.parse(world["url"]), user=name, password=password))
        finally:
            su.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_a_login_sets_its_own_defaults_but_no_default_tenant(app_login):
    """security.md "ALTER ROLE self SET": the pool's later sessions inherit; startup options win."""
    with psycopg.connect(app_login, autocommit=True) as conn:
        conn.execute("ALTER ROLE CURRENT_USER SET default_transaction_read_only = on")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER ROLE CURRENT_USER SET app.current_tenant_id = '00000000-0000-0000-0000-000000000000'")
    with psycopg.connect(app_login, autocommit=True) as later:
        assert later.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.UndefinedObject):
            later.execute("SELECT current_setting('app.current_tenant_id')")
    with psycopg.connect(app_login, autocommit=True, options="-c default_transaction_read_only=off") as fixed:
        assert fixed.execute("SHOW default_transaction_read_only").fetchone()[0] == "off"


def test_notify_crosses_roles_and_channels(world, app_login):
    """security.md "LISTEN/NOTIFY": no privilege guards a channel."""
    with psycopg.connect(app_login, autocommit=True) as listener, psycopg.connect(world["url"], autocommit=True) as sender:
        listener.execute("LISTEN threat_model_channel")
        sender.execute("SET ROLE app_rw")
        sender.execute("SELECT pg_notify('threat_model_channel', 'payload')")
        got = [(n.channel, n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
    assert got == [("threat_model_channel", "payload")]


def tool(name: str, *args: str, url: str) -> subprocess.CompletedProcess:
    p = dburl.parse(url)
    env = dict(os.environ, PGPASSWORD=p.get("password") or "")
    cmd = [str(find_bindir() / name), "-h", p.get("host", "127.0.0.1"), "-p", str(p.get("port", 5432)),
           "-U", p["user"], *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def test_dump_and_restore_need_an_owner_that_bypasses_rls(server, tmp_path):
    """security.md "Backup and restore": pg_dump fails and pg_restore leaves both views
    unpopulated when the owner is subject to RLS; a BYPASSRLS owner does both."""
    owner = f"threat_owner_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    source, target_bound, target_ok = (f"threat_{k}_{uuid.uuid4().hex[:8]}" for k in ("src", "bound", "ok"))
    dump = str(tmp_path / "attribution.dump")

    def url(db: str) -> str:
        return dburl.to_uri(dict(server.params, dbname=db, user=owner, password=password))

    def populated(db: str) -> list:
        with psycopg.connect(url(db)) as conn:
            return conn.execute("SELECT relname, relispopulated FROM pg_class WHERE relkind = 'm' ORDER BY 1").fetchall()

    with psycopg.connect(server.url, autocommit=True) as su:
        su.execute(BOOTSTRAP_ROLES)
        su.execute(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS PASSWORD {}").format(sql.Identifier(owner), sql.Literal(password)))
        try:
            for db in (source, target_bound, target_ok):
                su.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(owner)))
            run_cli("migrate", url=url(source))
            with psycopg.connect(url(source), autocommit=True) as conn:
                rows.full_tenant(conn, "Tenant A")
                rows.full_tenant(conn, "Tenant B")
                conn.execute("SELECT * FROM refresh_read_models(force => true)")

            su.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(sql.Identifier(owner)))
            bound_dump = tool("pg_dump", "-Fc", "-f", dump, source, url=url(source))
            assert bound_dump.returncode == 1 and "row-level security" in bound_dump.stderr, bound_dump.stderr

            su.execute(sql.SQL("ALTER ROLE {} BYPASSRLS").format(sql.Identifier(owner)))
            ok_dump = tool("pg_dump", "-Fc", "-f", dump, source, url=url(source))
            assert ok_dump.returncode == 0, ok_dump.stderr

            su.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(sql.Identifier(owner)))
            bound = tool("pg_restore", "-d", target_bound, dump, url=url(target_bound))
            assert bound.returncode == 1, bound.stderr
            assert populated(target_bound) == [("mv_realtime_revenue", False), ("mv_reconciliation_status", False)]

            su.execute(sql.SQL("ALTER ROLE {} BYPASSRLS").format(sql.Identifier(owner)))
            ok = tool("pg_restore", "-d", target_ok, "--exit-on-error", dump, url=url(target_ok))
            assert ok.returncode == 0, ok.stderr
            assert populated(target_ok) == [("mv_realtime_revenue", True), ("mv_reconciliation_status", True)]
        finally:
            for db in (source, target_bound, target_ok):
                su.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))

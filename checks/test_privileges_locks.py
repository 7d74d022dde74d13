"""What an application role can do beyond its tables, and the locks it can take (issues 14, 15).

Each check logs in as a LOGIN member of app_rw or app_ro (group-role settings and privileges
reach members exactly as in production), on databases migrated by `attribution-db migrate`.
Login roles are cluster-wide: every one made here is dropped again.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from attribution_db import PROJECT_ROOT, dburl
from attribution_db.cluster import throwaway_cluster
from attribution_db.migrate import LOCK_TABLE
from checks.cli import assert_one_line_error, run_cli
from checks.contract import APP_ROLES
from checks.pgtap import lives_ok, throws_ok

DENIED = "42501"
#: The large-object functions 202611281401 revokes from PUBLIC.
LARGE_OBJECT_FUNCTIONS = (
    "lo_creat(integer)", "lo_create(oid)", "lo_from_bytea(oid,bytea)", "lo_open(oid,integer)",
    "lowrite(integer,bytea)", "lo_put(oid,bigint,bytea)", "lo_truncate(integer,integer)",
    "lo_truncate64(integer,bigint)", "lo_unlink(oid)", "loread(integer,integer)", "lo_get(oid)",
    "lo_get(oid,bigint,integer)", "lo_lseek(integer,integer,integer)",
    "lo_lseek64(integer,bigint,integer)", "lo_tell(integer)", "lo_tell64(integer)", "lo_close(integer)",
)  # fmt: skip
IDLE_BOUND = 15  # seconds: 202611281402
OLD_ADVISORY_KEY = "attribution-db migrate"  # what the migration lock used to be

roles = pytest.mark.parametrize("role", APP_ROLES)


@pytest.fixture(scope="module")
def login(server, migrated_url):
    """factory(group, url) -> URL logging in as a LOGIN member of ``group`` on ``url``'s database."""
    password = uuid.uuid4().hex
    made: dict[str, str] = {}
    with psycopg.connect(server.url, autocommit=True) as su:
        for group in APP_ROLES:
            name = f"{group}_member_{uuid.uuid4().hex[:8]}"
            su.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(name), sql.Literal(password), sql.Identifier(group)))  # fmt: skip
            made[group] = name

    def url_for(group: str, url: str) -> str:
        return dburl.to_uri(dict(dburl.parse(url), user=made[group], password=password))

    yield url_for
    # a mutant schema may have let them create something (a large object): drop it too
    with psycopg.connect(migrated_url, autocommit=True) as db, psycopg.connect(server.url, autocommit=True) as su:
        for name in made.values():
            db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            su.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def member(login, migrated_url):
    """factory(group) -> autocommit connection as a LOGIN member of ``group``; closed afterwards."""
    opened = []

    def connect(group: str, url: str = migrated_url) -> psycopg.Connection:
        conn = psycopg.connect(login(group, url), autocommit=True)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


# -- 1. writing outside every table: large objects and temp tables ---------------------------
@roles
@pytest.mark.parametrize("call", ["lo_from_bytea(0, 'stolen rows')", "lo_create(0)", "lo_creat(-1)"])
def test_app_roles_cannot_create_large_objects(member, role, call):
    throws_ok(member(role), f"SELECT {call}", (), DENIED, "permission denied for function")


@roles
def test_app_roles_cannot_create_temp_tables(member, role):
    throws_ok(member(role), "CREATE TEMP TABLE scratch (id int)", (), DENIED, "temporary tables")


@roles
def test_temp_table_cannot_shadow_a_real_table(member, role):
    """Behind a transaction-mode pooler a temp table would outlive the client that made it and
    shadow public.attribution_events (pg_temp is searched first) for the next client."""
    conn = member(role)
    throws_ok(conn, "CREATE TEMP TABLE attribution_events (LIKE public.attribution_events INCLUDING DEFAULTS)", (), DENIED)
    throws_ok(conn, "CREATE TEMP VIEW attribution_events AS SELECT 1 AS id", (), DENIED)
    resolved = conn.execute("SELECT 'attribution_events'::regclass = 'public.attribution_events'::regclass").fetchone()
    assert resolved == (True,), "attribution_events resolves to something other than public.attribution_events"


def test_the_owner_keeps_temp_tables_and_large_objects(catalog):
    """The migrating role (here a superuser; a database owner keeps TEMP as owner) still works."""
    with catalog.transaction(force_rollback=True):
        lives_ok(catalog, "CREATE TEMP TABLE owner_scratch (LIKE public.attribution_events)")
        lives_ok(catalog, "SELECT lo_unlink(lo_from_bytea(0, 'owner'))")


@pytest.mark.parametrize("grantee", ["public", *APP_ROLES])
def test_catalog_grants_no_temp_and_no_large_object_functions(catalog, grantee):
    temp = catalog.execute("SELECT has_database_privilege(%s, current_database(), 'TEMPORARY')", [grantee]).fetchone()
    assert temp == (False,), f"{grantee} may create temp tables"
    executable = [
        fn for fn in LARGE_OBJECT_FUNCTIONS
        if catalog.execute("SELECT has_function_privilege(%s, %s::regprocedure, 'EXECUTE')", [grantee, fn]).fetchone()[0]
    ]  # fmt: skip
    assert executable == [], f"{grantee} may execute {executable}"


# -- 2. locks held by an idle transaction ------------------------------------------------------
def test_database_bounds_idle_transactions(catalog):
    setting = catalog.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
        "WHERE d.datname = current_database() AND s.setrole = 0"
    ).fetchone()
    assert setting and f"idle_in_transaction_session_timeout={IDLE_BOUND}s" in setting[0], setting


@pytest.mark.slow
def test_an_idle_access_exclusive_lock_is_ended_by_the_server(member, migrated_url):
    """app_rw takes ACCESS EXCLUSIVE on revenue_ledger and attribution_events and idles: the
    server ends that session within the bound, and a writer waiting behind it proceeds."""
    holder = member("app_rw")
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE revenue_ledger, attribution_events IN ACCESS EXCLUSIVE MODE")
    locked_at = time.monotonic()
    with psycopg.connect(migrated_url, autocommit=True) as writer:
        writer.execute("SET lock_timeout = '60s'")
        writer.execute("UPDATE revenue_ledger SET revenue_cents = revenue_cents WHERE false")
        waited = time.monotonic() - locked_at
    assert IDLE_BOUND - 1 <= waited <= IDLE_BOUND + 10, f"the writer waited {waited:.1f} s"
    with pytest.raises(psycopg.Error) as ended:
        holder.execute("SELECT 1")
    assert ended.value.sqlstate in ("25P03", None), ended.value  # idle-in-transaction timeout
    print(f"writer proceeded after {waited:.1f} s")


# -- 3. the migration lock cannot be taken by an application role -------------------------------
@pytest.mark.slow
def test_an_app_role_cannot_stall_migrate(make_database, login):
    """app_ro holds the old advisory key, tries the run lock table, and holds yoyo_lock open
    with a prepared INSERT (which would block a LOCK TABLE on any table it can name):
    rollback and migrate still proceed at once."""
    url = make_database("stall")
    run_cli("migrate", url=url)
    with psycopg.connect(login("app_ro", url), autocommit=True) as a, psycopg.connect(login("app_ro", url), autocommit=True) as b:
        assert a.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [OLD_ADVISORY_KEY]).fetchone() == (True,)
        for statement in (
            f"LOCK TABLE {LOCK_TABLE} IN EXCLUSIVE MODE", f"LOCK TABLE {LOCK_TABLE} IN ACCESS SHARE MODE",
            f"SELECT * FROM {LOCK_TABLE}", f"PREPARE p AS INSERT INTO {LOCK_TABLE} DEFAULT VALUES",
            "LOCK TABLE yoyo_lock IN EXCLUSIVE MODE",
        ):  # fmt: skip
            throws_ok(a, statement, (), DENIED)
        b.execute("SET idle_in_transaction_session_timeout = 0")  # an attacker would
        b.execute("BEGIN")
        b.execute("PREPARE held AS INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, now(), 1)")
        started = time.monotonic()
        run_cli("rollback", url=url)
        proc = run_cli("migrate", url=url)
        spent = time.monotonic() - started
        assert "applying" in proc.stdout
        assert spent < 30, f"rollback + migrate took {spent:.1f} s while app_ro held locks"
        b.execute("ROLLBACK")


# -- 4. killed runs and lost connections: one line with the next step ------------------------
KILL_BEFORE_BOOKKEEPING = """
import os, signal, sys
from yoyo import internalmigrations
from attribution_db.migrate import Migrator
# the moment after yoyo's lock row is taken and before yoyo's tables exist
internalmigrations.upgrade = lambda backend: os.kill(os.getpid(), signal.SIGKILL)
Migrator(sys.argv[1]).apply()
"""


def test_run_killed_before_yoyo_tables_exist(make_database):
    url = make_database("killed_early")
    proc = subprocess.run([sys.executable, "-c", KILL_BEFORE_BOOKKEEPING, url], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM yoyo_lock").fetchone() == (1,)
        assert conn.execute("SELECT to_regclass('_yoyo_migration')").fetchone() == (None,)
    for command in ("status", "migrate"):
        started = time.monotonic()
        result = run_cli(command, url=url, check=False)
        assert time.monotonic() - started < 8, f"{command} waited instead of answering"
        assert_one_line_error(result, "killed", "make break-lock")
    run_cli("break-lock", url=url)
    assert "none pending" in run_cli("migrate", url=url).stdout


MIGRATE_FROM = """
import sys
from pathlib import Path
from attribution_db import cli, migrate
migrate.sources = lambda: [sys.argv[1]]
migrate.relpath = lambda m: Path(m.path).name
sys.exit(cli.main(["migrate"]))
"""


def sleepy_migration(folder: Path, transactional: bool) -> str:
    mid = "0001_sleepy"
    head = "-- creates a table, then sleeps until it is cut off\n"
    if not transactional:
        head += "-- transactional: false\n"
    (folder / f"{mid}.sql").write_text(head + "CREATE TABLE sleepy (id int);\nSELECT pg_sleep(60);\n")
    (folder / f"{mid}.rollback.sql").write_text("-- drop it\nDROP TABLE sleepy;\n")
    return mid


def start_sleepy(url: str, folder: Path) -> tuple[subprocess.Popen, int]:
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-c", MIGRATE_FROM, str(folder)], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%'"
            ).fetchone()
            if row:
                return proc, row[0]
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the sleepy migration never started: " + proc.communicate()[1])


@pytest.mark.parametrize("transactional", [True, False], ids=["transactional", "non-transactional"])
def test_terminated_migration_backend_names_migration_and_next_step(make_database, tmp_path, transactional):
    url = make_database("terminated")
    mid = sleepy_migration(tmp_path, transactional)
    proc, pid = start_sleepy(url, tmp_path)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])
    out, err = proc.communicate(timeout=60)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if transactional:
        assert_one_line_error(result, f"{mid}.sql", "connection to the server was lost", "rolled it back", "run `make migrate` again")
    else:
        assert_one_line_error(result, f"{mid}.sql", "not transactional", "make status", f"make mark ID={mid}")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM yoyo_lock").fetchone() == (0,), "the run left its lock row"
        created = conn.execute("SELECT to_regclass('sleepy') IS NOT NULL").fetchone()[0]
    assert created is not transactional, "a transactional migration cut off must leave nothing"


@pytest.mark.slow
def test_server_stopped_mid_migration_names_migration_and_next_step(tmp_path):
    """pg_ctl stop -m immediate while a migration runs: on restart crash recovery has rolled
    it back; the lock row stays (the server was gone), so the next step is break-lock."""
    with throwaway_cluster("attribution-db-crash-") as cluster:
        url = cluster.url("postgres")
        mid = sleepy_migration(tmp_path, transactional=True)
        proc, _ = start_sleepy(url, tmp_path)
        cluster._run("pg_ctl", "stop", "--mode", "immediate", "--pgdata", str(cluster.datadir))
        out, err = proc.communicate(timeout=60)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        assert_one_line_error(result, f"{mid}.sql", "rolled it back", "make break-lock", "make migrate")
        cluster.start()
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT to_regclass('sleepy')").fetchone() == (None,)
            assert conn.execute("SELECT count(*) FROM yoyo_lock").fetchone() == (1,)


# -- 5. the role guard of 202511131118 -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("attribute", ["LOGIN", "SUPERUSER", "BYPASSRLS"])
def test_migration_refuses_a_preexisting_privileged_app_role(attribute, tmp_path):
    """Roles are cluster-wide: on a throwaway cluster, an app_rw made beforehand with LOGIN,
    SUPERUSER or BYPASSRLS makes the migration fail naming it."""
    with throwaway_cluster("attribution-db-roles-") as cluster:
        url = cluster.url("postgres")
        with psycopg.connect(url, autocommit=True) as su:
            su.execute(sql.SQL("CREATE ROLE app_rw {}").format(sql.SQL(attribute)))
        proc = run_cli("migrate", url=url, check=False)
        assert_one_line_error(proc, "202511131118_create_app_roles", "role app_rw exists but is LOGIN, SUPERUSER or BYPASSRLS")


def test_run_stops_when_its_lock_session_is_terminated(make_database, tmp_path):
    """Someone ends the session holding the run lock: the run stops before the next migration."""
    url = make_database("lock_lost")
    (tmp_path / "0001_slow.sql").write_text("-- takes a few seconds\nCREATE TABLE slow_one (id int);\nSELECT pg_sleep(4);\n")
    (tmp_path / "0001_slow.rollback.sql").write_text("-- drop it\nDROP TABLE slow_one;\n")
    (tmp_path / "0002_next.sql").write_text("-- must not run\nCREATE TABLE next_one (id int);\n")
    (tmp_path / "0002_next.rollback.sql").write_text("-- drop it\nDROP TABLE next_one;\n")
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-c", MIGRATE_FROM, str(tmp_path)], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            held = conn.execute(
                "SELECT a.pid, a.backend_xid, a.backend_xmin FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE l.relation = to_regclass(%s) AND l.mode = 'ExclusiveLock' AND l.granted", [LOCK_TABLE]
            ).fetchone()
            sleeping = conn.execute("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(4)%'").fetchone()
            if held and sleeping:
                break
            time.sleep(0.1)
        assert held and sleeping, "the run never got to its first migration"
        assert held[1:] == (None, None), "the lock session must hold no transaction id and no snapshot"
        conn.execute("SELECT pg_terminate_backend(%s)", [held[0]])
    out, err = proc.communicate(timeout=60)
    assert_one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), "was terminated", "make migrate")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('slow_one') IS NOT NULL, to_regclass('next_one') IS NULL").fetchone() == (True, True)
